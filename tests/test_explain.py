"""The shape ledger: the formulas and shapes it prints for the 784-30-10 network, the sums that
undo broadcasting, names, the column form, check=True against manual, and that it leaves the
graph usable for backward."""
import inspect

import numpy as np
import pytest

from tinygrad_mnist import ops
from tinygrad_mnist.explain import Term, explain
from tinygrad_mnist.tools.names import traced_walk
from tinygrad_mnist.nn import MLP
from tinygrad_mnist.tensor import Tensor


def mlp_loss(B=64, loss="quadratic", sizes=(784, 30, 10), dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    model = MLP(list(sizes), output="sigmoid" if loss == "quadratic" else None, seed=seed, dtype=dtype)
    X = rng.random((B, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], B)
    out = model(Tensor(X))
    return model, X, y, (out.quadratic_cost(y) if loss == "quadratic" else out.softmax_cross_entropy(y))


def lines(ledger):
    return [line.strip() for line in ledger.render().splitlines()]


def test_the_784_30_10_ledger_shows_every_vjp_with_its_shapes():
    model, X, y, loss = mlp_loss()
    ledger = explain(loss, model=model)
    text = ledger.render()
    for expected in ["dL/dW2 (10,30) = dL/dz2.T (10,B) @ a1 (B,30)",
                     "dL/db2 (10,) = dL/dz2 (B,10) summed over axis 0 [undoes broadcasting, B=64]",
                     "dL/dz1 (B,30) = dL/da1 (B,30) * s'(z1) (B,30)",
                     "dL/da1 (B,30) = dL/dz2 (B,10) @ W2 (10,30)",
                     "dL/dW1 (30,784) = dL/dz1.T (30,B) @ x (B,784)",
                     "dL/da2 (B,10) = (a2 - y) (B,10) / B",
                     "W1 = layers.0.weight (30,784)"]:
        assert expected in text, f"{expected!r} not in\n{text}"
    assert [r.op for r in ledger.rows] == ["quadratic_cost", "sigmoid", "linear", "sigmoid", "linear"]
    assert ledger.rows[2].text == "z2 (B,10) = linear(a1, W2, b2)" and ledger.rows[2].grad == "dL/dz2 (B,10)"
    assert ledger.batch == 64 and str(ledger) == text


def test_explain_keeps_the_graph_and_its_gradients_equal_backwards():
    model, X, y, loss = mlp_loss(B=5)
    ledger = explain(loss, model=model)
    assert all(p.grad is None for p in model.parameters())
    loss.backward()   # still possible: explain freed nothing
    for name, p in zip(["W1", "b1", "W2", "b2"], model.parameters()):
        np.testing.assert_array_equal(ledger.grads[name], p.grad)


def test_after_backward_explain_says_to_call_it_first():
    model, X, y, loss = mlp_loss(B=2)
    loss.backward()
    with pytest.raises(RuntimeError, match="before calling loss.backward"):
        explain(loss)


def test_engine_unbroadcast_is_written_out_for_a_composite_layer():
    rng = np.random.default_rng(0)
    W = Tensor(rng.standard_normal((5, 4)), requires_grad=True)
    b = Tensor(rng.standard_normal(5), requires_grad=True)
    y = rng.standard_normal((3, 5))
    loss = (Tensor(rng.standard_normal((3, 4))) @ W.T + b).sigmoid().quadratic_cost(y)
    ledger = explain(loss, names={"W1": W, "b1": b})
    text = ledger.render()
    assert "dL/db1 (5,) = dL/dz1 (B,5) summed over axis 0 [undoes broadcasting, B=3]" in text
    assert "z1 (B,5) = add(t2, b1)" in text and "dL/dW1 (5,4) = dL/dt1 (4,5) with its axes permuted" in text
    step = next(s for r in ledger.rows for s in r.steps if s.input == "b1")
    assert step.summed_axes == (0,) and step.is_parameter


def test_a_tensor_used_twice_accumulates():
    a = Tensor(np.arange(1.0, 4.0), requires_grad=True, name="h")
    ledger = explain((a * a).sum())
    steps = ledger.rows[-1].steps
    assert [s.accumulates for s in steps] == [False, True] and steps[1].text.startswith("dL/dh (3,) +=")


def test_user_ops_get_a_generic_line_or_their_own_template():
    def softplus(x):
        return np.logaddexp(0.0, x), (lambda g: g / (1.0 + np.exp(-x)),)
    t = Tensor(np.ones((2, 3)), requires_grad=True, name="w")
    loss = Tensor.apply(softplus, t).sum()
    assert "dL/dw (2,3) = VJP of softplus applied to dL/dt1 (2,3)" in explain(loss).render()
    softplus.formulas = ("{g} * sigmoid({x.name}) {x.shape}",)
    assert "dL/dw (2,3) = dL/dt1 (2,3) * sigmoid(w) (2,3)" in explain(loss, ops=[softplus]).render()
    softplus.formulas = ("{g} * {nope}",)
    with pytest.raises(ValueError, match="unknown field"):
        explain(loss, ops=[softplus])


def test_names_by_module_and_by_mapping():
    model, X, y, loss = mlp_loss(B=2, loss="cross-entropy")
    text = explain(loss, model=model, style="module").render()
    assert "dL/dlayers.2.weight (10,30) = dL/dz2.T (10,B) @ a1 (B,30)" in text
    text = explain(loss, names=dict(model.named_parameters())).render()
    assert "dL/dlayers.0.bias (30,)" in text
    assert "dL/dz2 (B,10) = (softmax(z2) - y) (B,10) / B" in text


@pytest.mark.parametrize("loss_name", ["quadratic", "cross-entropy"])
def test_check_agrees_with_manual_on_every_parameter(loss_name):
    model, X, y, loss = mlp_loss(B=8, loss=loss_name)
    ledger = explain(loss, model=model, check=True, y=y)   # x is read from the graph
    checked = [s for r in ledger.rows for s in r.steps if s.max_abs_diff is not None]
    assert [s.input for s in checked] == ["W2", "b2", "W1", "b1"]
    assert ledger.all_agree and all(s.max_abs_diff < 1e-6 for s in checked)


def test_check_reports_a_disagreement(monkeypatch):
    from tinygrad_mnist import manual
    real = manual.backprop
    monkeypatch.setattr(manual, "backprop", lambda *a: (lambda w, b: ([g * 1.01 for g in w], b))(*real(*a)))
    model, X, y, loss = mlp_loss(B=3, loss="quadratic")
    ledger = explain(loss, model=model, check=True, x=X, y=y)
    assert not ledger.all_agree and "DIFFERS" in ledger.render()


def test_check_needs_a_sigmoid_mlp_and_the_targets():
    model, X, y, loss = mlp_loss(B=2)
    with pytest.raises(ValueError, match="pass y="):
        explain(loss, model=model, check=True)
    other = MLP([784, 30, 10], output="sigmoid", seed=1)
    with pytest.raises(ValueError, match="does not depend on the model's parameters"):
        explain(loss, model=other, check=True, y=y)
    relu = MLP([4, 3, 2], activation="relu", output="sigmoid", seed=0)
    loss = relu(Tensor(np.ones((2, 4), np.float32))).quadratic_cost(np.array([0, 1]))
    with pytest.raises(ValueError, match="sigmoid hidden activations"):
        explain(loss, model=relu, check=True, y=np.array([0, 1]))


def test_column_form_is_the_textbooks_with_30x784_and_10x30_weight_gradients():
    model, X, y, loss = mlp_loss(B=1)
    ledger = explain(loss, model=model, columns=True, check=True, y=y)
    text = ledger.render()
    for expected in ["BP1  delta^L = (a^L - y) * s'(z^L)", "BP4  dC/dW^l = delta^l (a^(l-1))^T",
                     "delta^2 (10,B) = dC/da^2 (10,B) * s'(z^2) (10,B)",
                     "dC/dW^2 (10,30) = delta^2 (10,B) (a^1)^T (B,30)",
                     "dC/dW^1 (30,784) = delta^1 (30,B) x^T (B,784)",
                     "dC/da^1 (30,B) = (W^2)^T (30,10) delta^2 (10,B)",
                     "dC/db^1 (30,1) = delta^1 (30,B) summed over columns (axis 1) [undoes broadcasting, B=1]"]:
        assert expected in text, f"{expected!r} not in\n{text}"
    tags = {s.gradient: s.tag for r in ledger.rows for s in r.steps}
    assert tags["delta^2"] == "BP1" and tags["dC/dW^1"] == "BP4" and tags["dC/db^2"] == "BP3"
    assert ledger.all_agree


def test_column_form_falls_back_to_rows_for_ops_without_a_column_template():
    W = Tensor(np.ones((3, 2)), requires_grad=True)
    loss = (Tensor(np.ones((4, 2))) @ W.T).sigmoid().quadratic_cost(np.zeros((4, 3)))
    text = explain(loss, names={"W1": W}, columns=True).render()
    assert "[row form: this op has no column template]" in text


def test_long_chains_are_walked_without_recursion():
    t = x = Tensor(np.ones(3), requires_grad=True, name="x0")
    for _ in range(3000):
        t = t * 1.0
    visits, leaf_grads, _ = traced_walk(t.sum())
    assert len(visits) == 3001 and np.array_equal(leaf_grads[x], np.ones(3))


def test_every_op_declares_formulas_that_render():
    """Like the gradient-test coverage rule: a new op cannot skip its ledger line."""
    op_functions = list(ops.PRIMITIVES)
    assert len(op_functions) >= 20
    for fn in op_functions:
        params = [p.name for p in inspect.signature(fn).parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
        assert hasattr(fn, "formulas"), f"ops.{fn.__name__} declares no formulas"
        assert isinstance(fn.formulas, tuple) and 1 <= len(fn.formulas) <= len(params), fn.__name__
        terms = {p: Term(p, (2, 3)) for p in params}
        for template in fn.formulas + tuple(getattr(fn, "column_formulas", None) or ()):
            template.format(*terms.values(), g=Term("g", (2, 3)), y=Term("y", (2, 3)), **terms)


def test_mse_is_checked_against_manual_and_the_ledger_says_what_n_is():
    model = MLP([784, 30, 10], output="sigmoid", seed=0, dtype=np.float64)
    X = np.random.default_rng(0).random((6, 784))
    y = np.array([3, 1, 4, 1, 5, 9])
    ledger = explain(model(Tensor(X)).mse(y), model=model, check=True, y=y)
    text = ledger.render()
    assert "N = B x 10 = 60: every element of a2 (B,10); mse averages over all of them" in text
    assert "dL/da2 (B,10) = 2 (a2 - y) (B,10) / N" in text
    assert ledger.all_agree and all(s.max_abs_diff < 1e-12 for r in ledger.rows for s in r.steps
                                    if s.max_abs_diff is not None)
    assert "N = 10 x B = 60: every element of a^2 (10,B)" in explain(model(Tensor(X)).mse(y), model=model,
                                                                    columns=True).render()


def test_check_says_plainly_when_manual_has_no_formula():
    model = MLP([4, 3, 2], output="sigmoid", seed=0)
    out = model(Tensor(np.full((2, 4), 0.5, np.float32)))
    with pytest.raises(ValueError, match="no hand-derived formula for binary_cross_entropy, so there is nothing "
                                         "to check against .it has them for softmax_cross_entropy, quadratic_cost, mse"):
        explain(out.binary_cross_entropy(np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)), model=model, check=True,
                y=np.array([[0.0, 1.0], [1.0, 0.0]]))
    tanh = MLP([4, 3, 2], activation="tanh", output="sigmoid", seed=0)
    with pytest.raises(ValueError, match="manual has no formula for Tanh layers, so there is nothing to check"):
        explain(tanh(Tensor(np.ones((2, 4), np.float32))).quadratic_cost(np.array([0, 1])), model=tanh, check=True,
                y=np.array([0, 1]))
