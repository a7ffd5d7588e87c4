"""Convolution and pooling: the engine's conv2d / max_pool2d / avg_pool2d (im2col forward, col2im
backward, through ``Tensor.apply`` and backward) equal manual's textbook loops to float64
round-off on hypothesis-drawn shapes, strides and paddings, and PyTorch's where it is installed;
gradcheck on small cases; the tie rule of max-pool; what the VJPs keep; error texts; the ledger;
check_op with its defaults.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import conv2d_settings, pool2d_settings, seeds

from tinygrad_mnist import ShapeError, Tensor, gradcheck, manual, ops
from tinygrad_mnist.explain import explain
from tinygrad_mnist.testing import check_op

CLOSE = {"rtol": 1e-10, "atol": 1e-12}  # float64 round-off: the loops sum in another order
EXAMPLES = settings(max_examples=30, deadline=None)


def run(method: str, arrays: dict, g_seed: int, **settings_):
    """Call ``Tensor.<method>`` on float64 tensors that require grad, backprop a random g.

    ``arrays``: {"x": ..., "W": ..., "b": ...} (only x for pooling). Returns (y, g, grads by key)."""
    tensors = {k: Tensor(v, requires_grad=True) for k, v in arrays.items()}
    x, rest = tensors["x"], [tensors[k] for k in ("W", "b") if k in tensors]
    y = getattr(x, method)(*rest, **settings_)
    g = np.random.default_rng(g_seed).standard_normal(y.shape)
    y.backward(g)
    return y.data, g, {k: t.grad for k, t in tensors.items()}


# ---------------------------------------------------------------- engine == manual, float64
@EXAMPLES
@given(conv2d_settings(), st.booleans(), seeds())
def test_conv2d_equals_the_textbook_loops(s, with_bias, seed):
    rng = np.random.default_rng(seed)
    x, W = rng.standard_normal(s["x"]), rng.standard_normal(s["W"])
    b = rng.standard_normal(s["W"][0]) if with_bias else None
    arrays = {"x": x, "W": W} if b is None else {"x": x, "W": W, "b": b}
    y, g, grads = run("conv2d", arrays, seed, stride=s["stride"], padding=s["padding"])

    np.testing.assert_allclose(y, manual.conv2d_forward(x, W, b, s["stride"], s["padding"]), **CLOSE)
    dx, dW, db = manual.conv2d_backward(x, W, b, g, s["stride"], s["padding"])
    np.testing.assert_allclose(grads["x"], dx, **CLOSE)
    np.testing.assert_allclose(grads["W"], dW, **CLOSE)
    if b is not None:
        np.testing.assert_allclose(grads["b"], db, **CLOSE)
    else:
        assert db is None


@EXAMPLES
@given(pool2d_settings(), seeds(), st.booleans())
def test_max_pool2d_equals_the_textbook_loops_ties_included(s, seed, ties):
    """With ties (entries from {0, 1, 2}) the engine must pick the same single entry per window
    as manual's np.argmax (the first maximum, row-major), so the gradients are equal exactly."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, s["x"]).astype(np.float64) if ties else rng.standard_normal(s["x"])
    y, g, grads = run("max_pool2d", {"x": x}, seed, kernel=s["kernel"], stride=s["stride"])
    np.testing.assert_array_equal(y, manual.max_pool_forward(x, s["kernel"], s["stride"]))
    np.testing.assert_allclose(grads["x"], manual.max_pool_backward(x, g, s["kernel"], s["stride"]), **CLOSE)


@EXAMPLES
@given(pool2d_settings(), seeds())
def test_avg_pool2d_equals_the_textbook_loops(s, seed):
    x = np.random.default_rng(seed).standard_normal(s["x"])
    y, g, grads = run("avg_pool2d", {"x": x}, seed, kernel=s["kernel"], stride=s["stride"])
    np.testing.assert_allclose(y, manual.avg_pool_forward(x, s["kernel"], s["stride"]), **CLOSE)
    np.testing.assert_allclose(grads["x"], manual.avg_pool_backward(x.shape, g, s["kernel"], s["stride"]),
                               **CLOSE)


def test_the_reference_loops_are_not_the_engine_in_disguise():
    """manual's conv is the definition written out: one hand-computed output entry."""
    x = np.arange(2 * 3 * 3, dtype=np.float64).reshape(1, 2, 3, 3)
    W = np.ones((1, 2, 2, 2))
    W[0, 1] = 2.0
    z = manual.conv2d_forward(x, W, np.array([0.5]))
    # window at (0, 0): channel 0 holds 0 1 3 4, channel 1 holds 9 10 12 13 (times 2)
    assert z[0, 0, 0, 0] == (0 + 1 + 3 + 4) + 2 * (9 + 10 + 12 + 13) + 0.5
    dx, dW, db = manual.conv2d_backward(x, W, None, np.ones((1, 1, 2, 2)))
    assert dx[0, 0, 1, 1] == 4 and dx[0, 1, 1, 1] == 8   # the centre is in all four windows
    assert dW[0, 0, 0, 0] == 0 + 1 + 3 + 4 and db is None


# ---------------------------------------------------------------- finite differences
@pytest.mark.parametrize("settings_", [
    {"stride": 1, "padding": 0},
    {"stride": (2, 1), "padding": (1, 2)},
    {"stride": 3, "padding": 1},
])
def test_conv2d_gradcheck(settings_):
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    assert gradcheck(lambda x, W, b: x.conv2d(W, b, **settings_), x, W, b)
    assert gradcheck(lambda x, W: x.conv2d(W, **settings_), x, W)


@pytest.mark.parametrize("kernel, stride", [(2, None), ((3, 2), 1), (2, 3)])
def test_pool_gradcheck(kernel, stride):
    rng = np.random.default_rng(1)
    x = rng.permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) * 0.1  # distinct: no tie to break
    assert gradcheck(lambda t: t.max_pool2d(kernel, stride), x)
    assert gradcheck(lambda t: t.avg_pool2d(kernel, stride), rng.standard_normal((2, 2, 5, 6)))


# ---------------------------------------------------------------- the tie rule
def test_max_pool_ties_send_the_gradient_to_the_first_maximum_only():
    x = Tensor(np.full((1, 1, 2, 2), 7.0), requires_grad=True)
    x.max_pool2d(2).sum().backward()
    np.testing.assert_array_equal(x.grad[0, 0], [[1.0, 0.0], [0.0, 0.0]])   # not 1/4 each


def test_max_pool_ties_in_overlapping_windows_and_a_nan():
    """Windows (2x2, stride 1) over a row of equal values: each window picks its own first
    maximum (row-major), so entry (0, 1) collects the second window's gradient; a NaN is the
    maximum of its window (PyTorch's rule), and takes the gradient."""
    x = Tensor(np.array([[[[5.0, 5.0, 5.0], [5.0, 5.0, 1.0]]]]), requires_grad=True)
    y = x.max_pool2d(2, stride=1)
    y.backward(np.array([[[[10.0, 20.0]]]]))
    np.testing.assert_array_equal(x.grad[0, 0], [[10.0, 20.0, 0.0], [0.0, 0.0, 0.0]])

    x = Tensor(np.array([[[[1.0, np.nan], [3.0, 3.0]]]]), requires_grad=True)
    y = x.max_pool2d(2)
    assert np.isnan(y.data).all()
    y.backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(x.grad[0, 0], [[0.0, 1.0], [0.0, 0.0]])


# ---------------------------------------------------------------- what the VJPs keep
def captured_arrays(fn) -> list:
    """Every ndarray a function's closure keeps, looking through nested functions and dicts."""
    found, stack, seen = [], [fn], set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            found.append(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif callable(obj) and getattr(obj, "__closure__", None):
            stack.extend(cell.cell_contents for cell in obj.__closure__)
    return found


def test_conv2d_vjps_keep_x_and_W_but_no_im2col_buffer():
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((4, 3, 9, 9)), rng.standard_normal((5, 3, 3, 3)), np.zeros(5)
    _, vjps = ops.conv2d(x, W, b, padding=1)
    for vjp in vjps:
        for a in captured_arrays(vjp):
            assert a is x or a is W, f"a VJP keeps an array of shape {a.shape}"
    _, (vjp,) = ops.max_pool2d(x, 3)
    assert sum(a.size for a in captured_arrays(vjp)) < 2 * x.size  # x and y, no index array


def test_vjps_leave_g_and_the_inputs_alone():
    rng = np.random.default_rng(0)
    x, W = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    before = x.copy(), W.copy()
    y, vjps = ops.conv2d(x, W, stride=2, padding=1)
    g = rng.standard_normal(y.shape)
    g.flags.writeable = False  # any write into g raises
    for vjp in vjps:
        vjp(g)
    for op in (ops.max_pool2d, ops.avg_pool2d):
        y, (vjp,) = op(x, 2, stride=1)
        g = rng.standard_normal(y.shape)
        g.flags.writeable = False
        vjp(g)
    np.testing.assert_array_equal(x, before[0])
    np.testing.assert_array_equal(W, before[1])


# ---------------------------------------------------------------- dtypes
def test_float32_stays_float32():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((2, 1, 8, 8)).astype(np.float32), requires_grad=True)
    W = Tensor(rng.standard_normal((3, 1, 3, 3)).astype(np.float32), requires_grad=True)
    b = Tensor(np.zeros(3, np.float32), requires_grad=True)
    y = x.conv2d(W, b).max_pool2d(2).avg_pool2d(3)
    assert y.dtype == np.float32 and y.shape == (2, 3, 1, 1)
    y.sum().backward()
    assert x.grad.dtype == W.grad.dtype == b.grad.dtype == np.float32


# ---------------------------------------------------------------- error texts
@pytest.mark.parametrize("call, message", [
    (lambda: Tensor(np.zeros((2, 3, 28, 28))).conv2d(Tensor(np.zeros((6, 1, 5, 5)))),
     r"^conv2d: x \(2,3,28,28\) has 3 channels, W \(6,1,5,5\) expects 1$"),
    (lambda: Tensor(np.zeros((2, 1, 4, 4))).conv2d(np.zeros((6, 1, 5, 5)), padding=0),
     r"^conv2d: kernel 5x5 is larger than the input 4x4 \(x \(2,1,4,4\)\)"),
    (lambda: Tensor(np.zeros((2, 1, 1, 1))).conv2d(np.zeros((6, 1, 5, 4)), padding=(1, 2)),
     r"^conv2d: kernel 5x4 is larger than the padded input 3x5 \(x \(2,1,1,1\), padding \(1, 2\)\)"),
    (lambda: Tensor(np.zeros((8, 784))).conv2d(np.zeros((6, 1, 5, 5))),
     r"^conv2d: x \(8,784\) must be a 4-D NCHW batch \(B,C,H,W\); .*reshape to \(B,1,H,W\)"),
    (lambda: Tensor(np.zeros((2, 1, 8, 8))).conv2d(np.zeros((6, 5, 5))),
     r"^conv2d: W \(6,5,5\) must be 4-D \(C_out,C_in,kH,kW\)"),
    (lambda: Tensor(np.zeros((2, 1, 8, 8))).conv2d(np.zeros((6, 1, 0, 3))),
     r"^conv2d: W \(6,1,0,3\) must be 4-D \(C_out,C_in,kH,kW\) with kH, kW >= 1"),
    (lambda: Tensor(np.zeros((2, 1, 8, 8))).conv2d(np.zeros((6, 1, 5, 5)), np.zeros(5)),
     r"^conv2d: b \(5,\) must be \(6,\): one bias per output channel of W \(6,1,5,5\)"),
    (lambda: Tensor(np.zeros((2, 6, 3, 5))).max_pool2d(4),
     r"^max_pool2d: kernel 4x4 is larger than the input 3x5 \(x \(2,6,3,5\)\)"),
    (lambda: Tensor(np.zeros((6, 12, 12))).avg_pool2d(2),
     r"^avg_pool2d: x \(6,12,12\) must be a 4-D NCHW batch \(B,C,H,W\)"),
])
def test_shape_errors_name_the_op_and_the_shapes(call, message):
    with pytest.raises(ShapeError, match=message):
        call()


@pytest.mark.parametrize("call, error, message", [
    (lambda x: x.conv2d(np.zeros((1, 1, 2, 2)), stride=0), ValueError, r"conv2d: stride must be >= 1, got 0"),
    (lambda x: x.conv2d(np.zeros((1, 1, 2, 2)), padding=-1), ValueError, r"conv2d: padding must be >= 0"),
    (lambda x: x.conv2d(np.zeros((1, 1, 2, 2)), stride=(1, 2, 3)), TypeError,
     r"conv2d: stride must be an int or an \(h, w\) pair of ints, got \(1, 2, 3\)"),
    (lambda x: x.max_pool2d(2.0), TypeError, r"max_pool2d: kernel must be an int or an \(h, w\) pair"),
    (lambda x: x.avg_pool2d(2, stride=0), ValueError, r"avg_pool2d: stride must be >= 1"),
])
def test_bad_settings_name_the_op(call, error, message):
    with pytest.raises(error, match=message):
        call(Tensor(np.zeros((1, 1, 4, 4))))


# ---------------------------------------------------------------- flatten (a reshape)
def test_flatten_follows_pytorch():
    t = Tensor(np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5), requires_grad=True)
    assert t.flatten().shape == (120,)                        # Tensor.flatten(): every axis
    assert t.flatten(1).shape == (2, 60)                      # nn.Flatten's start_dim=1
    assert t.flatten(1, 2).shape == (2, 12, 5) and t.flatten(-2).shape == (2, 3, 20)
    assert t.flatten(1).op == "reshape"
    assert Tensor(np.float64(3.0)).flatten().shape == (1,)
    t.flatten(1).sum().backward()
    assert t.grad.shape == (2, 3, 4, 5)
    with pytest.raises(ShapeError, match=r"flatten: start_dim 2 and end_dim 1 .* \(2,3,4,5\)"):
        t.flatten(2, 1)
    with pytest.raises(ShapeError, match="flatten: start_dim 4"):
        t.flatten(4)


# ---------------------------------------------------------------- the ledger
def test_the_ledger_shows_each_conv_vjp_with_nchw_shapes():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((4, 1, 10, 10)))
    W1 = Tensor(rng.standard_normal((2, 1, 3, 3)), requires_grad=True)
    W2 = Tensor(rng.standard_normal((3, 2, 2, 2)), requires_grad=True)
    b2 = Tensor(np.zeros(3), requires_grad=True)
    h = x.conv2d(W1, padding=1).relu().max_pool2d(2).conv2d(W2, b2, stride=2).avg_pool2d(2)
    loss = h.flatten(1).softmax_cross_entropy(np.arange(4) % 3)
    text = explain(loss, names={"W1": W1, "W2": W2, "b2": b2}).render()
    assert "= conv_transpose(dL/d" in text and "(B,3,2,2), W2 (3,2,2,2)) [col2im:" in text
    assert "dL/dW2 (3,2,2,2) = correlate(" in text and "(B,2,5,5), dL/d" in text
    assert "dL/db2 (3,) = dL/d" in text and "summed over batch and pixels, axes (0,2,3)" in text
    assert "routed to the first maximum of each window of" in text and "(B,2,10,10)" in text
    assert "/ (kH*kW) spread over each window of" in text


# ---------------------------------------------------------------- check_op, defaults
@pytest.mark.parametrize("op, specs, kwargs", [
    (ops.conv2d, [("B", "C_in", 6, 5), ("C_out", "C_in", 3, 2), ("C_out",)], {"stride": (2, 1), "padding": 1}),
    (ops.conv2d, [("B", "C_in", 5, 5), ("C_out", "C_in", 2, 2)], {}),
    (ops.max_pool2d, [("B", "C", 5, 6)], {"kernel": 2}),
    (ops.max_pool2d, [("B", "C", 5, 6)], {"kernel": (3, 2), "stride": 1}),  # overlapping windows
    (ops.avg_pool2d, [("B", "C", 5, 6)], {"kernel": (2, 3), "stride": (1, 2)}),
])
def test_check_op_passes_the_conv_and_pool_ops(op, specs, kwargs):
    assert check_op(op, *specs, kwargs=kwargs, max_examples=10) >= 10


# ---------------------------------------------------------------- PyTorch, where installed
@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def torch_grads(torch, fn, arrays: dict, g: np.ndarray):
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in arrays.items()}
    y = fn(**tensors)
    y.backward(torch.tensor(g))
    return y.detach().numpy(), {k: t.grad.numpy() for k, t in tensors.items()}


@settings(max_examples=20, deadline=None)
@given(conv2d_settings(), st.booleans(), seeds())
def test_conv2d_equals_pytorch(torch, s, with_bias, seed):
    rng = np.random.default_rng(seed)
    arrays = {"x": rng.standard_normal(s["x"]), "W": rng.standard_normal(s["W"])}
    if with_bias:
        arrays["b"] = rng.standard_normal(s["W"][0])
    y, g, grads = run("conv2d", arrays, seed, stride=s["stride"], padding=s["padding"])
    ty, tgrads = torch_grads(torch, lambda x, W, b=None: torch.nn.functional.conv2d(
        x, W, b, stride=s["stride"], padding=s["padding"]), arrays, g)
    np.testing.assert_allclose(y, ty, **CLOSE)
    for k in arrays:
        np.testing.assert_allclose(grads[k], tgrads[k], **CLOSE, err_msg=k)


@settings(max_examples=20, deadline=None)
@given(pool2d_settings(), seeds(), st.booleans(), st.sampled_from(["max_pool2d", "avg_pool2d"]))
def test_pooling_equals_pytorch_ties_included(torch, s, seed, ties, name):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, s["x"]).astype(np.float64) if ties else rng.standard_normal(s["x"])
    kernel, stride = s["kernel"], s["stride"]
    # PyTorch refuses a padding over half the kernel, never used here (no padding), and takes
    # stride=None as "the kernel", like the engine
    y, g, grads = run(name, {"x": x}, seed, kernel=kernel, stride=stride)
    ty, tgrads = torch_grads(torch, lambda x: getattr(torch.nn.functional, name)(x, kernel, stride), {"x": x}, g)
    np.testing.assert_allclose(y, ty, **CLOSE)
    np.testing.assert_allclose(grads["x"], tgrads["x"], **CLOSE)
