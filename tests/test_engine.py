"""The engine: graphs (fan-out, diamonds, deep chains), gradient bookkeeping, no_grad, the
Tensor constructor, user-defined ops through ``Tensor.apply``. Error texts: test_errors.py;
anomaly mode: test_anomaly.py.
"""
from __future__ import annotations

import gc
import operator
import time
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import broadcastable_shapes, float_arrays, nonzero_arrays, shapes

from tinygrad_mnist import ShapeError, Tensor, gradcheck, is_grad_enabled, no_grad, ops


def leaf(values, dtype=np.float64) -> Tensor:
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# ---------------------------------------------------------------- a user's ops, <= 15 lines
def softplus(x):
    """y = log(1 + e^x), stable. dL/dx = g * sigmoid(x)."""
    return np.logaddexp(0.0, x), (lambda g: g / (1.0 + np.exp(-x)),)


def hypot(a, b):
    """y = sqrt(a^2 + b^2), broadcasting. dL/da = g a / y, dL/db = g b / y (the engine unbroadcasts)."""
    y = np.hypot(a, b)
    return y, (lambda g: g * a / y, lambda g: g * b / y)


# ---------------------------------------------------------------- graphs
def test_fan_out_adds_every_use():
    x = leaf([1.0, -2.0, 3.0])
    (x * x + x * 3.0 + x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 4)


def test_diamond_and_reuse_at_different_depths():
    x0 = np.array([0.3, -0.7])
    x = leaf(x0)
    a = x * 2.0
    d = (a.exp() * a.sigmoid()).sum() + ((x * 2.0).tanh() * x).sum()  # x also joins two ops deeper
    d.backward()
    s = 1 / (1 + np.exp(-2 * x0))
    t = np.tanh(2 * x0)
    expected = 2 * np.exp(2 * x0) * s + np.exp(2 * x0) * 2 * s * (1 - s) + 2 * (1 - t ** 2) * x0 + t
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


STEPS = {
    "add": lambda a, b: (a + b).tanh(),
    "mul": lambda a, b: a * b.sigmoid(),
    "sub": lambda a, b: a - b * 0.5,
    "mean": lambda a, b: a * 0.5 + b.mean(),
}


@given(steps=st.lists(st.tuples(st.sampled_from(sorted(STEPS)), st.integers(0, 99), st.integers(0, 99)),
                      min_size=1, max_size=10),
       shapes_=broadcastable_shapes(max_dims=2, max_side=3), data=st.data())
def test_random_dags_match_finite_differences(steps, shapes_, data):
    """Each step combines two earlier nodes and the output sums every node: fan-out and diamonds."""
    x, y = (data.draw(float_arrays(s, np.float64, -2.0, 2.0)) for s in shapes_)

    def fn(x, y):
        nodes = [x, y]
        for name, i, j in steps:
            nodes.append(STEPS[name](nodes[i % len(nodes)], nodes[j % len(nodes)]))
        out = nodes[2]
        for node in nodes[3:]:
            out = out + node
        return out

    assert gradcheck(fn, x, y)


def test_each_vjp_runs_once_with_its_whole_gradient():
    """A node must wait for every user's gradient: running early with a partial sum gives the same
    totals (the chain rule is linear) but repeats work exponentially in diamond chains."""
    received = []

    def tap(x):  # the identity, recording the gradient its VJP is called with
        return x + 0.0, (lambda g: received.append(g.copy()) or g,)

    x = leaf([0.1, 0.2])
    y = x
    for _ in range(10):
        t = Tensor.apply(tap, y)
        y = t * 0.5 + t.tanh() * 0.5  # two paths of different lengths from t to y
    y.sum().backward()
    assert len(received) == 10
    retained = leaf([0.1, 0.2])
    t = Tensor.apply(tap, retained)
    received.clear()
    (t * 0.5 + t.tanh() * 0.5).sum().backward()
    np.testing.assert_allclose(received[0], 0.5 + 0.5 * (1 - np.tanh(retained.data) ** 2))


def test_chain_of_100000_ops_backprops_without_recursion():
    x = leaf([1.0, 2.0])
    y = x
    for i in range(100_000):
        y = y * 1.000001 if i % 2 else y + 0.5
    start = time.perf_counter()
    y.sum().backward()
    elapsed = time.perf_counter() - start
    np.testing.assert_allclose(x.grad, 1.000001 ** 50_000, rtol=1e-9)
    assert elapsed < 10, f"backward over 100,000 ops took {elapsed:.1f} s"  # a loose bound: catches O(n^2)


# ---------------------------------------------------------------- gradient bookkeeping
def test_gradients_accumulate_across_backward_calls_until_zero_grad():
    x = leaf([1.0, 2.0])
    for _ in range(2):
        (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * 2 * x.data)
    x.zero_grad()
    assert x.grad is None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)


def test_retain_graph_allows_a_second_backward_and_without_it_a_clear_error():
    x = leaf([1.0, 2.0])
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(x.grad, 4 * x.data)
    before = x.grad.copy()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()
    np.testing.assert_array_equal(x.grad, before)  # the failed call wrote nothing


def test_backward_through_a_freed_intermediate_raises():
    x = leaf([1.0, 2.0])
    h = x.exp()
    (h * 2.0).sum().backward()
    with pytest.raises(RuntimeError, match="freed"):
        (h * 3.0).sum().backward()


def test_backward_needs_a_grad_for_non_scalars():
    y = leaf(np.ones((2, 3))) * 2.0
    with pytest.raises(ValueError, match=r"scalar.*\(2,3\)"):
        y.backward()


def test_backward_with_an_explicit_grad():
    x = leaf(np.arange(6.0).reshape(2, 3))
    g = np.arange(6.0).reshape(2, 3) - 2.5
    (x * 3.0).backward(g)
    np.testing.assert_allclose(x.grad, 3 * g)
    x.zero_grad()
    (x * 3.0).backward(Tensor(g))
    np.testing.assert_allclose(x.grad, 3 * g)
    with pytest.raises(ShapeError, match=r"backward: grad has shape \(3,\), tensor has \(2,3\)"):
        (x * 3.0).backward(np.ones(3))


def test_backward_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (Tensor(np.ones(3)) * 2.0).sum().backward()


def test_tensors_not_requiring_grad_get_no_grad():
    x = leaf([1.0, 2.0, 3.0])
    c = Tensor(np.array([4.0, 5.0, 6.0]))
    logits = leaf(np.zeros((2, 3)))
    labels = Tensor(np.array([0, 2]))
    ((x * c).sum() + logits.softmax_cross_entropy(labels)).backward()
    assert c.grad is None and labels.grad is None
    assert x.grad is not None and logits.grad is not None


def test_intermediates_keep_grad_only_when_retained():
    x = leaf([1.0, -2.0])
    h = x * 2.0
    kept = (x * 3.0).retain_grad()
    (h.tanh() + kept * kept + kept).sum().backward()
    assert h.grad is None
    np.testing.assert_allclose(kept.grad, 2 * kept.data + 1)  # both uses of the retained tensor
    assert x.grad is not None


PASS_THROUGH = {  # ops whose VJP hands back g itself, a view of it, or a broadcast of it
    "x + y": lambda x, y: x + y,
    "x - y": lambda x, y: x - y,
    "reshape": lambda x, y: (x + y).reshape(-1),
    "transpose": lambda x, y: x.T + y.T,
    "getitem": lambda x, y: x[:, 1:] + y[:, 1:],
    "sum": lambda x, y: (x.sum(axis=0) + y.sum(axis=0)),
    "astype": lambda x, y: x.astype(np.float64) + y.astype(np.float64),
    "mean": lambda x, y: (x + y).mean(axis=1),
}


@pytest.mark.parametrize("name", sorted(PASS_THROUGH))
def test_leaf_grads_never_alias_each_other_or_the_callers_grad(name):
    x, y = leaf(np.ones((2, 3))), leaf(np.ones((2, 3)))
    out = PASS_THROUGH[name](x, y)
    g = np.ones(out.shape)
    g_before = g.copy()
    out.backward(g)
    y_before = y.grad.copy()
    for t in (x, y):
        assert t.grad.flags.writeable
        assert not np.shares_memory(t.grad, g) and not np.shares_memory(t.grad, t.data)
    assert not np.shares_memory(x.grad, y.grad)
    x.grad += 1  # users clip and scale grads in place
    np.testing.assert_array_equal(y.grad, y_before)
    np.testing.assert_array_equal(g, g_before)


def test_leaf_grad_is_not_the_callers_grad_when_the_leaf_is_the_root():
    x = leaf([1.0, 2.0])
    g = np.array([3.0, 4.0])
    x.backward(g)
    x.grad *= 0
    np.testing.assert_array_equal(g, [3.0, 4.0])


def test_bias_grad_of_a_single_sample_linear_is_owned():
    x, W, b = leaf([1.0, 2.0]), leaf(np.ones((3, 2))), leaf(np.zeros(3))
    out = Tensor.apply(ops.linear, x, W, b)
    g = np.array([1.0, 2.0, 3.0])
    out.backward(g)
    b.grad += 1
    np.testing.assert_array_equal(g, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("const_dtype", [np.float32, np.float64])
def test_grad_has_the_dtype_and_shape_of_data(dtype, const_dtype):
    x = leaf(np.ones((4, 3)), dtype)
    W = leaf(np.ones((2, 3)), const_dtype)
    c = np.full((1, 2), 0.5, dtype=const_dtype)  # broadcasts; may promote the output
    ((x @ W.T) * c + x.sum(axis=1, keepdims=True)).mean().backward()
    for t in (x, W):
        assert t.grad.dtype == t.dtype and t.grad.shape == t.shape


# ---------------------------------------------------------------- no_grad
def test_no_grad_context_records_nothing():
    x = leaf([1.0, 2.0])
    with no_grad():
        assert not is_grad_enabled()
        h = x.exp()
        kept = weakref.ref(h.data)
        y = (h * 2.0).sum()
    assert is_grad_enabled()
    assert not h.requires_grad and not y.requires_grad
    del h
    gc.collect()
    assert kept() is None  # no VJP closure holds on to h's array: nothing was recorded
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()
    assert x.grad is None


def test_recording_keeps_what_backward_needs():
    """The counterpart of the weakref check above, so that check can fail."""
    x = leaf([1.0, 2.0])
    h = x.exp()
    kept = weakref.ref(h.data)
    y = (h * h).sum()
    del h
    gc.collect()
    assert kept() is not None
    y.backward()


def test_no_grad_as_decorator_also_when_nested_or_recursive():
    x = leaf([1.0, 2.0])

    @no_grad()
    def evaluate(depth: int) -> Tensor:
        assert not is_grad_enabled()
        return evaluate(depth - 1) if depth else x * 2.0

    y = evaluate(3)
    assert not y.requires_grad
    assert is_grad_enabled()
    guard = no_grad()
    with guard:
        with guard:
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            1 / 0
    assert is_grad_enabled()


# ---------------------------------------------------------------- the constructor
@pytest.mark.parametrize("data, dtype", [
    ([1, 2], np.float32), ([[1.5, 2.5]], np.float32), (3, np.float32), (2.5, np.float32),
    ([True, False], np.float32), (np.zeros(2), np.float64), (np.zeros(2, np.float32), np.float32),
    (np.arange(3), np.int64), (np.arange(3, dtype=np.int32), np.int32),
    (np.arange(3, dtype=np.uint8), np.uint8), (np.float64(1.5), np.float64),
])
def test_constructor_dtype_rules(data, dtype):
    assert Tensor(data).dtype == dtype


@pytest.mark.parametrize("data", ["abc", ["a", "b"], object(), np.array([object()]), None,
                                  1j, [1 + 2j], np.array([1j]), {"a": 1}])
def test_constructor_rejects_non_numbers(data):
    with pytest.raises(TypeError, match="Tensor: expected numbers"):
        Tensor(data)


@pytest.mark.parametrize("data", [np.arange(3), np.array([True]), np.arange(3, dtype=np.uint8)])
def test_only_float_tensors_can_require_grad(data):
    with pytest.raises(TypeError, match="floating-point"):
        Tensor(data, requires_grad=True)


def test_requires_grad_copies_the_callers_array():
    a = np.ones(3)
    t = Tensor(a, requires_grad=True)
    t.data -= 0.1  # an optimizer step
    np.testing.assert_array_equal(a, [1.0, 1.0, 1.0])
    assert np.shares_memory(Tensor(a).data, a)  # without requires_grad: wrapped, not copied
    assert Tensor(t).data is t.data


def test_repr_item_numpy_detach():
    x = Tensor(np.ones((2, 3), np.float32), requires_grad=True, name="W")
    y = x * 2.0
    assert all(s in repr(y) for s in ("shape=(2,3)", "dtype=float32", "op=mul"))
    assert all(s in repr(x) for s in ("shape=(2,3)", "dtype=float32", "requires_grad=True", "'W'"))
    s = y.sum()
    assert s.item() == 12.0 and isinstance(s.item(), float)
    with pytest.raises(ValueError, match=r"item: .*\(2,3\)"):
        y.item()
    assert y.numpy() is y.data
    d = y.detach()
    assert np.shares_memory(d.data, y.data) and not d.requires_grad and d.is_leaf
    (d * x).sum().backward()  # no gradient flows through the detached path
    np.testing.assert_array_equal(x.grad, d.data)


@pytest.mark.parametrize("f", [operator.add, operator.sub, operator.mul, operator.truediv, operator.matmul])
def test_ndarray_op_tensor_uses_the_reflected_operators(f):
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([[0.5, -1.5], [2.0, 1.0]])
    out = f(a, Tensor(b, requires_grad=True))
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.data, f(a, b))
    assert gradcheck(lambda t: f(a, t), b)


# ---------------------------------------------------------------- a user's ops
@given(x=shapes().flatmap(lambda s: float_arrays(s, np.float64, -5.0, 5.0)))
def test_user_softplus_passes_gradcheck(x):
    out = Tensor.apply(softplus, Tensor(x, requires_grad=True))
    np.testing.assert_allclose(out.data, np.log1p(np.exp(x)), rtol=1e-12)
    assert out.op == "softplus" and out.node.op is softplus  # the node keeps the function itself
    assert Tensor.apply(softplus, Tensor(x)).op is None  # nothing recorded, like PyTorch's grad_fn
    assert gradcheck(lambda t: Tensor.apply(softplus, t), x)


@given(shapes_=broadcastable_shapes(), data=st.data())
def test_user_hypot_broadcasts_and_passes_gradcheck(shapes_, data):
    a, b = (data.draw(nonzero_arrays(s)) for s in shapes_)
    out = Tensor.apply(hypot, Tensor(a), Tensor(b))
    np.testing.assert_allclose(out.data, np.sqrt(a ** 2 + b ** 2), rtol=1e-12)
    assert gradcheck(lambda s, t: Tensor.apply(hypot, s, t), a, b)


def test_user_ops_work_with_no_grad_accumulation_and_constants():
    a, b = leaf([[3.0], [1.0]]), leaf([4.0, 0.0])  # (2,1) with (2,): broadcasts to (2,2)
    with no_grad():
        assert not Tensor.apply(hypot, a, b).requires_grad
    for _ in range(2):
        Tensor.apply(hypot, a, b).sum().backward()
    y = np.hypot(a.data, b.data)
    np.testing.assert_allclose(a.grad, 2 * (a.data / y).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(b.grad, 2 * (b.data / y).sum(axis=0))
    c = leaf([0.0, 1.0])
    Tensor.apply(softplus, c * 2.0).sum().backward()  # composes with built-ins
    np.testing.assert_allclose(c.grad, 2 / (1 + np.exp(-2 * c.data)))
    Tensor.apply(hypot, np.array([3.0]), c).sum().backward()  # a constant first operand
    assert c.grad.shape == (2,)
