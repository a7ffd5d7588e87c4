"""Elementwise primitives: add, sub, mul, div, pow (broadcasting), neg, power, abs, sqrt, exp, log,
sigmoid, tanh, relu, astype; ``unbroadcast``, the one helper that sums a broadcast gradient back to an
input's shape; and ``constant``, numbers as cached 0-d arrays for the kernels.
Leaves out: reductions, matrix products, losses (their own files).
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, fmt_shape as _fmt


_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/"}


def broadcast_message(name: str, sa: tuple, sb: tuple) -> str:
    """Why shapes ``sa`` and ``sb`` do not broadcast, as op ``name``'s ShapeError says it.

    Names the first axis pair (counted from the last axis) that breaks NumPy's rule, and
    suggests the reshape when a 1-D operand matches the other's FIRST axis, e.g.
    ``add: (2,3) + (2,): shapes do not broadcast: axis -1 has sizes 3 and 2; ...``.
    """
    i, m, n = 0, None, None
    for i in range(1, min(len(sa), len(sb)) + 1):
        m, n = sa[-i], sb[-i]
        if m != n and m != 1 and n != 1:
            break
    where = f"axis {-i} has sizes {m} and {n}" if m is not None else "they differ"
    hint = ""
    if len(sa) == 2 and len(sb) == 1 and sb[0] == sa[0] != sa[1]:
        hint = f"; to pair b with the rows of a, use b[:, None] (shape ({sb[0]},1))"
    elif len(sa) == 1 and len(sb) == 2 and sa[0] == sb[0] != sb[1]:
        hint = f"; to pair a with the rows of b, use a[:, None] (shape ({sa[0]},1))"
    return (f"{name}: {_fmt(sa)} {_SYMBOLS.get(name, 'and')} {_fmt(sb)}: shapes do not broadcast: "
            f"{where}; aligned at the last axis, each pair of sizes must be equal or one of them 1{hint}")


def summed_axes(g_shape: tuple, shape: tuple) -> tuple:
    """The axes of a broadcast gradient (``g_shape``) that belong to no axis of an input of
    ``shape``: the leading ones broadcasting added and the ones it stretched from size 1."""
    extra = len(g_shape) - len(shape)
    return tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1 and g_shape[extra + i] != 1)


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a gradient of a broadcast result back to an input's ``shape``.

    ``g`` has the broadcast shape; the ``summed_axes`` are summed, so the result has exactly
    ``shape``. Raises ShapeError when ``shape`` could not have broadcast to ``g.shape``.
    """
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra > 0 and g.shape[extra:] == shape:  # only leading axes added (a bias): one reduction
        return np.add.reduce(g, axis=0 if extra == 1 else tuple(range(extra)))
    if extra < 0 or any(n != 1 and n != m for n, m in zip(shape, g.shape[extra:])):
        raise ShapeError(f"unbroadcast: a gradient of shape {_fmt(g.shape)} cannot belong "
                         f"to an input of shape {_fmt(shape)}")
    return g.sum(axis=summed_axes(g.shape, shape), keepdims=True).reshape(shape)


# ---------------------------------------------------------------- elementwise, binary
def add(a, b):
    """y = a + b (broadcasting). dL/da = g, dL/db = g, each summed back to its shape."""
    return a + b, (lambda g: g, lambda g: g)
add.formulas = ("{g}", "{g}")


def sub(a, b):
    """y = a - b. A primitive rather than a + (-b): one graph node, bit-identical to NumPy."""
    return a - b, (lambda g: g, lambda g: -g)
sub.formulas = ("{g}", "-{g}")


def mul(a, b):
    """y = a * b (broadcasting). dL/da = g * b, dL/db = g * a."""
    return a * b, (lambda g: g * b, lambda g: g * a)
mul.formulas = ("{g} * {b}", "{g} * {a}")


def div(a, b):
    """y = a / b. dL/da = g / b, dL/db = -g * a / b**2 = -g * y / b.

    A primitive rather than a * b**-1, so ``x / 3`` equals NumPy's ``x / 3`` to the bit.
    """
    y = a / b
    return y, (lambda g: g / b, lambda g: -g * y / b)
div.formulas = ("{g} / {b}", "-{g} * {y.name} / {b.name}")


# ---------------------------------------------------------------- elementwise, unary
def neg(x):
    """y = -x. dL/dx = -g."""
    return -x, (lambda g: -g,)
neg.formulas = ("-{g}",)


def power(x, p: float):
    """y = x ** p for a scalar exponent p. dL/dx = g * p * x**(p-1)."""
    if not np.isscalar(p):
        raise TypeError(f"power: the exponent must be a Python or NumPy scalar, got {type(p).__name__}")
    if p == 0:  # x**0 = 1 has slope 0, also at x = 0 where p * x**(p-1) is 0 * inf = nan
        return x ** p, (lambda g: np.zeros_like(x),)
    return x ** p, (lambda g: g * p * x ** (p - 1),)
power.formulas = ("{g} * p {x.name}^(p-1)",)


def pow(x, p):  # noqa: A001 - NumPy's name (np.pow), on purpose
    """y = x ** p elementwise, the exponent an array too (broadcasting): ``t ** e``, ``2 ** t``.

    dL/dx = g * p * x**(p-1), dL/dp = g * y * ln x. As in PyTorch, dL/dx is 0 where p == 0
    (not 0 * x**-1 = nan at x = 0) and dL/dp is 0 where x == 0 and p >= 0 (not 0 * ln 0);
    a negative x has no real ln, so its dL/dp is NaN (as is y for a fractional p).
    """
    y = x ** p

    def vjp_x(g):
        with np.errstate(divide="ignore", invalid="ignore"):
            d = g * p * x ** (p - 1)
        return np.where(p == 0, 0, d)

    def vjp_p(g):
        with np.errstate(divide="ignore", invalid="ignore"):
            d = g * y * np.log(x)
        return np.where((x == 0) & (p >= 0), 0, d)
    return y, (vjp_x, vjp_p)
pow.formulas = ("{g} * {p.name} {x.name}^({p.name}-1)", "{g} * {y.name} * ln {x.name}")


def abs(x):  # noqa: A001 - NumPy's name, on purpose
    """y = |x|. dL/dx = g * sign(x): the subgradient 0 at x = 0, PyTorch's choice."""
    return np.abs(x), (lambda g: g * np.sign(x),)
abs.formulas = ("{g} * sign({x.name}) {x.shape}",)


def sqrt(x):
    """y = sqrt(x). dL/dx = g / (2 y): infinite at x = 0, as in PyTorch."""
    y = np.sqrt(x)
    return y, (lambda g: g / (2 * y),)
sqrt.formulas = ("{g} / (2 sqrt({x.name})) {x.shape}",)


def exp(x):
    """y = e**x. dL/dx = g * y."""
    y = np.exp(x)
    return y, (lambda g: g * y,)
exp.formulas = ("{g} * exp({x.name}) {x.shape}",)


def log(x):
    """y = ln x. dL/dx = g / x."""
    return np.log(x), (lambda g: g / x,)
log.formulas = ("{g} / {x}",)


_CONSTANTS = {}  # (value, dtype) -> the value as a read-only 0-d array of that dtype


def constant(value, dtype) -> np.ndarray:
    """``value`` as a read-only 0-d array of ``dtype``, cached: a ufunc takes it as it is, where
    it would convert a Python number on every call (a third of a small op's time). For the
    ops' own 0 and 1, and the optimizers' learning rates."""
    key = (value, dtype)
    c = _CONSTANTS.get(key)
    if c is None:
        if len(_CONSTANTS) >= 256:  # a learning-rate schedule makes new values: don't grow without bound
            _CONSTANTS.clear()
        c = _CONSTANTS[key] = np.array(value, dtype)
        c.flags.writeable = False
    return c


def sigmoid(x):
    """y = 1 / (1 + exp(-x)), without overflow at x = -1000. dL/dx = g * y * (1 - y).

    Computed in place on one buffer in four passes, with no where() and no clip: exp(-x)
    overflows to inf below about -88 (float32), and 1 / (1 + inf) = 0 is the right limit, so
    only the overflow's warning is silenced. At MNIST sizes this is about twice as fast as the
    exp(-|x|)/where form (``benchmarks/profile_step.py`` times the kernels).
    """
    # out= makes y a fresh float array also for 0-d x (a ufunc returns a scalar there) and for
    # integer x (whose own dtype could not hold exp); float16 is the dtype np.exp(int8) gives
    if x.dtype.kind == "f" and x.ndim:
        y = np.negative(x)
    else:
        y = np.negative(x, out=np.empty(x.shape, np.result_type(x.dtype, np.float16)))
    with np.errstate(over="ignore"):
        np.exp(y, out=y)
    one = constant(1, y.dtype)
    np.add(y, one, out=y)
    np.reciprocal(y, out=y)

    def vjp(g):
        d = np.subtract(one, y)
        d *= y
        d *= g
        return d
    return y, (vjp,)
sigmoid.formulas = ("{g} * s'({x.name}) {x.shape}",)  # s'(z) = s(z) (1 - s(z))
sigmoid.role = "activation"


def tanh(x):
    """y = tanh x. dL/dx = g * (1 - y**2)."""
    y = np.tanh(x)
    return y, (lambda g: g * (1.0 - y * y),)
tanh.formulas = ("{g} * (1 - {y.name}^2) {x.shape}",)
tanh.role = "activation"



def relu(x):
    """y = max(x, 0). dL/dx = g where x > 0, else 0 (the subgradient 0 at x = 0)."""
    zero = constant(0, x.dtype)
    return np.maximum(x, zero), (lambda g: np.multiply(g, x > zero),)
relu.formulas = ("{g} * ({x.name} > 0) {x.shape}",)
relu.role = "activation"



def astype(x, dtype):
    """y = x converted to ``dtype``. dL/dx = g converted back to x's dtype."""
    if np.dtype(dtype).kind not in "biuf":
        raise TypeError(f"astype: expected a numeric dtype (bool, int or float), got {np.dtype(dtype)}")
    return x.astype(dtype), (lambda g: g.astype(x.dtype),)
astype.formulas = ("{g} cast back to the dtype of {x.name}",)

