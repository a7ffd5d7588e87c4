"""Graph drawing: DOT text with names and shapes, the terminal tree, and render with or
without Graphviz's dot."""
import shutil

import numpy as np
import pytest

from tinygrad_mnist.tools import graphviz
from tinygrad_mnist.tools.graphviz import render, to_dot, to_text
from tinygrad_mnist.nn import MLP
from tinygrad_mnist.tensor import Tensor


def mlp_loss(B=4):
    model = MLP([784, 30, 10], output="sigmoid", seed=0)
    X = np.random.default_rng(0).random((B, 784), dtype=np.float32)
    return model, model(Tensor(X)).quadratic_cost(np.arange(B) % 10)


def test_dot_names_parameters_and_labels_edges_with_forward_and_gradient_shapes():
    model, loss = mlp_loss()
    dot = to_dot(loss, model=model, title="784-30-10")
    assert dot.startswith("digraph backprop {") and dot.rstrip().endswith("}")
    assert 'label="W1 = layers.0.weight\\n(30,784)"' in dot
    assert 'label="b2 = layers.2.bias\\n(10,)"' in dot
    assert 'label="linear\\nz1 (4,30)"' in dot and 'label="quadratic_cost\\nL ()"' in dot
    assert 'label="(30,784)\\ngrad (30,784)"' in dot             # parameter edge
    assert 'label="(4,784)", style=dashed' in dot                 # the input needs no gradient
    assert "y (constant)" in dot
    loss.backward()                                               # drawing freed nothing


def test_dot_shows_the_sum_that_undoes_broadcasting():
    b = Tensor(np.zeros(3), requires_grad=True)
    loss = (Tensor(np.ones((5, 3))) + b).sum()
    assert "grad (5,3) summed to (3,)" in to_dot(loss, names={"b": b})


def test_text_tree():
    model, loss = mlp_loss()
    text = to_text(loss, model=model)
    assert text.splitlines()[0] == "L ()  = quadratic_cost"
    assert "│       │       ├── W1 = layers.0.weight (30,784)  [parameter]  <- grad (30,784)" in text
    assert text.splitlines()[-1] == "└── y (constant)"


def test_text_marks_a_shared_tensor_once_and_handles_long_chains():
    h = Tensor(np.ones(2), requires_grad=True) * 2.0
    assert "(shown above)" in to_text((h * h).sum())
    t = Tensor(np.ones(2), requires_grad=True)
    for _ in range(2000):
        t = t + 1.0
    assert len(to_text(t.sum()).splitlines()) > 2000


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get install graphviz)")
def test_render_with_dot(tmp_path):
    model, loss = mlp_loss()
    message = render(to_dot(loss, model=model), tmp_path / "net.svg")
    assert message == f"wrote {tmp_path / 'net.svg'}"
    assert "<svg" in (tmp_path / "net.svg").read_text()[:2000]


def test_render_without_dot_writes_dot_text_and_says_how(tmp_path, monkeypatch):
    monkeypatch.setattr(graphviz.shutil, "which", lambda name: None)
    model, loss = mlp_loss()
    message = render(to_dot(loss, model=model), tmp_path / "net.png")
    assert (tmp_path / "net.dot").read_text().startswith("digraph")
    assert not (tmp_path / "net.png").exists()
    assert "apt-get install graphviz" in message and f"dot -Tpng {tmp_path / 'net.dot'}" in message


def test_render_a_dot_path_just_writes_it(tmp_path):
    assert render("digraph { a -> b }\n", tmp_path / "g.dot") == f"wrote {tmp_path / 'g.dot'}"
