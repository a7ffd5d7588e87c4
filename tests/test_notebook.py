"""Notebooks: docs/notebooks/backprop_784_30_10.ipynb runs top to bottom in a real Jupyter
kernel (nbclient + ipykernel, the dev extra), with a timeout, and shows the rich views; and
the rich views themselves: Tensor's HTML, a graph's SVG (text where Graphviz is missing), the
ledger's HTML table."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tinygrad_mnist import Tensor
from tinygrad_mnist.explain import explain
from tinygrad_mnist.nn import MLP
from tinygrad_mnist.tools import graphviz

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "notebooks" / "backprop_784_30_10.ipynb"


@pytest.fixture
def loss():
    net = MLP([784, 30, 10], output="sigmoid", seed=0, dtype=np.float64)
    x = np.random.default_rng(0).random((2, 784))
    return net, net(Tensor(x)).quadratic_cost(np.array([3, 5]))


def test_tensor_html_says_what_it_is(loss):
    net, L = loss
    html = L._repr_html_()
    assert html.startswith("<div><b>Tensor</b> () float64 &middot; made by <code>quadratic_cost</code>")
    L.backward()
    w = net.layers[0].weight._repr_html_()
    assert "(30,784) float32" not in w and "(30,784) float64" in w and "parameter (requires grad)" in w
    assert "grad (30,784), |grad| max" in w and "..." in w  # abridged values


def test_graph_is_svg_with_graphviz_and_text_without(loss, monkeypatch):
    net, L = loss
    g = graphviz.graph(L, model=net)
    assert repr(g) == graphviz.to_text(L, model=net) and g.dot == graphviz.to_dot(L, model=net)
    if shutil.which("dot"):
        svg = g._repr_svg_()
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "quadratic_cost" in svg
    monkeypatch.setattr(graphviz.shutil, "which", lambda name: None)
    assert g._repr_svg_() is None  # Jupyter then shows the text


def test_ledger_html_table(loss):
    net, L = loss
    ledger = explain(L, model=net, check=True, y=np.array([3, 5]))
    html = ledger._repr_html_()
    assert html.count("<tr") == sum(1 + len(r.steps) for r in ledger.rows)
    assert "dL/dW2 (10,30) = dL/dz2.T (10,B) @ a1 (B,30)" in html
    assert html.count('color:#1a7f37">manual: max|diff|') == 4  # four parameters, all agree


def test_the_notebook_runs(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="needs the dev extra (nbformat, nbclient, ipykernel)")
    nbclient = pytest.importorskip("nbclient", reason="needs the dev extra (nbformat, nbclient, ipykernel)")
    pytest.importorskip("ipykernel", reason="needs the dev extra (nbformat, nbclient, ipykernel)")
    # the kernel is a new process: it must import this checkout, installed or not
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "cache"))  # the bundled sample
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, naming the cell, at the first error
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    html = " ".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "<b>Tensor</b> () float64 &middot; made by <code>quadratic_cost</code>" in html  # the loss
    assert "BP4" in html and "DIFFERS" not in html                                          # the ledger
    assert "<progress" in html                                                              # fit's bar
    text = " ".join(o.get("text", "") for o in outputs)
    assert "the network reads a 7" in text
