"""Each op's value and gradient against its closed form in float64, to rtol 1e-10.

Finite differences (test_ops.py) agree with the engine only to ~1e-6, so an offset like
``g / (x + 1e-7)``, a clip at 30, a dropped ``sum_j y_j`` or a wrong clip constant slips
through them. The inputs here are where such slips show: log near its pole, sigmoid's tail,
relu at exactly 0, softmax along a non-last axis, soft targets whose rows do not sum to 1,
binary cross-entropy at and inside its clip.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import float_arrays, log_spaced_arrays, logits_and_soft_targets, shapes

from tinygrad_mnist import Tensor, gradcheck, ops

RTOL = 1e-10


def run(fn, *arrays, g=None):
    """(fn's value, [dL/d(array) for each float array]) with dL/d(out) = g (random if None)."""
    inputs = [Tensor(a, requires_grad=True) if a.dtype.kind == "f" else a for a in arrays]
    out = fn(*inputs)
    if g is None:
        g = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(np.asarray(g, dtype=out.dtype))
    return out.data, [t.grad for t in inputs if isinstance(t, Tensor)]


def exact_sigmoid(x):
    """1 / (1 + e^-x) without cancellation: e^x / (1 + e^x) for x < 0."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax_rows(z):
    """Softmax of each row of a 2-D array, each shifted by its own max."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------- elementwise
UNARY = {  # method: (inputs of a shape, value, derivative), both closed forms
    "exp": (lambda s: float_arrays(s, np.float64, -20.0, 20.0), np.exp, np.exp),
    "log": (lambda s: log_spaced_arrays(s, 1e-8, 1e3), np.log, lambda x: 1.0 / x),
    # up to x = 3: beyond, 1 - s(x) cancels and only an absolute tolerance makes sense
    "sigmoid": (lambda s: float_arrays(s, np.float64, -700.0, 3.0), exact_sigmoid,
                lambda x: exact_sigmoid(x) * exact_sigmoid(-x)),
    "tanh": (lambda s: float_arrays(s, np.float64, -5.0, 5.0), np.tanh, lambda x: 1.0 / np.cosh(x) ** 2),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_value_and_gradient_equal_their_closed_forms(name, data):
    inputs, value, derivative = UNARY[name]
    x = data.draw(inputs(data.draw(shapes())))
    g = data.draw(float_arrays(x.shape, np.float64, -2.0, 2.0))
    y, (grad,) = run(lambda t: getattr(t, name)(), x, g=g)
    np.testing.assert_allclose(y, value(x), rtol=RTOL, atol=0)
    np.testing.assert_allclose(grad, g * derivative(x), rtol=RTOL, atol=0)


def test_log_gradient_near_its_pole():
    """g / x, not g / (x + tiny): at x = 1e-8 an offset of 1e-7 is off by a factor 11."""
    x = np.geomspace(1e-9, 1e-3, 13)
    _, (grad,) = run(lambda t: t.log(), x, g=np.ones_like(x))
    np.testing.assert_allclose(grad, 1.0 / x, rtol=1e-14)


@pytest.mark.parametrize("dtype, low, rtol", [(np.float64, -700.0, 1e-12), (np.float32, -85.0, 1e-5)])
def test_sigmoid_tail_is_exact_far_below_minus_30(dtype, low, rtol):
    """sigmoid(x) = e^x / (1 + e^x) all the way down to where the dtype runs out of normal numbers
    (a clip at -30 would make every value below it 9.4e-14)."""
    x = np.linspace(low, -30.0, 50).astype(dtype)
    y, (grad,) = run(lambda t: t.sigmoid(), x, g=np.ones_like(x))
    x = x.astype(np.float64)  # the exact values at the very inputs
    s = exact_sigmoid(x)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, s, rtol=rtol, atol=0)
    np.testing.assert_allclose(grad, s * exact_sigmoid(-x), rtol=rtol, atol=0)


def test_relu_gradient_is_zero_at_exactly_zero():
    """The documented subgradient at 0 is 0 (as PyTorch's), also for -0.0; tiny positives pass g."""
    x = np.array([-2.0, -0.0, 0.0, 1e-300, 3.0])
    g = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    _, (grad,) = run(lambda t: t.relu(), x, g=g)
    np.testing.assert_array_equal(grad, [0.0, 0.0, 0.0, 4.0, 5.0])


@pytest.mark.parametrize("p", [1, 2, 3, -1, 0.5, -1.5])
def test_power_gradient_including_at_zero(p):
    """p x^(p-1); at x = 0 for p >= 1 it is finite (1 for p = 1, else 0), not 0/0."""
    x = np.array([0.0, 0.5, 1.5, 2.0]) if p >= 1 else np.array([0.25, 0.5, 1.5, 2.0])
    g = np.array([1.0, -2.0, 0.5, 3.0])
    y, (grad,) = run(lambda t: t ** p, x, g=g)
    np.testing.assert_allclose(y, x ** p, rtol=RTOL)
    np.testing.assert_allclose(grad, g * p * x ** (p - 1), rtol=RTOL, atol=0)


def test_div_gradients():
    a = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]])
    b = np.array([0.5, -3.0, 2.5])
    g = np.array([[1.0, 2.0, -1.0], [0.5, -0.5, 3.0]])
    y, (grad_a, grad_b) = run(lambda s, t: s / t, a, b, g=g)
    np.testing.assert_allclose(y, a / b, rtol=RTOL)
    np.testing.assert_allclose(grad_a, g / b, rtol=RTOL)
    np.testing.assert_allclose(grad_b, (-g * a / (b * b)).sum(axis=0), rtol=RTOL)


# ---------------------------------------------------------------- reductions
def test_mean_over_a_tuple_of_axes_divides_by_their_product():
    x = np.arange(24.0).reshape(2, 3, 4)
    g = np.array([1.0, -2.0, 0.5])
    y, (grad,) = run(lambda t: t.mean(axis=(0, 2)), x, g=g)
    np.testing.assert_allclose(y, x.mean(axis=(0, 2)), rtol=RTOL)
    np.testing.assert_allclose(grad, np.broadcast_to(g[None, :, None] / 8, x.shape), rtol=RTOL)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_max_splits_ties_within_each_slice(axis):
    x = np.array([[3.0, 3.0, 1.0], [5.0, 2.0, 5.0], [1.0, 5.0, 5.0]])
    g = np.array([2.0, -3.0, 6.0])
    _, (grad,) = run(lambda t: t.max(axis=axis), x, g=g)
    mask = x == x.max(axis=axis, keepdims=True)
    expected = mask * np.expand_dims(g, axis) / mask.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(grad, expected, rtol=RTOL)


# ---------------------------------------------------------------- linear algebra
MATMUL = {  # shapes of a and b, and the einsum that is the product for them
    "vector@batch": ((4,), (2, 4, 5), "k,bkm->bm"),
    "batch@vector": ((2, 3, 4), (4,), "bnk,k->bn"),
    "batch@matrix": ((2, 3, 4), (4, 5), "bnk,km->bnm"),
    "batch@batch": ((2, 3, 4), (2, 4, 5), "bnk,bkm->bnm"),
    "matrix@W.T": ((3, 4), (5, 4), "nk,mk->nm"),  # a layer: W.T is a transposed view
}


@pytest.mark.parametrize("kind", sorted(MATMUL))
def test_matmul_gradients_by_einsum(kind):
    sa, sb, spec = MATMUL[kind]
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    product = (lambda s, t: s @ t.T) if kind.endswith("W.T") else (lambda s, t: s @ t)
    y, (grad_a, grad_b) = run(product, a, b)
    g = np.random.default_rng(0).standard_normal(y.shape)
    ins, out = spec.split("->")
    sub_a, sub_b = ins.split(",")
    np.testing.assert_allclose(y, np.einsum(spec, a, b), rtol=RTOL)
    np.testing.assert_allclose(grad_a, np.einsum(f"{out},{sub_b}->{sub_a}", g, b), rtol=RTOL)
    np.testing.assert_allclose(grad_b, np.einsum(f"{sub_a},{out}->{sub_b}", a, g), rtol=RTOL)


@pytest.mark.parametrize("lead", [(), (3,), (2, 3)])
def test_linear_gradients_by_einsum(lead):
    """x (..., n_in), W (n_out, n_in), b (n_out,): dW sums g x^T over every leading axis."""
    rng = np.random.default_rng(6)
    x, W, b = rng.standard_normal(lead + (4,)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    y, (gx, gW, gb) = run(lambda *t: Tensor.apply(ops.linear, *t), x, W, b)
    g = np.random.default_rng(0).standard_normal(y.shape)
    np.testing.assert_allclose(y, x @ W.T + b, rtol=RTOL)
    np.testing.assert_allclose(gx, g @ W, rtol=RTOL)
    batch = "ab"[:len(lead)]  # dW = sum over every leading axis of g_o x_i
    np.testing.assert_allclose(gW, np.einsum(f"{batch}o,{batch}i->oi", g, x), rtol=RTOL)
    np.testing.assert_allclose(gb, g.reshape(-1, 5).sum(axis=0), rtol=RTOL)


def test_getitem_adds_the_gradient_of_every_repeat():
    x = np.arange(12.0).reshape(4, 3)
    rows = np.array([2, 0, 2, 2, -1])
    g = np.random.default_rng(1).standard_normal((5, 2))
    _, (grad,) = run(lambda t: t[rows, 1:], x, g=g)
    expected = np.zeros_like(x)
    for k, r in enumerate(rows):
        expected[r, 1:] += g[k]
    np.testing.assert_allclose(grad, expected, rtol=RTOL)


# ---------------------------------------------------------------- softmax family
def per_slice_jacobian_vjp(y, g, axis, jacobian):
    """g^T J for each 1-D slice along ``axis``, J built explicitly from that slice's y."""
    ym, gm = np.moveaxis(y, axis, -1), np.moveaxis(g, axis, -1)
    out = np.empty_like(gm)
    for idx in np.ndindex(ym.shape[:-1]):
        out[idx] = jacobian(ym[idx]).T @ gm[idx]
    return np.moveaxis(out, -1, axis)


JACOBIANS = {
    "softmax": lambda p: np.diag(p) - np.outer(p, p),                      # dp_i/dx_j
    "log_softmax": lambda logp: np.eye(len(logp)) - np.exp(logp)[None, :],  # dlogp_i/dx_j
}


@pytest.mark.parametrize("axis", [0, 1, -2])
@pytest.mark.parametrize("name", sorted(JACOBIANS))
def test_softmax_family_gradient_along_any_axis(name, axis):
    x = np.random.default_rng(2).standard_normal((4, 3, 5))
    y, (grad,) = run(lambda t: getattr(t, name)(axis), x)
    g = np.random.default_rng(0).standard_normal(y.shape)
    np.testing.assert_allclose(grad, per_slice_jacobian_vjp(y, g, axis, JACOBIANS[name]), rtol=1e-9, atol=1e-15)


# ---------------------------------------------------------------- losses
@pytest.mark.parametrize("g", [1.0, -2.5])
def test_softmax_cross_entropy_with_labels_and_one_hot_rows(g):
    z = np.random.default_rng(3).standard_normal((4, 5)) * 3
    labels = np.array([0, 4, 4, 2])
    p = softmax_rows(z)
    onehot = np.eye(5)[labels]
    expected = -np.log(p[np.arange(4), labels]).mean()
    for target in (labels, onehot):
        y, (grad, *_) = run(lambda t, y: t.softmax_cross_entropy(y), z, target, g=g)
        np.testing.assert_allclose(y, expected, rtol=RTOL)
        np.testing.assert_allclose(grad, g * (p - onehot) / 4, rtol=RTOL, atol=1e-15)


@given(logits_and_soft_targets())
def test_softmax_cross_entropy_with_soft_targets_not_summing_to_one(data):
    """dL/dz = (softmax(z) sum_j y_j - y) / B: a row's sum must not be assumed to be 1."""
    z, y = data
    B = len(z)
    loss, (grad_z, grad_y) = run(lambda s, t: s.softmax_cross_entropy(t), z, y, g=1.0)
    p = softmax_rows(z)
    np.testing.assert_allclose(loss, -(y * np.log(p)).sum() / B, rtol=RTOL)
    np.testing.assert_allclose(grad_z, (p * y.sum(axis=1, keepdims=True) - y) / B, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(grad_y, -np.log(p) / B, rtol=RTOL)
    assert gradcheck(lambda s, t: s.softmax_cross_entropy(t), z, y)


@pytest.mark.parametrize("target", ["labels", "one-hot", "values"])
def test_quadratic_cost_and_mse(target):
    rng = np.random.default_rng(4)
    a, labels = rng.standard_normal((3, 4)), np.array([3, 0, 3])
    y = {"labels": labels, "one-hot": np.eye(4)[labels], "values": rng.standard_normal((3, 4))}[target]
    dense = np.eye(4)[labels] if target == "labels" else y
    loss, grads = run(lambda s, t: s.quadratic_cost(t), a, y, g=1.0)
    np.testing.assert_allclose(loss, 0.5 * ((a - dense) ** 2).sum() / 3, rtol=RTOL)
    np.testing.assert_allclose(grads[0], (a - dense) / 3, rtol=RTOL)
    loss, grads = run(lambda s, t: s.mse(t), a, y, g=1.0)
    np.testing.assert_allclose(loss, ((a - dense) ** 2).mean(), rtol=RTOL)
    np.testing.assert_allclose(grads[0], 2 * (a - dense) / 12, rtol=RTOL)
    if target == "values":
        np.testing.assert_allclose(grads[1], -2 * (a - dense) / 12, rtol=RTOL)


def test_mse_averages_over_every_element_of_any_shape():
    rng = np.random.default_rng(7)
    a, y = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    loss, (grad, _) = run(lambda s, t: s.mse(t), a, y, g=1.0)
    np.testing.assert_allclose(loss, ((a - y) ** 2).mean(), rtol=RTOL)
    np.testing.assert_allclose(grad, 2 * (a - y) / 24, rtol=RTOL)


def test_binary_cross_entropy_inside_and_at_its_float64_clip():
    """float64 clips p to [1e-12, 1 - 1e-12]: p = 1e-10 is inside (its exact loss), p = 0 and 1
    sit at the clip (finite loss and gradient, computed at the clipped p)."""
    p = np.array([1e-10, 0.3, 0.0, 1.0, 1 - 1e-10])
    y = np.array([1.0, 0.2, 1.0, 0.0, 0.0])
    pc = np.clip(p, 1e-12, 1 - 1e-12)
    loss, (grad, _) = run(lambda s, t: s.binary_cross_entropy(t), p, y, g=1.0)
    np.testing.assert_allclose(loss, -(y * np.log(pc) + (1 - y) * np.log1p(-pc)).mean(), rtol=RTOL)
    np.testing.assert_allclose(grad, (pc - y) / (pc * (1 - pc)) / 5, rtol=RTOL)


def test_binary_cross_entropy_float32_clips_at_1e_7():
    p = np.array([0.0, 1.0], dtype=np.float32)
    loss, (grad,) = run(lambda s: s.binary_cross_entropy(np.array([1.0, 0.0], np.float32)), p, g=1.0)
    pc = np.clip(p, np.float32(1e-7), np.float32(1 - 1e-7)).astype(np.float64)  # [1e-7, 1 - 1.2e-7]
    assert loss.dtype == np.float32
    np.testing.assert_allclose(loss, -(np.log(pc[0]) + np.log1p(-pc[1])) / 2, rtol=1e-5)
    np.testing.assert_allclose(grad, [(pc[0] - 1) / (pc[0] * (1 - pc[0])) / 2, 1 / (1 - pc[1]) / 2], rtol=1e-5)
