"""The VJP contract of every primitive in ``ops`` (see the ``ops`` docstring), checked op by op:

- backward leaves the forward output, the inputs and ``g`` as they were, and a VJP called a
  second time gives the same gradient (``backward(retain_graph=True)`` runs every VJP again);
- through the engine, every ``.data`` survives backward, with and without ``retain_graph``;
- a Fortran-ordered, strided or reversed ``g`` gives the gradient a C-ordered ``g`` gives;
- a negative axis means the positive axis it stands for, with and without keepdims.

``SAMPLES`` calls every primitive at least once; ``test_every_primitive_has_a_sample`` finds the
primitives by itself, so a new op cannot skip these checks.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

from tinygrad_mnist import Tensor, ops

_rng = np.random.default_rng(11)


def normal(*shape):
    return _rng.standard_normal(shape)


def positive(*shape):
    return _rng.uniform(0.5, 2.0, shape)


def away_from_zero(*shape):
    """Entries in +-[0.5, 2]: away from relu's kink and div's pole."""
    return positive(*shape) * _rng.choice([-1.0, 1.0], shape)


def distinct(*shape):
    """Entries 0.5 apart: max has no ties."""
    return _rng.permutation(int(np.prod(shape))).reshape(shape) * 0.5 - 3.0


class Sample(NamedTuple):
    op: str          # the primitive's name in ops
    args: tuple      # its positional inputs: float64 arrays, or integer labels
    kwargs: dict = {}


SAMPLES = {
    "add": Sample("add", (normal(3, 4), normal(4))),
    "sub": Sample("sub", (normal(3, 4), normal(3, 1))),
    "mul": Sample("mul", (normal(3, 4), normal(3, 4))),
    "mul-broadcast": Sample("mul", (normal(2, 3, 4), normal(3, 1))),
    "div": Sample("div", (normal(3, 4), away_from_zero(3, 4))),
    "neg": Sample("neg", (normal(3, 4),)),
    "power": Sample("power", (positive(3, 4),), {"p": 3}),
    "power-fractional": Sample("power", (positive(3, 4),), {"p": -1.5}),
    "exp": Sample("exp", (normal(3, 4),)),
    "log": Sample("log", (positive(3, 4),)),
    "sigmoid": Sample("sigmoid", (normal(3, 4),)),
    "tanh": Sample("tanh", (normal(3, 4),)),
    "relu": Sample("relu", (away_from_zero(3, 4),)),
    "astype": Sample("astype", (normal(3, 4),), {"dtype": np.float32}),
    "sum": Sample("sum", (normal(2, 3, 4),), {"axis": 1}),
    "sum-keepdims": Sample("sum", (normal(2, 3, 4),), {"axis": (0, 2), "keepdims": True}),
    "max": Sample("max", (distinct(2, 3, 4),), {"axis": 1}),
    "matmul": Sample("matmul", (normal(3, 4), normal(4, 5))),
    "matmul-W.T": Sample("matmul", (normal(3, 4), normal(5, 4).T)),  # the layer's x @ W.T
    "matmul-batched": Sample("matmul", (normal(2, 3, 4), normal(4, 5))),
    "matmul-vector": Sample("matmul", (normal(4), normal(2, 4, 5))),
    "linear": Sample("linear", (normal(3, 4), normal(5, 4), normal(5))),
    "linear-stacked": Sample("linear", (normal(2, 3, 4), normal(5, 4))),
    "reshape": Sample("reshape", (normal(3, 4),), {"shape": (2, 6)}),
    "transpose": Sample("transpose", (normal(2, 3, 4),), {"axes": (-2, -1, 0)}),
    "getitem-repeats": Sample("getitem", (normal(5, 4),), {"idx": (np.array([0, 2, 2, 4]), slice(1, 4))}),
    "getitem-basic": Sample("getitem", (normal(5, 4),), {"idx": (slice(1, 4), slice(None, None, 2))}),
    "softmax": Sample("softmax", (normal(3, 4),), {"axis": 0}),
    "log_softmax": Sample("log_softmax", (normal(3, 4),), {"axis": 0}),
    "softmax_cross_entropy-labels": Sample("softmax_cross_entropy", (normal(3, 4), np.array([0, 3, 3]))),
    "softmax_cross_entropy-soft": Sample("softmax_cross_entropy", (normal(3, 4), positive(3, 4))),
    "quadratic_cost-labels": Sample("quadratic_cost", (normal(3, 4), np.array([1, 0, 3]))),
    "quadratic_cost-values": Sample("quadratic_cost", (normal(3, 4), normal(3, 4))),
    "mse-labels": Sample("mse", (normal(3, 4), np.array([1, 0, 3]))),
    "mse-values": Sample("mse", (normal(2, 3, 4), normal(2, 3, 4))),
    "abs": Sample("abs", (away_from_zero(3, 4),)),
    "sqrt": Sample("sqrt", (positive(3, 4),)),
    "pow": Sample("pow", (positive(3, 4), normal(4))),
    "conv2d": Sample("conv2d", (normal(2, 3, 6, 5), normal(4, 3, 3, 2), normal(4)), {"stride": (2, 1), "padding": 1}),
    "conv2d-no-bias": Sample("conv2d", (normal(1, 2, 4, 4), normal(3, 2, 2, 2))),
    "max_pool2d": Sample("max_pool2d", (distinct(2, 3, 6, 4),), {"kernel": 2}),
    "max_pool2d-overlapping": Sample("max_pool2d", (distinct(1, 2, 5, 5),), {"kernel": 3, "stride": 1}),
    "avg_pool2d": Sample("avg_pool2d", (normal(2, 3, 6, 4),), {"kernel": (2, 3), "stride": 1}),
    "binary_cross_entropy": Sample("binary_cross_entropy",
                                   (_rng.uniform(0.05, 0.95, (3, 4)), _rng.uniform(0.0, 1.0, (3, 4)))),
}

def primitives() -> set[str]:
    """Every primitive (``ops.PRIMITIVES``; test_ops checks it lists every op in the ops files)."""
    return {f.__name__ for f in ops.PRIMITIVES}


def call(case: str):
    """(op function, fresh copies of the inputs, kwargs) for one sample."""
    sample = SAMPLES[case]
    return getattr(ops, sample.op), [a.copy() for a in sample.args], sample.kwargs


def incoming(out) -> np.ndarray:
    """A random dL/d(out), shaped and typed like out (the same for the same shape)."""
    out = np.asarray(out)
    return np.random.default_rng(out.size).standard_normal(out.shape).astype(out.dtype)


def test_every_primitive_has_a_sample():
    found = primitives()
    assert {"add", "exp", "matmul", "softmax_cross_entropy"} <= found  # the discovery works
    sampled = {s.op for s in SAMPLES.values()}
    assert sampled == found, (f"primitives without a sample: {sorted(found - sampled)}; "
                              f"samples of no primitive: {sorted(sampled - found)}")


# ---------------------------------------------------------------- nothing is mutated
@pytest.mark.parametrize("case", sorted(SAMPLES))
def test_vjps_leave_output_inputs_and_g_alone_and_repeat_exactly(case):
    """Guards against a VJP that works in place on what the forward saved (y *= g), on g, or
    on an input: the gradient can be right the first time while ``.data`` is already wrong."""
    op, args, kwargs = call(case)
    kept = [a.copy() for a in args]
    out, vjps = op(*args, **kwargs)
    out_kept = np.array(out, copy=True)
    g = incoming(out)
    g_kept = g.copy()
    first = [None if vjp is None else np.array(vjp(g), copy=True) for vjp in vjps]
    np.testing.assert_array_equal(out, out_kept, err_msg="backward changed the forward output")
    second = [None if vjp is None else np.array(vjp(g)) for vjp in vjps]
    for i, (a, k) in enumerate(zip(args, kept)):
        np.testing.assert_array_equal(a, k, err_msg=f"the op changed its input {i}")
    np.testing.assert_array_equal(g, g_kept, err_msg="a VJP wrote into g")
    for i, (f, s) in enumerate(zip(first, second)):
        if f is not None:
            np.testing.assert_array_equal(s, f, err_msg=f"VJP {i} gave another gradient the second time")


@pytest.mark.parametrize("retain_graph", [True, False])
@pytest.mark.parametrize("case", sorted(SAMPLES))
def test_backward_leaves_every_data_alone(case, retain_graph):
    """The same through the engine: after backward, the output and the inputs hold the values
    of the forward; with retain_graph, a second backward adds the same gradient again."""
    op, args, kwargs = call(case)
    inputs = [Tensor(a, requires_grad=True) if a.dtype.kind == "f" else a for a in args]
    leaves = [t for t in inputs if isinstance(t, Tensor)]
    out = Tensor.apply(op, *inputs, **kwargs)
    before = [t.data.copy() for t in [out, *leaves]]
    g = incoming(out.data)
    out.backward(g, retain_graph=retain_graph)
    first = [t.grad.copy() for t in leaves]
    for t, kept in zip([out, *leaves], before):
        np.testing.assert_array_equal(t.data, kept, err_msg="backward changed a tensor's .data")
    if retain_graph:
        out.backward(g)
        for t, kept in zip([out, *leaves], before):
            np.testing.assert_array_equal(t.data, kept, err_msg="a second backward changed .data")
        for t, grad in zip(leaves, first):
            np.testing.assert_allclose(t.grad, 2 * grad, rtol=1e-15, err_msg="the second backward differs")


# ---------------------------------------------------------------- the layout of g
def strided(g: np.ndarray) -> np.ndarray:
    """g's values in a non-contiguous view: every other element of a wider buffer."""
    buffer = np.zeros(g.shape[:-1] + (2 * g.shape[-1],), g.dtype)
    buffer[..., ::2] = g
    return buffer[..., ::2]


LAYOUTS = {
    "Fortran-ordered": np.asfortranarray,
    "strided": strided,
    "reversed": lambda g: np.flip(np.flip(g).copy()),  # negative strides
}


def layout_cases() -> list[tuple[str, str]]:
    """(sample, layout) wherever the layout really changes g's memory order (not for 0-d losses)."""
    cases = []
    for case in sorted(SAMPLES):
        op, args, kwargs = call(case)
        g = incoming(op(*args, **kwargs)[0])
        cases += [(case, name) for name, lay in sorted(LAYOUTS.items())
                  if g.ndim and not lay(g).flags.c_contiguous]
    return cases


@pytest.mark.parametrize("case, layout", layout_cases())
def test_gradient_does_not_depend_on_the_memory_layout_of_g(case, layout):
    """Guards against VJPs that read g's buffer in memory order (``reshape(order="A")``,
    ``ravel(order="K")``, raw ``.data`` access): the engine hands VJPs transposed views."""
    op, args, kwargs = call(case)
    out, vjps = op(*args, **kwargs)
    g = incoming(out)
    other = LAYOUTS[layout](g)
    np.testing.assert_array_equal(other, g)
    for i, vjp in enumerate(vjps):
        if vjp is not None:
            np.testing.assert_allclose(vjp(other), vjp(g), rtol=1e-13, atol=1e-15,
                                       err_msg=f"VJP {i} with a {layout} g")


def test_reshape_then_transpose_backprops_through_the_engine():
    """The engine's own way of producing a Fortran-ordered g: transpose's VJP is a view."""
    x = normal(3, 4)
    t = Tensor(x, requires_grad=True)
    g = normal(6, 2)
    t.reshape(2, 6).T.backward(g)
    np.testing.assert_array_equal(t.grad, g.T.reshape(3, 4))


# ---------------------------------------------------------------- negative axes
X3 = distinct(2, 3, 4)  # no two sizes alike: a wrongly normalised axis changes the shape
AXES = [(-1, 2), (-2, 1), (-3, 0), ((0, -1), (0, 2)), ((-3, -2), (0, 1))]


def value_and_grad(name: str, **settings):
    t = Tensor(X3.copy(), requires_grad=True)
    y = getattr(t, name)(**settings)
    y.backward(incoming(y.data))
    return y.data, t.grad


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("negative, positive", AXES)
@pytest.mark.parametrize("name", ["sum", "mean", "max"])
def test_a_negative_reduction_axis_means_the_positive_one(name, negative, positive, keepdims):
    """Guards against a VJP that normalises a negative axis against the output's ndim."""
    y_neg, grad_neg = value_and_grad(name, axis=negative, keepdims=keepdims)
    y_pos, grad_pos = value_and_grad(name, axis=positive, keepdims=keepdims)
    np.testing.assert_array_equal(y_neg, y_pos)
    np.testing.assert_array_equal(grad_neg, grad_pos)


@pytest.mark.parametrize("negative, positive", AXES[:3])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_a_negative_softmax_axis_means_the_positive_one(name, negative, positive):
    y_neg, grad_neg = value_and_grad(name, axis=negative)
    y_pos, grad_pos = value_and_grad(name, axis=positive)
    np.testing.assert_array_equal(y_neg, y_pos)
    np.testing.assert_allclose(grad_neg, grad_pos, rtol=1e-13, atol=1e-15)
