"""Per op: the forward equals NumPy (or the textbook formula); the VJPs equal finite differences.

``CASES`` names one case per public way to call an op (``x + y``, ``x + 2``, ``2 + x``,
``x.sum(axis)``, ...): the ``ops`` primitive it must record and a strategy of Examples. Three
property tests run over every case: the forward in float64 and float32 against NumPy, the
dtype and shape of every ``.grad``, and the gradient via ``gradcheck`` in float64.
``test_every_primitive_has_a_gradient_case`` finds the primitives in ``ops`` by itself, so a new
op cannot skip its gradient test.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import operator
import warnings
from operator import methodcaller
from typing import Callable, NamedTuple, Optional

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (batch_sizes, broadcastable_shapes, conv2d_settings, distinct_arrays, float_arrays,
                        index_expressions, logits_and_labels, logits_and_probabilities,
                        matmul_shapes, nonzero_arrays, pool2d_settings, reduction_axes, shapes)

from tinygrad_mnist import ShapeError, Tensor, gradcheck, losses, manual, ops


class Example(NamedTuple):
    """One drawn call of an op.

    fn(*args) -> Tensor, where args are ``inputs`` with every float array made a Tensor that
    requires grad (integer labels stay arrays, as ``gradcheck`` passes them);
    reference(*float64 arrays) -> the expected forward; out_dtype: the output dtype when it is
    not the inputs' (astype); check: keyword arguments for ``gradcheck``.
    """
    fn: Callable
    inputs: tuple
    reference: Callable
    out_dtype: Optional[type] = None
    check: dict = {}


def like(const: np.ndarray, t: Tensor) -> np.ndarray:
    """A constant in the dtype under test, so float32 cases stay float32 end to end."""
    return np.asarray(const, dtype=t.dtype)


def floats(shape, lo: float = -3.0, hi: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    return float_arrays(shape, np.float64, lo, hi)


def np_log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """The textbook formula, unshifted: fine for the bounded inputs of these tests."""
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def one_hot(labels: np.ndarray, C: int) -> np.ndarray:
    return np.eye(C)[labels]


# ---------------------------------------------------------------- elementwise
SCALARS = st.floats(-3.0, 3.0)
NONZERO_SCALARS = st.one_of(st.floats(0.25, 3.0), st.floats(-3.0, -0.25))
BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}


@st.composite
def binary(draw, name: str) -> Example:
    """a (op) b with broadcasting shapes; scalars and ndarrays on either side (reflected ops)."""
    f = BINARY[name]
    sa, sb = draw(broadcastable_shapes())
    a = draw(floats(sa))
    b = draw(nonzero_arrays(sb) if name == "div" else floats(sb))  # b is always the denominator
    form = draw(st.sampled_from(["tensor, tensor", "tensor, scalar", "scalar, tensor", "ndarray, tensor"]))
    if form == "tensor, tensor":
        return Example(f, (a, b), f)
    if form == "tensor, scalar":
        s = draw(NONZERO_SCALARS if name == "div" else SCALARS)
        return Example(lambda x: f(x, s), (a,), lambda x: f(x, s))
    s = draw(SCALARS)
    if form == "scalar, tensor":
        return Example(lambda y: f(s, y), (b,), lambda y: f(s, y))
    return Example(lambda y: f(like(a, y), y), (b,), lambda y: f(a, y))


@st.composite
def unary(draw, call: Callable, reference: Callable, values=floats) -> Example:
    return Example(call, (draw(values(draw(shapes()))),), reference)


@st.composite
def power(draw) -> Example:
    p = draw(st.sampled_from([0, 1, 2, 3, -1, -2, 2.0, 0.5, 1.5, -0.5, -1.5]))
    shape = draw(shapes())
    # integer powers are defined for negative x; fractional ones only for x > 0
    x = draw(nonzero_arrays(shape) if float(p).is_integer() else floats(shape, 0.25, 3.0))
    return Example(lambda t: t ** p, (x,), lambda x: x ** p)


@st.composite
def tensor_power(draw) -> Example:
    """x ** e with an array exponent (ops.pow): both sides get a gradient; x > 0 so ln x exists."""
    sa, sb = draw(broadcastable_shapes())
    x, e = draw(floats(sa, 0.25, 3.0)), draw(floats(sb, -2.0, 2.0))
    form = draw(st.sampled_from(["tensor ** tensor", "t.pow(e)", "scalar ** tensor", "tensor ** ndarray"]))
    if form == "tensor ** tensor":
        return Example(operator.pow, (x, e), np.power)
    if form == "t.pow(e)":
        return Example(lambda a, b: a.pow(b), (x, e), np.power)
    if form == "scalar ** tensor":
        s = draw(st.floats(0.25, 3.0))
        return Example(lambda b: s ** b, (e,), lambda b: s ** b)
    return Example(lambda a: a ** like(e, a), (x,), lambda a: a ** e)


@st.composite
def astype(draw) -> Example:
    x = draw(floats(draw(shapes())))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    # through float32 the loss moves in float32 steps: a larger eps keeps round-off out of it
    check = {"eps": 1e-2, "atol": 1e-3, "rtol": 1e-3} if dtype == np.float32 else {}
    return Example(lambda t: t.astype(dtype), (x,), lambda x: x.astype(dtype), dtype, check)


# ---------------------------------------------------------------- reductions
@st.composite
def reduction(draw, name: str) -> Example:
    shape = draw(shapes())
    axis = draw(reduction_axes(len(shape)))
    keepdims = draw(st.booleans())
    x = draw(distinct_arrays(shape) if name == "max" else floats(shape))
    if axis is None and not keepdims and draw(st.booleans()):
        return Example(lambda t: getattr(t, name)(), (x,), getattr(np, name))
    return Example(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), (x,),
                   lambda x: getattr(np, name)(x, axis=axis, keepdims=keepdims))


# ---------------------------------------------------------------- linear algebra
@st.composite
def matmul(draw) -> Example:
    """1-D, 2-D and batched N-D operands with broadcasting batch dims (np.matmul's rules)."""
    sa, sb = draw(matmul_shapes(max_batch_dims=2, max_side=3))
    a, b = draw(floats(sa)), draw(floats(sb))
    form = draw(st.sampled_from(["a @ b", "a.matmul(b)", "ndarray @ b"]))
    if form == "a @ b":
        return Example(operator.matmul, (a, b), np.matmul)
    if form == "a.matmul(b)":
        return Example(lambda x, y: x.matmul(y), (a, b), np.matmul)
    return Example(lambda y: like(a, y) @ y, (b,), lambda y: a @ y)


@st.composite
def linear(draw) -> Example:
    """ops.linear: x (n_in,), (B, n_in) or (B1, B2, n_in); W (n_out, n_in); b (n_out,) or none."""
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    lead = draw(st.sampled_from([(), (draw(batch_sizes(1, 4)),), (2, draw(batch_sizes(1, 3)))]))
    x, W = draw(floats(lead + (n_in,))), draw(floats((n_out, n_in)))
    if draw(st.booleans()):
        return Example(lambda x, W, b: Tensor.apply(ops.linear, x, W, b),
                       (x, W, draw(floats((n_out,)))), lambda x, W, b: x @ W.T + b)
    return Example(lambda x, W: Tensor.apply(ops.linear, x, W), (x, W), lambda x, W: x @ W.T)


# ---------------------------------------------------------------- shape
@st.composite
def reshape(draw) -> Example:
    shape = draw(shapes())
    size = int(np.prod(shape))
    candidates = [(size,), (-1,), shape[::-1], (1, size), (size, 1), shape + (1,), (1,) + shape]
    if len(shape) >= 2:
        candidates.append((shape[0] * shape[1],) + shape[2:])
    if size == 1:
        candidates.append(())
    new = draw(st.sampled_from(candidates))
    x = draw(floats(shape))
    if draw(st.booleans()):
        return Example(lambda t: t.reshape(*new), (x,), lambda x: x.reshape(new))
    return Example(lambda t: t.reshape(new), (x,), lambda x: x.reshape(new))


@st.composite
def transpose(draw) -> Example:
    shape = draw(shapes())
    x = draw(floats(shape))
    n = len(shape)
    form = draw(st.sampled_from([".T", ".transpose()", ".transpose(*axes)", ".transpose(axes)"]))
    if form == ".T":
        return Example(lambda t: t.T, (x,), lambda x: x.T)
    if form == ".transpose()":
        return Example(lambda t: t.transpose(), (x,), np.transpose)
    axes = tuple(draw(st.sampled_from([a, a - n])) for a in draw(st.permutations(range(n))))
    if form == ".transpose(*axes)":
        return Example(lambda t: t.transpose(*axes), (x,), lambda x: x.transpose(axes))
    return Example(lambda t: t.transpose(axes), (x,), lambda x: x.transpose(axes))


@st.composite
def getitem(draw) -> Example:
    shape = draw(shapes(min_dims=1))
    idx = draw(index_expressions(shape))
    return Example(lambda t: t[idx], (draw(floats(shape)),), lambda x: x[idx])


@st.composite
def flatten(draw) -> Example:
    """Tensor.flatten (PyTorch's meaning: all axes by default), a reshape underneath."""
    shape = draw(shapes())
    x = draw(floats(shape))
    if not shape or draw(st.booleans()):
        return Example(lambda t: t.flatten(), (x,), lambda x: x.reshape(-1))
    start = draw(st.integers(-len(shape), len(shape) - 1))
    end = draw(st.integers(start % len(shape), len(shape) - 1))
    merged = shape[:start % len(shape)] + (-1,) + shape[end + 1:]
    return Example(lambda t: t.flatten(start, end), (x,), lambda x: x.reshape(merged))


# ---------------------------------------------------------------- convolution and pooling
@st.composite
def conv2d(draw) -> Example:
    """conv2d with and without bias, as a Tensor method or through Tensor.apply; the forward
    against manual's explicit loops."""
    s = draw(conv2d_settings())
    x, W = draw(floats(s["x"])), draw(floats(s["W"]))
    settings = {"stride": s["stride"], "padding": s["padding"]}
    if draw(st.booleans()):
        return Example(lambda x, W, b: x.conv2d(W, b, **settings), (x, W, draw(floats(s["W"][:1]))),
                       lambda x, W, b: manual.conv2d_forward(x, W, b, **settings))
    return Example(lambda x, W: Tensor.apply(ops.conv2d, x, W, **settings), (x, W),
                   lambda x, W: manual.conv2d_forward(x, W, None, **settings))


@st.composite
def pool2d(draw, name: str) -> Example:
    """max_pool2d (distinct values: a finite difference never moves a window's maximum) and
    avg_pool2d, with overlapping, touching and gapped windows."""
    s = draw(pool2d_settings())
    x = draw(distinct_arrays(s["x"]) if name == "max_pool2d" else floats(s["x"]))
    kernel, stride = s["kernel"], s["stride"]
    reference = manual.max_pool_forward if name == "max_pool2d" else manual.avg_pool_forward
    if stride is None and draw(st.booleans()):
        return Example(lambda t: getattr(t, name)(kernel), (x,), lambda x: reference(x, kernel))
    return Example(lambda t: getattr(t, name)(kernel, stride), (x,), lambda x: reference(x, kernel, stride))


# ---------------------------------------------------------------- softmax family
@st.composite
def softmax_family(draw, name: str) -> Example:
    shape = draw(shapes(min_dims=1))
    x = draw(floats(shape))
    reference = np_softmax if name == "softmax" else np_log_softmax
    if draw(st.booleans()):
        return Example(lambda t: getattr(t, name)(), (x,), lambda x: reference(x, -1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return Example(lambda t: getattr(t, name)(axis), (x,), lambda x: reference(x, axis))


# ---------------------------------------------------------------- losses
LABEL_FORMS = {"ndarray": lambda y: y, "list": lambda y: y.tolist(), "Tensor": Tensor}


@st.composite
def loss_call(draw, name: str) -> Callable:
    """The loss as a Tensor method or through ``losses``; integer labels as array, list or Tensor."""
    labels_as = LABEL_FORMS[draw(st.sampled_from(sorted(LABEL_FORMS)))]
    method = draw(st.booleans())

    def call(a, target):
        if isinstance(target, np.ndarray) and np.issubdtype(target.dtype, np.integer):
            target = labels_as(target)
        return getattr(a, name)(target) if method else getattr(losses, name)(a, target)
    return call


def _sce_labels(z, y):
    return -np_log_softmax(z, 1)[np.arange(len(y)), y].mean()


@st.composite
def softmax_cross_entropy(draw) -> Example:
    call = draw(loss_call("softmax_cross_entropy"))
    if draw(st.booleans()):
        return Example(call, draw(logits_and_labels(max_batch=6, max_classes=6)), _sce_labels)
    return Example(call, draw(logits_and_probabilities(max_batch=6, max_classes=6)),
                   lambda z, p: -(p * np_log_softmax(z, 1)).sum() / len(z))


@st.composite
def quadratic_cost(draw) -> Example:
    call = draw(loss_call("quadratic_cost"))
    a, labels = draw(logits_and_labels(max_batch=6, max_classes=6, bound=1.5))
    target = draw(st.sampled_from(["labels", "one-hot", "values"]))
    if target == "labels":
        return Example(call, (a, labels),
                       lambda a, y: 0.5 * ((a - one_hot(y, a.shape[1])) ** 2).sum() / len(a))
    y = one_hot(labels, a.shape[1]) if target == "one-hot" else draw(floats(a.shape))
    return Example(call, (a, y), lambda a, y: 0.5 * ((a - y) ** 2).sum() / len(a))


@st.composite
def mse(draw) -> Example:
    call = draw(loss_call("mse"))
    if draw(st.booleans()):
        a, labels = draw(logits_and_labels(max_batch=6, max_classes=6, bound=1.5))
        return Example(call, (a, labels), lambda a, y: ((a - one_hot(y, a.shape[1])) ** 2).mean())
    shape = draw(shapes())
    return Example(call, (draw(floats(shape)), draw(floats(shape))), lambda a, y: ((a - y) ** 2).mean())


def _bce(p, y):
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()


@st.composite
def binary_cross_entropy(draw) -> Example:
    call = draw(loss_call("binary_cross_entropy"))
    shape = draw(shapes())
    p = draw(floats(shape, 0.05, 0.95))  # inside the clip, away from log's pole
    if draw(st.booleans()):
        y = np.asarray(draw(floats(shape, 0.0, 1.0)) > 0.5).astype(np.int64)  # 0/1 labels
    else:
        y = draw(floats(shape, 0.0, 1.0))
    return Example(call, (p, y), _bce)


# ---------------------------------------------------------------- the table
# case name -> (the ops primitive its output must come from, strategy of Examples)
CASES: dict[str, tuple[str, st.SearchStrategy[Example]]] = {
    **{name: (name, binary(name)) for name in BINARY},
    "neg": ("neg", unary(operator.neg, np.negative)),
    "power": ("power", power()),
    "pow": ("pow", tensor_power()),
    "abs": ("abs", unary(abs, np.abs, nonzero_arrays)),
    "abs method": ("abs", unary(methodcaller("abs"), np.abs, nonzero_arrays)),
    "sqrt": ("sqrt", unary(methodcaller("sqrt"), np.sqrt, lambda s: floats(s, 0.25, 3.0))),
    "exp": ("exp", unary(methodcaller("exp"), np.exp)),
    "log": ("log", unary(methodcaller("log"), np.log, lambda s: floats(s, 0.1, 5.0))),
    "sigmoid": ("sigmoid", unary(methodcaller("sigmoid"), lambda x: 1 / (1 + np.exp(-x)),
                                 lambda s: floats(s, -6.0, 6.0))),
    "tanh": ("tanh", unary(methodcaller("tanh"), np.tanh)),
    "relu": ("relu", unary(methodcaller("relu"), lambda x: np.maximum(x, 0), nonzero_arrays)),
    "astype": ("astype", astype()),
    "sum": ("sum", reduction("sum")),
    "mean": ("mul", reduction("mean")),  # mean is sum * (1/n): two recorded ops
    "max": ("max", reduction("max")),
    "matmul": ("matmul", matmul()),
    "linear": ("linear", linear()),
    "reshape": ("reshape", reshape()),
    "transpose": ("transpose", transpose()),
    "getitem": ("getitem", getitem()),
    "flatten": ("reshape", flatten()),  # a reshape, not a primitive of its own
    "conv2d": ("conv2d", conv2d()),
    "max_pool2d": ("max_pool2d", pool2d("max_pool2d")),
    "avg_pool2d": ("avg_pool2d", pool2d("avg_pool2d")),
    "softmax": ("softmax", softmax_family("softmax")),
    "log_softmax": ("log_softmax", softmax_family("log_softmax")),
    "softmax_cross_entropy": ("softmax_cross_entropy", softmax_cross_entropy()),
    "quadratic_cost": ("quadratic_cost", quadratic_cost()),
    "mse": ("mse", mse()),
    "binary_cross_entropy": ("binary_cross_entropy", binary_cross_entropy()),
}

# Public functions of ops that are helpers, not ops (they return no (out, vjps) pair).
HELPERS = {"unbroadcast", "summed_axes", "broadcast_message", "constant"}
TOLERANCE = {np.float64: {"rtol": 1e-10, "atol": 1e-12}, np.float32: {"rtol": 1e-4, "atol": 1e-4}}


def primitive_ops() -> set[str]:
    """Every public function defined in any module of the ``ops`` package except the helpers:
    the ops themselves, found in the files, so an op that is not exported still counts."""
    found = set()
    for info in pkgutil.iter_modules(ops.__path__):
        module = importlib.import_module(f"{ops.__name__}.{info.name}")
        found |= {name for name, f in vars(module).items()
                  if inspect.isfunction(f) and f.__module__ == module.__name__ and not name.startswith("_")}
    return found - HELPERS


def test_every_op_is_exported_and_listed_in_primitives():
    assert primitive_ops() == {f.__name__ for f in ops.PRIMITIVES}
    assert all(getattr(ops, f.__name__) is f for f in ops.PRIMITIVES)


def cast(inputs: tuple, dtype) -> tuple:
    """Float arrays to ``dtype``; integer labels untouched."""
    return tuple(x.astype(dtype) if np.issubdtype(x.dtype, np.floating) else x for x in inputs)


def as_args(inputs: tuple) -> list:
    """What ``gradcheck`` hands ``fn``: float arrays as Tensors that require grad, labels as arrays."""
    return [Tensor(x, requires_grad=True) if np.issubdtype(x.dtype, np.floating) else x for x in inputs]


def test_every_primitive_has_a_gradient_case():
    discovered = primitive_ops()
    assert {"add", "matmul", "softmax_cross_entropy"} <= discovered  # the discovery works
    assert HELPERS <= set(vars(ops))  # no stale exclusions
    by_op = {op for op, _ in CASES.values()}
    assert by_op == discovered, (f"ops without a gradient case: {sorted(discovered - by_op)}; "
                                 f"cases naming no op: {sorted(by_op - discovered)}")


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data(), dtype=st.sampled_from([np.float64, np.float32]))
def test_forward_matches_numpy_and_grads_keep_dtype(name, data, dtype):
    op, strategy = CASES[name]
    example = data.draw(strategy)
    inputs = cast(example.inputs, dtype)
    args = as_args(inputs)
    out = example.fn(*args)
    assert out.op == op
    expected = np.asarray(example.reference(*cast(inputs, np.float64)))
    assert out.dtype == (example.out_dtype or dtype)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, **TOLERANCE[dtype])

    out.backward(np.random.default_rng(0).standard_normal(out.shape))
    for t in args:
        if isinstance(t, Tensor):
            assert t.grad is not None and t.grad.dtype == t.dtype and t.grad.shape == t.shape
            assert np.isfinite(t.grad).all()


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
def test_gradient_matches_finite_differences(name, data):
    example = data.draw(CASES[name][1])
    assert gradcheck(example.fn, *example.inputs, **example.check)


# ---------------------------------------------------------------- op by op, by hand
@pytest.mark.parametrize("sa, sb", [
    ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((2, 1, 2, 3), (5, 3, 4)),
    ((3,), (5, 3, 4)), ((5, 2, 3), (3,)), ((1, 2, 3), (4, 3, 2)),
])
def test_matmul_every_operand_kind(sa, sb):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    np.testing.assert_allclose((Tensor(a) @ Tensor(b)).data, a @ b, rtol=1e-12)
    assert gradcheck(operator.matmul, a, b)


@given(data=st.data())
def test_linear_equals_primitives_in_values_and_gradients(data):
    example = data.draw(linear())
    fused_args, plain_args = as_args(example.inputs), as_args(example.inputs)
    fused = example.fn(*fused_args)
    x, W, *b = plain_args
    plain = x @ W.T + b[0] if b else x @ W.T
    np.testing.assert_allclose(fused.data, plain.data, rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(0).standard_normal(fused.shape)
    fused.backward(g)
    plain.backward(g)
    for f, p in zip(fused_args, plain_args):
        assert f.grad.shape == p.grad.shape
        np.testing.assert_allclose(f.grad, p.grad, rtol=1e-12, atol=1e-12)


def test_getitem_repeated_indices_add_their_gradients():
    x = Tensor(np.arange(4.0), requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0, 0.0])
    m = Tensor(np.zeros((2, 3)), requires_grad=True)
    (m[np.array([1, 1]), np.array([2, 2])] * Tensor(np.array([2.0, 5.0]))).sum().backward()
    np.testing.assert_array_equal(m.grad, [[0, 0, 0], [0, 0, 7.0]])


def test_transpose_with_negative_axes():
    x = np.arange(24.0).reshape(2, 3, 4)
    t = Tensor(x, requires_grad=True)
    y = t.transpose(-1, 0, 1)
    np.testing.assert_array_equal(y.data, x.transpose(2, 0, 1))
    g = np.arange(24.0).reshape(4, 2, 3)
    y.backward(g)
    np.testing.assert_array_equal(t.grad, g.transpose(1, 2, 0))
    # on a cube a wrong inverse permutation would even keep the shape: compare the values
    assert gradcheck(lambda t: t.transpose(0, -1, -2), np.random.default_rng(2).standard_normal((3, 3, 3)))


def test_max_splits_the_gradient_evenly_among_ties():
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]]), requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 0.5, 0.5], [1, 0, 0]])


def test_reshape_accepts_both_call_forms():
    x = Tensor(np.arange(6.0))
    assert x.reshape(2, 3).shape == x.reshape((2, 3)).shape == x.reshape([2, 3]).shape == (2, 3)
    with pytest.raises(ShapeError, match=r"reshape: .*\(6,\)"):
        x.reshape(4, 2)


def test_astype_gradient_comes_back_in_the_input_dtype():
    for src, dst in [(np.float32, np.float64), (np.float64, np.float32)]:
        x = Tensor(np.array([1.0, 2.0], dtype=src), requires_grad=True)
        y = x.astype(dst)
        assert y.dtype == dst
        (y * 3.0).sum().backward()
        assert x.grad.dtype == src
        np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_power_zero_has_zero_gradient_everywhere():
    """d/dx x**0 = 0, also at x = 0 (where p * x**(p-1) would be 0 * inf = nan)."""
    x = Tensor(np.array([0.0, 2.0, -1.0]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = x ** 0
        y.sum().backward()
    np.testing.assert_array_equal(y.data, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])


def test_a_tensor_exponent_records_pow_and_power_itself_takes_scalars_only():
    x = Tensor(np.ones(3), requires_grad=True)
    assert (x ** Tensor(np.ones(3))).op == "pow" and (x ** np.ones(3)).op == "pow" and (x ** 2).op == "power"
    with pytest.raises(TypeError, match="scalar"):
        Tensor.apply(ops.power, x, p=np.ones(3))


def test_pow_at_zero_follows_pytorch():
    """0 ** 0 = 1 with dL/dx = 0 (not 0 * 0**-1 = nan); 0 ** p, p > 0, has dL/dp = 0 (not 0 * ln 0)."""
    x = Tensor(np.array([0.0, 0.0, 2.0]), requires_grad=True)
    p = Tensor(np.array([0.0, 2.0, 3.0]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (x ** p).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 12.0])
    np.testing.assert_allclose(p.grad, [0.0, 0.0, 8 * np.log(2.0)])


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int8])
@pytest.mark.parametrize("method, reference", [
    ("exp", np.exp), ("tanh", np.tanh), ("sigmoid", lambda x: 1 / (1 + np.exp(-x))),
    ("relu", lambda x: np.maximum(x, 0)), ("sum", np.sum), ("max", np.max),
])
def test_integer_tensors_follow_numpy_dtype_rules(method, reference, dtype):
    x = np.array([[0, 1, 2], [3, 1, 0]]).astype(dtype)
    out = getattr(Tensor(x), method)()
    expected = np.asarray(reference(x))
    assert out.dtype == expected.dtype
    np.testing.assert_allclose(out.data, expected, rtol=1e-3)


def test_losses_give_the_textbook_values():
    a = np.array([[0.2, 0.8], [0.6, 0.4]])
    y = np.array([1, 0])
    assert Tensor(a).quadratic_cost(y).item() == pytest.approx(0.5 * (0.04 + 0.04 + 0.16 + 0.16) / 2)
    assert Tensor(a).mse(y).item() == pytest.approx((0.04 + 0.04 + 0.16 + 0.16) / 4)
    assert Tensor(a).mse(one_hot(y, 2)).item() == pytest.approx(0.1)
    assert Tensor(a).binary_cross_entropy(one_hot(y, 2)).item() == pytest.approx(
        -(np.log(0.8) * 2 + np.log(0.6) * 2) / 4)
    assert Tensor(a).softmax_cross_entropy(y).item() == pytest.approx(
        -np.mean(np.log(np_softmax(a, 1))[[0, 1], [1, 0]]))


@pytest.mark.parametrize("loss", ["softmax_cross_entropy", "quadratic_cost", "mse"])
def test_losses_reject_labels_out_of_range_and_wrong_shapes(loss):
    a = Tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=rf"{loss}: labels must lie in \[0, 3\)"):
        getattr(a, loss)(np.array([0, 3]))
    with pytest.raises(ShapeError, match=rf"{loss}: .*\(2,3\).*\(3,\)"):
        getattr(a, loss)(np.array([0, 1, 2]))


def test_binary_cross_entropy_rejects_a_target_of_another_shape():
    with pytest.raises(ShapeError, match=r"binary_cross_entropy: .*\(2,3\).*\(3,\)"):
        Tensor(np.full((2, 3), 0.5)).binary_cross_entropy(np.ones(3))
