"""The lean kernels' special paths (issue 14): each shortcut gives the same numbers as the plain
formula it replaces, and keeps the checks and the contract of the op it lives in.

- linear and matmul at one sample: the weight gradient as a broadcasting outer product;
- softmax cross-entropy: labels checked in one pass at most (a min for signed labels), cached
  row indices, the flat-index update in the VJP;
- sigmoid without a clip pass, warning-free at +-1000 in every float dtype;
- SGD through a scratch buffer and a cached 0-d learning rate.
"""
import warnings

import numpy as np
import pytest

from tinygrad_mnist import Tensor, ops
from tinygrad_mnist.errors import ShapeError
from tinygrad_mnist.optim import SGD

FLOATS = [np.float16, np.float32, np.float64]


# ---------------------------------------------------------------- the outer product at one sample
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_in,n_out", [(1, 1), (784, 30), (5, 3)])
def test_linear_weight_gradient_at_one_sample_is_the_outer_product(dtype, n_in, n_out):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, n_in)).astype(dtype)
    W = rng.standard_normal((n_out, n_in)).astype(dtype)
    b = rng.standard_normal(n_out).astype(dtype)
    g = rng.standard_normal((1, n_out)).astype(dtype)
    y, (vjp_x, vjp_W, vjp_b) = ops.linear(x, W, b)
    np.testing.assert_allclose(y, x @ W.T + b, rtol=1e-6)
    gW = vjp_W(g)
    assert gW.shape == W.shape and gW.dtype == dtype and gW.flags.c_contiguous
    np.testing.assert_array_equal(gW, np.outer(g[0], x[0]))  # the same products, exactly
    np.testing.assert_allclose(gW, g.T @ x, rtol=1e-6)
    np.testing.assert_array_equal(vjp_b(g), g[0])
    np.testing.assert_allclose(vjp_x(g), g @ W, rtol=1e-6)


@pytest.mark.parametrize("transposed", [False, True])
def test_matmul_gradient_of_b_for_a_one_row_a_is_the_outer_product(transposed):
    """x (1,k) @ W.T: the gradient of W.T is an outer product, laid out so W's is contiguous."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((1, 6))
    W = rng.standard_normal((4, 6))
    b = W.T if transposed else np.ascontiguousarray(W.T)
    g = rng.standard_normal((1, 4))
    y, (vjp_a, vjp_b) = ops.matmul(a, b)
    gb = vjp_b(g)
    np.testing.assert_array_equal(gb, np.outer(a[0], g[0]))
    np.testing.assert_allclose(vjp_a(g), g @ b.T)
    if transposed:
        assert gb.T.flags.c_contiguous  # W's gradient (gb.T) needs no copy


def test_one_sample_training_step_matches_the_batched_formula():
    """A whole backward at B=1 through nn-style ops agrees with the same sample inside a batch."""
    rng = np.random.default_rng(2)
    W = Tensor(rng.standard_normal((3, 5)), requires_grad=True)
    b = Tensor(rng.standard_normal(3), requires_grad=True)
    x = rng.standard_normal((1, 5))
    Tensor.apply(ops.sigmoid, Tensor.apply(ops.linear, Tensor(x), W, b)).sum().backward()
    one = (W.grad.copy(), b.grad.copy())
    W.grad = b.grad = None
    xx = np.concatenate([x, np.zeros((1, 5))])  # a second sample with zero input: same W.grad
    out = Tensor.apply(ops.sigmoid, Tensor.apply(ops.linear, Tensor(xx), W, b))
    (out * Tensor(np.array([[1.0], [0.0]]))).sum().backward()
    np.testing.assert_allclose(W.grad, one[0], rtol=1e-12)
    np.testing.assert_allclose(b.grad, one[1], rtol=1e-12)


# ---------------------------------------------------------------- labels checked in one pass at most
@pytest.mark.parametrize("dtype", ["<i1", "<i2", "<i4", "<i8", ">i4", ">i8"])
def test_a_negative_label_is_refused_in_every_signed_dtype(dtype):
    logits = np.zeros((3, 4), np.float32)
    labels = np.array([0, -1, 2]).astype(dtype)
    for op in (ops.softmax_cross_entropy, ops.quadratic_cost, ops.mse):
        with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\).*from -1 to 2"):
            op(logits, labels)


@pytest.mark.parametrize("dtype", ["<i8", ">i8", "<u1", "<u8", "<i2"])
def test_labels_of_any_integer_dtype_and_layout_give_the_same_loss(dtype):
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((5, 4))
    labels = np.array([3, 0, 1, 1, 2])
    want, (vjp_want, _) = ops.softmax_cross_entropy(logits, labels)
    strided = np.zeros(10, dtype)[::2]
    strided[:] = labels
    for lab in (labels.astype(dtype), strided):
        loss, (vjp, _) = ops.softmax_cross_entropy(logits, lab)
        assert loss == want
        np.testing.assert_array_equal(vjp(np.float64(1.0)), vjp_want(np.float64(1.0)))


def test_a_label_past_the_last_class_is_refused_and_the_row_index_cache_is_read_only():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\).*from 0 to 3"):
        ops.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    from tinygrad_mnist.ops.losses import _rows
    rows, offsets = _rows(7, 3)
    assert _rows(7, 3)[0] is rows and not rows.flags.writeable and not offsets.flags.writeable
    np.testing.assert_array_equal(rows, np.arange(7))
    np.testing.assert_array_equal(offsets, 3 * np.arange(7))


def test_softmax_cross_entropy_vjp_scales_with_g_and_matches_the_one_hot_formula():
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((6, 5)).astype(np.float32)
    labels = rng.integers(0, 5, 6)
    _, (vjp, _) = ops.softmax_cross_entropy(logits, labels)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    want = (p - np.eye(5, dtype=np.float32)[labels]) / 6
    np.testing.assert_allclose(vjp(np.float32(1.0)), want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(vjp(np.float32(-2.5)), -2.5 * want, rtol=1e-5, atol=1e-7)
    assert vjp(np.float32(1.0)).dtype == np.float32


# ---------------------------------------------------------------- sigmoid without a clip pass
@pytest.mark.parametrize("dtype", FLOATS)
def test_sigmoid_at_plus_minus_1000_is_exact_and_silent(dtype):
    x = np.array([-1000.0, -100.0, -30.0, 0.0, 30.0, 100.0, 1000.0], dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        y, (vjp,) = ops.sigmoid(x)
        d = vjp(np.ones_like(x))
    assert y.dtype == dtype and y[0] == 0.0 and y[-1] == 1.0 and y[3] == 0.5
    assert np.isfinite(d).all() and (d >= 0).all()
    x64 = x.astype(np.float64)
    e = np.exp(-np.abs(x64))  # the two-sided form: exp never overflows, tails keep their digits
    ref = np.where(x64 >= 0, 1 / (1 + e), e / (1 + e))
    # where exp(-x) overflows the dtype, y is 0: off by less than the smallest normal number
    np.testing.assert_allclose(y, ref, rtol=2e-3 if dtype == np.float16 else 1e-6, atol=np.finfo(dtype).tiny)


def test_sigmoid_leaves_its_input_alone_and_keeps_the_float64_tail():
    x = np.array([-40.0, -20.0, 0.0, 20.0])
    keep = x.copy()
    y, _ = ops.sigmoid(x)
    np.testing.assert_array_equal(x, keep)
    np.testing.assert_allclose(y[:2], np.exp([-40.0, -20.0]) / (1 + np.exp([-40.0, -20.0])), rtol=1e-14)


def test_relu_keeps_integer_inputs_integer_and_its_subgradient_zero_at_zero():
    y, (vjp,) = ops.relu(np.array([-2, 0, 3], np.int32))
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, [0, 0, 3])
    np.testing.assert_array_equal(vjp(np.ones(3)), [0.0, 0.0, 1.0])


# ---------------------------------------------------------------- SGD through a scratch buffer
def _param(value, dtype=np.float32):
    return Tensor(np.array(value, dtype), requires_grad=True)


def test_sgd_leaves_grad_untouched_and_follows_a_changed_learning_rate():
    w = _param([1.0, 2.0])
    opt = SGD([w], lr=0.5)
    w.grad = np.array([1.0, -1.0], np.float32)
    opt.step()
    np.testing.assert_array_equal(w.grad, [1.0, -1.0])
    np.testing.assert_array_equal(w.data, [0.5, 2.5])
    opt.lr = 0.25  # a schedule changes it between steps
    opt.step()
    np.testing.assert_array_equal(w.data, [0.25, 2.75])


def test_sgd_handles_mixed_dtypes_and_a_parameter_replaced_by_another_shape():
    a, b = _param([1.0], np.float64), _param([[1.0, 1.0]], np.float32)
    opt = SGD([a, b], lr=0.1)
    a.grad, b.grad = np.array([1.0]), np.array([[1.0, 2.0]], np.float32)
    opt.step()
    assert a.data.dtype == np.float64 and b.data.dtype == np.float32
    np.testing.assert_allclose(a.data, [0.9], rtol=1e-15)
    np.testing.assert_allclose(b.data, [[0.9, 0.8]], rtol=1e-6)
    b.data = np.zeros((3,), np.float64)  # the user swaps in a new array: new shape, new dtype
    b.grad = np.ones(3)
    opt.step()
    np.testing.assert_allclose(b.data, [-0.1, -0.1, -0.1], rtol=1e-15)
    assert b.data.dtype == np.float64


def test_sgd_step_is_one_in_place_update_per_parameter():
    """The model and the optimizer keep sharing arrays, and each update counts as one write."""
    w = _param([[1.0, 2.0], [3.0, 4.0]])
    before = w.data
    opt = SGD([w], lr=1.0)
    out = Tensor.apply(ops.linear, Tensor(np.ones((1, 2), np.float32)), w)
    out.sum().backward()
    opt.step()
    assert w.data is before
    np.testing.assert_array_equal(w.data, [[0.0, 1.0], [2.0, 3.0]])
    with pytest.raises(RuntimeError, match="modified in place"):
        out2 = Tensor.apply(ops.linear, Tensor(np.ones((1, 2), np.float32)), w)
        opt.step()
        out2.sum().backward()


def test_linear_still_names_shapes_when_they_do_not_fit():
    with pytest.raises(ShapeError, match=r"linear: x \(1,3\) @ W.T with W \(2,4\)"):
        ops.linear(np.zeros((1, 3)), np.zeros((2, 4)), np.zeros(2))
