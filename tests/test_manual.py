"""Tests of the hand-derived reference `manual` on its own (NumPy only), then the headline
property: the engine's gradients equal manual.backprop's for the same weights and data.

Gradients are compared in float64 to rtol 1e-10: the forms differ only in summation order.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies import batch_sizes, costs, logits_and_labels, mlp_sizes, seeds
from tinygrad_mnist import manual

RTOL, ATOL = 1e-10, 1e-12
TARGET_KINDS = ("labels", "one_hot", "probabilities")


def make_problem(sizes, B, seed, targets="labels", dtype=np.float64):
    """Weights N(0, 1/n_in) (so sigmoids stay out of saturation and gradients are not ~0),
    biases N(0, 1), inputs X (B, n_0) in [0, 1) like pixels, and targets of the given kind."""
    rng = np.random.default_rng(seed)
    weights, biases = manual.init_params(sizes, rng, dtype)
    weights = [W / np.sqrt(W.shape[1]).astype(dtype) for W in weights]
    X = rng.random((B, sizes[0]), dtype=dtype)
    labels = rng.integers(0, sizes[-1], size=B)
    y = {"labels": labels,
         "one_hot": manual.one_hot(labels, sizes[-1], dtype),
         "probabilities": manual.softmax(rng.standard_normal((B, sizes[-1])), axis=1)}[targets]
    return weights, biases, X, y


def assert_grads_equal(actual, expected, what, rtol=RTOL, atol=ATOL):
    assert len(actual) == len(expected), f"{what}: {len(actual)} layers, expected {len(expected)}"
    for l, (a, e) in enumerate(zip(actual, expected)):
        assert np.shape(a) == np.shape(e), f"{what}[{l}]: shape {np.shape(a)} != {np.shape(e)}"
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=f"{what}[{l}]")


# --- the reference alone -----------------------------------------------------------------------

@given(mlp_sizes(), batch_sizes(), costs(), seeds(), st.sampled_from(TARGET_KINDS))
def test_all_conventions_give_the_same_gradients(sizes, B, cost, seed, targets):
    weights, biases, X, y = make_problem(sizes, B, seed, targets)
    nabla_w, nabla_b = manual.backprop(weights, biases, X, y, cost)
    assert [g.shape for g in nabla_w] == [W.shape for W in weights]
    assert [g.shape for g in nabla_b] == [b.shape for b in biases]

    Y_columns = y if y.ndim == 1 else y.T
    for name, (gw, gb) in {
        "loop": manual.backprop_loop(weights, biases, X, y, cost),
        "columns": manual.backprop_columns(weights, biases, X.T, Y_columns, cost),
    }.items():
        assert all(g.shape == (n, 1) for g, n in zip(gb, sizes[1:])), name
        assert_grads_equal(gw, nabla_w, f"{name} nabla_w")
        assert_grads_equal([g[:, 0] for g in gb], nabla_b, f"{name} nabla_b")

    gw_rows, gb_rows = manual.backprop_rows([W.T for W in weights], biases, X, y, cost)
    assert_grads_equal([g.T for g in gw_rows], nabla_w, "rows nabla_w (transposed)")
    assert_grads_equal(gb_rows, nabla_b, "rows nabla_b")


@given(mlp_sizes(), batch_sizes(), costs(), seeds(), st.sampled_from(TARGET_KINDS))
def test_batch_gradient_is_the_mean_of_per_sample_gradients(sizes, B, cost, seed, targets):
    weights, biases, X, y = make_problem(sizes, B, seed, targets)
    per_sample = [manual.backprop(weights, biases, X[i:i + 1], y[i:i + 1], cost) for i in range(B)]
    nabla_w, nabla_b = manual.backprop(weights, biases, X, y, cost)
    assert_grads_equal(nabla_w, [np.mean(gs, axis=0) for gs in zip(*(g[0] for g in per_sample))],
                       "nabla_w")
    assert_grads_equal(nabla_b, [np.mean(gs, axis=0) for gs in zip(*(g[1] for g in per_sample))],
                       "nabla_b")


@given(mlp_sizes(1, 3, max_units=5), batch_sizes(1, 4), costs(), seeds(),
       st.sampled_from(TARGET_KINDS))
def test_backprop_matches_central_finite_differences_of_loss(sizes, B, cost, seed, targets):
    assert_finite_differences(sizes, B, cost, seed, targets)


@given(mlp_sizes(1, 3, max_units=5), batch_sizes(1, 4), seeds(), st.sampled_from(TARGET_KINDS))
def test_mse_backprop_matches_central_finite_differences_of_loss(sizes, B, seed, targets):
    """mse (PyTorch's mean over every element) is manual's third cost; the strategies' costs()
    draws the textbook's two, so it gets its own property."""
    assert_finite_differences(sizes, B, "mse", seed, targets)


@pytest.mark.parametrize("targets", TARGET_KINDS)
def test_mse_gives_the_same_gradients_in_every_convention(targets):
    weights, biases, X, y = make_problem([5, 4, 3], 6, seed=1, targets=targets)
    nabla_w, nabla_b = manual.backprop(weights, biases, X, y, "mse")
    Y_columns = y if y.ndim == 1 else y.T
    for name, (gw, gb) in {"loop": manual.backprop_loop(weights, biases, X, y, "mse"),
                           "columns": manual.backprop_columns(weights, biases, X.T, Y_columns, "mse")}.items():
        assert_grads_equal(gw, nabla_w, f"{name} nabla_w")
        assert_grads_equal([g[:, 0] for g in gb], nabla_b, f"{name} nabla_b")
    gw, gb = manual.backprop_rows([W.T for W in weights], biases, X, y, "mse")
    assert_grads_equal([g.T for g in gw], nabla_w, "rows nabla_w")
    quadratic_w, _ = manual.backprop(weights, biases, X, y, "quadratic")
    assert_grads_equal(nabla_w, [g * 2 / 3 for g in quadratic_w], "mse = 2/n_L x quadratic")
    with pytest.raises(ValueError, match="pass n_out"):
        manual.output_delta(np.ones((2, 3)), np.zeros((2, 3)), "mse")


def assert_finite_differences(sizes, B, cost, seed, targets):
    weights, biases, X, y = make_problem(sizes, B, seed, targets)
    nabla_w, nabla_b = manual.backprop(weights, biases, X, y, cost)
    eps = 1e-6
    for name, params, grads in (("nabla_w", weights, nabla_w), ("nabla_b", biases, nabla_b)):
        for l, (p, g) in enumerate(zip(params, grads)):
            numeric = np.empty_like(p)
            for i in np.ndindex(p.shape):
                saved = p[i]
                p[i] = saved + eps
                up = manual.loss(weights, biases, X, y, cost)
                p[i] = saved - eps
                down = manual.loss(weights, biases, X, y, cost)
                p[i] = saved
                numeric[i] = (up - down) / (2 * eps)
            np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-9, err_msg=f"{name}[{l}]")


@pytest.mark.parametrize("cost", manual.COSTS)
def test_mnist_784_30_10_shapes(cost):
    weights, biases, X, y = make_problem([784, 30, 10], 10, seed=0)
    nabla_w, nabla_b = manual.backprop(weights, biases, X, y, cost)
    assert [g.shape for g in nabla_w] == [(30, 784), (10, 30)]
    assert [g.shape for g in nabla_b] == [(30,), (10,)]
    gw, gb = manual.backprop_columns(weights, biases, X.T, y, cost)
    assert [g.shape for g in gw] == [(30, 784), (10, 30)]
    assert [g.shape for g in gb] == [(30, 1), (10, 1)]
    gw, gb = manual.backprop_sample(weights, biases, X[0], y[0], cost)
    assert [g.shape for g in gw] == [(30, 784), (10, 30)]
    assert [g.shape for g in gb] == [(30, 1), (10, 1)]
    gw, gb = manual.backprop_rows([W.T for W in weights], biases, X, y, cost)
    assert [g.shape for g in gw] == [(784, 30), (30, 10)]
    assert [g.shape for g in gb] == [(30,), (10,)]
    zs, activations = manual.forward(weights, biases, X, cost)
    assert [z.shape for z in zs] == [(10, 30), (10, 10)]
    assert [a.shape for a in activations] == [(10, 784), (10, 30), (10, 10)]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_saturates_exactly_without_warnings(dtype):
    z = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dtype)
    s = manual.sigmoid(z)
    assert s.dtype == dtype
    assert s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5
    np.testing.assert_allclose(s[1] + s[3], 1.0)
    sp = manual.sigmoid_prime(z)
    assert sp.dtype == dtype and sp[0] == 0.0 and sp[-1] == 0.0 and sp[2] == 0.25


@pytest.mark.filterwarnings("error")
@given(logits_and_labels())
def test_softmax_is_shift_invariant_and_normalised(logits_labels):
    logits, _ = logits_labels
    p = manual.softmax(logits, axis=1)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(manual.softmax(logits + 1000.0, axis=1), p, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(manual.softmax(logits.T, axis=0), p.T, rtol=1e-12)


@given(logits_and_labels())
def test_cross_entropy_loss_is_the_mean_negative_log_softmax(logits_labels):
    logits, labels = logits_labels
    B, C = logits.shape
    weights, biases = [np.eye(C)], [np.zeros(C)]  # one layer: z^L = logits
    expected = -np.mean(np.log(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True))
                        [np.arange(B), labels])
    assert manual.loss(weights, biases, logits, labels, "cross_entropy") == pytest.approx(expected)
    onehot = manual.one_hot(labels, C)
    assert manual.loss(weights, biases, logits, onehot, "cross_entropy") == pytest.approx(expected)
    a = manual.sigmoid(logits)
    quadratic = 0.5 * np.sum((a - onehot) ** 2) / B
    assert manual.loss(weights, biases, logits, labels, "quadratic") == pytest.approx(quadratic)


@pytest.mark.filterwarnings("error")
def test_cross_entropy_is_stable_for_huge_logits():
    weights, biases = [np.array([[2000.0, 0.0], [0.0, -2000.0]])], [np.zeros(2)]
    X, y = np.array([[1.0, 1.0], [-1.0, -1.0]]), np.array([1, 0])
    assert manual.loss(weights, biases, X, y, "cross_entropy") == pytest.approx(4000.0)
    (gw,), (gb,) = manual.backprop(weights, biases, X, y, "cross_entropy")
    assert np.all(np.isfinite(gw)) and np.all(np.isfinite(gb))


@pytest.mark.parametrize("cost", manual.COSTS)
@pytest.mark.parametrize("targets", TARGET_KINDS)
def test_float32_stays_float32(cost, targets):
    weights, biases, X, y = make_problem([12, 7, 5], 6, seed=1, targets=targets,
                                         dtype=np.float32)
    zs, activations = manual.forward(weights, biases, X, cost)
    assert all(a.dtype == np.float32 for a in zs + activations)
    nabla_w, nabla_b = manual.backprop(weights, biases, X, y, cost)  # float64 y is cast down
    assert all(g.dtype == np.float32 for g in nabla_w + nabla_b)
    reference = manual.backprop([W.astype(np.float64) for W in weights],
                                [b.astype(np.float64) for b in biases], X.astype(np.float64),
                                y, cost)
    assert_grads_equal(nabla_w, reference[0], "float32 nabla_w", rtol=1e-4, atol=1e-6)
    assert isinstance(manual.loss(weights, biases, X, y, cost), float)


def test_backprop_sample_accepts_every_sample_and_target_form():
    weights, biases, X, y = make_problem([6, 4, 3], 1, seed=2)
    label = int(y[0])
    expected = manual.backprop(weights, biases, X, y, "quadratic")
    onehot = manual.one_hot(y, 3)[0]
    for x in (X[0], X[0][:, None]):
        for target in (label, np.int64(label), onehot, onehot[:, None]):
            gw, gb = manual.backprop_sample(weights, biases, x, target, "quadratic")
            assert_grads_equal(gw, expected[0], "nabla_w")
            assert_grads_equal([g[:, 0] for g in gb], expected[1], "nabla_b")
    column_biases = [b[:, None] for b in biases]
    gw, _ = manual.backprop_sample(weights, column_biases, X[0], label, "quadratic")
    assert_grads_equal(gw, expected[0], "nabla_w with (n, 1) biases")


def test_feedforward_columns_is_forward_transposed():
    weights, biases, X, _ = make_problem([5, 4, 3], 7, seed=3)
    for cost in manual.COSTS:
        out = manual.feedforward_columns(weights, biases, X.T, cost)
        np.testing.assert_allclose(out, manual.forward(weights, biases, X, cost)[1][-1].T)
        zs, activations = manual.forward_columns(weights, biases, X.T, cost)
        np.testing.assert_array_equal(activations[0], X.T)
        assert len(zs) == 2 and len(activations) == 3
    assert manual.feedforward_columns(weights, biases, X[0]).shape == (3, 1)


def test_one_hot_and_init_params():
    np.testing.assert_array_equal(manual.one_hot(np.array([2, 0]), 3),
                                  [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    assert manual.one_hot(np.array([1]), 2, np.float32).dtype == np.float32
    weights, biases = manual.init_params([784, 30, 10], 0)
    assert [W.shape for W in weights] == [(30, 784), (10, 30)]
    assert [b.shape for b in biases] == [(30,), (10,)]
    again, _ = manual.init_params([784, 30, 10], np.random.default_rng(0))
    np.testing.assert_array_equal(weights[0], again[0])
    assert abs(weights[0].std() - 1.0) < 0.05  # N(0, 1), as in Nielsen's network.py
    weights32, biases32 = manual.init_params([3, 2], 0, np.float32)
    assert weights32[0].dtype == biases32[0].dtype == np.float32


def test_sgd_step_updates_the_arrays_in_place():
    weights, biases, X, y = make_problem([4, 3, 2], 5, seed=4)
    before = [p.copy() for p in weights + biases]
    ids = [id(p) for p in weights + biases]
    nabla_w, nabla_b = manual.backprop(weights, biases, X, y, "cross_entropy")
    assert manual.sgd_step(weights, biases, nabla_w, nabla_b, lr=0.5) is None
    assert [id(p) for p in weights + biases] == ids
    for p, p0, g in zip(weights + biases, before, nabla_w + nabla_b):
        np.testing.assert_allclose(p, p0 - 0.5 * g)
    with pytest.raises(ValueError, match=r"nabla_w\[1\] has shape \(3, 2\); expected \(2, 3\)"):
        manual.sgd_step(weights, biases, [nabla_w[0], nabla_w[1].T], nabla_b, lr=0.1)


def _bad_calls():
    """(id, call, regex the ValueError must match): each names the argument that is wrong."""
    weights, biases, X, y = make_problem([4, 3, 2], 5, seed=5)
    rows = [W.T for W in weights]
    return [
        ("X width", lambda: manual.backprop(weights, biases, X[:, :3], y), r"X has shape \(5, 3\)"),
        ("X 1-D", lambda: manual.forward(weights, biases, X[0]), r"X has shape \(4,\)"),
        ("y rows", lambda: manual.backprop(weights, biases, X, y[:4]), r"y has shape \(4,\)"),
        ("y width", lambda: manual.loss(weights, biases, X, np.ones((5, 3))),
         r"y has shape \(5, 3\).*expected targets \(5, 2\)"),
        ("y label range", lambda: manual.backprop(weights, biases, X, y + 2),
         r"y holds labels .*expected labels in \[0, 2\)"),
        ("weights chain", lambda: manual.backprop([weights[0], weights[1][:, :2]], biases, X, y),
         r"weights\[1\] has shape \(2, 2\); expected \(2, 3\)"),
        ("weights 1-D", lambda: manual.backprop([weights[0][0], weights[1]], biases, X, y),
         r"weights\[0\] has shape \(4,\)"),
        ("biases", lambda: manual.backprop(weights, [biases[0][:2], biases[1]], X, y),
         r"biases\[0\] has shape \(2,\); expected \(3,\)"),
        ("column bias in batch form", lambda: manual.backprop(
            weights, [b[:, None] for b in biases], X, y), r"biases\[0\] has shape \(3, 1\)"),
        ("lengths", lambda: manual.backprop(weights, biases[:1], X, y), r"2 weights and 1 biases"),
        ("cost", lambda: manual.backprop(weights, biases, X, y, "hinge"), r"cost must be .*hinge"),
        ("columns X", lambda: manual.backprop_columns(weights, biases, X, y),
         r"X has shape \(5, 4\); expected columns \(4, B\)"),
        ("columns Y", lambda: manual.backprop_columns(weights, biases, X.T, np.ones((5, 2))),
         r"Y has shape \(5, 2\).*expected targets \(2, 5\)"),
        ("sample x", lambda: manual.backprop_sample(weights, biases, X[:2].T, y[0]),
         r"x has shape \(4, 2\)"),
        ("sample y", lambda: manual.backprop_sample(weights, biases, X[0], np.ones(3)),
         r"y has shape"),
        ("loop X_rows", lambda: manual.backprop_loop(weights, biases, X.T, y), r"X_rows has shape"),
        ("loop Y", lambda: manual.backprop_loop(weights, biases, X, y[:2]), r"Y has shape \(2,\)"),
        ("rows weights", lambda: manual.backprop_rows(weights, biases, X, y),
         r"biases\[0\] has shape \(3,\); expected \(4,\) .*weights\[0\] .*\(n_in, n_out\)"),
        ("rows X", lambda: manual.backprop_rows(rows, biases, X.T, y), r"X has shape \(4, 5\)"),
        ("one_hot labels", lambda: manual.one_hot(np.array([0.5]), 2), r"labels must be"),
    ]


@pytest.mark.parametrize("call, message", [c[1:] for c in _bad_calls()],
                         ids=[c[0] for c in _bad_calls()])
def test_bad_shapes_raise_value_errors_naming_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- the engine against the reference ----------------------------------------------------------

def engine_gradients(weights, biases, X, y, cost):
    """Build the MLP from Tensor ops (no nn module), backprop its mean cost, return
    (nabla_w, nabla_b, loss value) as NumPy arrays. Imported here so that the tests of the
    reference above run even while the engine does not import."""
    from tinygrad_mnist import Tensor

    Ws = [Tensor(W.copy(), requires_grad=True) for W in weights]
    bs = [Tensor(b.copy(), requires_grad=True) for b in biases]
    a = Tensor(X)
    for l, (W, b) in enumerate(zip(Ws, bs)):
        z = a @ W.T + b
        a = z if cost == "cross_entropy" and l == len(Ws) - 1 else z.sigmoid()
    cost_value = {"quadratic": a.quadratic_cost, "mse": a.mse}.get(cost, a.softmax_cross_entropy)(y)
    cost_value.backward()
    return [W.grad for W in Ws], [b.grad for b in bs], float(cost_value.data)


def assert_engine_matches_manual(weights, biases, X, y, cost):
    nabla_w, nabla_b = manual.backprop(weights, biases, X, y, cost)
    engine_w, engine_b, engine_loss = engine_gradients(weights, biases, X, y, cost)
    assert all(isinstance(g, np.ndarray) for g in engine_w + engine_b), "grads must be ndarrays"
    assert_grads_equal(engine_w, nabla_w, f"engine vs manual nabla_w ({cost})")
    assert_grads_equal(engine_b, nabla_b, f"engine vs manual nabla_b ({cost})")
    assert engine_loss == pytest.approx(manual.loss(weights, biases, X, y, cost), rel=1e-12)


@given(mlp_sizes(), batch_sizes(), costs(), seeds(), st.sampled_from(TARGET_KINDS))
def test_engine_gradients_equal_manual_backprop(sizes, B, cost, seed, targets):
    assert_engine_matches_manual(*make_problem(sizes, B, seed, targets), cost)


@pytest.mark.parametrize("cost", manual.COSTS)
@pytest.mark.parametrize("targets", ["labels", "one_hot"])
@pytest.mark.parametrize("init", ["scaled", "nielsen"])
def test_engine_gradients_equal_manual_backprop_784_30_10(cost, targets, init):
    weights, biases, X, y = make_problem([784, 30, 10], 10, seed=784, targets=targets)
    if init == "nielsen":  # N(0, 1) weights: the hidden layer is partly saturated
        weights, biases = manual.init_params([784, 30, 10], 784)
    assert_engine_matches_manual(weights, biases, X, y, cost)
