"""Primitive ops: each a pure NumPy forward with its vector-Jacobian products beside it.

An op is a plain function of NumPy arrays that returns ``(out, vjps)``: the forward result
and one VJP per positional input, either a function ``g -> dL/d(input)`` (``g`` is dL/d(out),
shaped like ``out``) or ``None`` where the input has no gradient (integer labels).
Keyword arguments are non-differentiable settings (axis, shape, ...).

This is the whole extension API: ``Tensor.apply(op, *inputs)`` runs an op on tensors and
records it, and the engine does the rest for every op alike. A VJP may return a gradient in
the broadcast shape; the engine sums it back to the input's shape (``unbroadcast``), so ops
never hand-roll axis sums. VJPs must not mutate ``g`` or anything captured from the forward.
Right after each op, ``op.formulas`` writes its VJPs as text templates, one per input, for the
shape ledger (``explain.py``); ``op.column_formulas`` gives the textbook's column form where it
reads differently (None: no column form). Optional for users' ops.

Leaves out: Tensor, graph recording, backward (``tensor.py``).
"""
from __future__ import annotations

import numpy as np

from .errors import IndexShapeError, ShapeError


def _fmt(shape: tuple) -> str:
    """(1, 10) -> '(1,10)': the compact form every error message uses."""
    return "(" + ",".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/"}


def _broadcast_message(name: str, sa: tuple, sb: tuple) -> str:
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


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a gradient of a broadcast result back to an input's ``shape``.

    ``g`` has the broadcast shape; axes that broadcasting added (leading) or stretched
    (size 1 in ``shape``) are summed, so the result has exactly ``shape``.
    Raises ShapeError when ``shape`` could not have broadcast to ``g.shape``.
    """
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra < 0 or any(n != 1 and n != m for n, m in zip(shape, g.shape[extra:])):
        raise ShapeError(f"unbroadcast: a gradient of shape {_fmt(g.shape)} cannot belong "
                         f"to an input of shape {_fmt(shape)}")
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and g.shape[extra + i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


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


def exp(x):
    """y = e**x. dL/dx = g * y."""
    y = np.exp(x)
    return y, (lambda g: g * y,)
exp.formulas = ("{g} * exp({x.name}) {x.shape}",)


def log(x):
    """y = ln x. dL/dx = g / x."""
    return np.log(x), (lambda g: g / x,)
log.formulas = ("{g} / {x}",)


# exp(-x) overflows below -log(max float); clipping -x at the floor of that (88 for float32,
# 709 for float64) changes sigmoid by less than the dtype's smallest normal number, and avoids
# both the overflow warning and a slower where() form.
_EXP_LIMIT = {np.dtype(t): float(np.floor(np.log(np.finfo(t).max))) for t in (np.float32, np.float64)}


def sigmoid(x):
    """y = 1 / (1 + exp(-x)), without overflow at x = -1000. dL/dx = g * y * (1 - y).

    Computed in place on one buffer: about 2x faster than the exp(-|x|)/where form at MNIST
    sizes (2.0 vs 4.6 us for a (10,30) float32 batch, measured here).
    """
    # out= makes y a fresh float array also for 0-d x (a ufunc returns a scalar there) and for
    # integer x (whose own dtype could not hold exp); float16 is the dtype np.exp(int8) gives
    if x.dtype.kind == "f" and x.ndim:
        y = np.negative(x)
    else:
        y = np.negative(x, out=np.empty(x.shape, np.result_type(x.dtype, np.float16)))
    limit = _EXP_LIMIT.get(y.dtype)
    if limit is None:  # float16 and friends: the clip would be too coarse, so silence overflow
        with np.errstate(over="ignore"):
            np.exp(y, out=y)
    else:
        np.minimum(y, limit, out=y)
        np.exp(y, out=y)
    y += 1.0
    np.reciprocal(y, out=y)

    def vjp(g):
        d = 1.0 - y
        d *= y
        d *= g
        return d
    return y, (vjp,)
sigmoid.formulas = ("{g} * s'({x.name}) {x.shape}",)  # s'(z) = s(z) (1 - s(z))


def tanh(x):
    """y = tanh x. dL/dx = g * (1 - y**2)."""
    y = np.tanh(x)
    return y, (lambda g: g * (1.0 - y * y),)
tanh.formulas = ("{g} * (1 - {y.name}^2) {x.shape}",)


def relu(x):
    """y = max(x, 0). dL/dx = g where x > 0, else 0 (the subgradient 0 at x = 0)."""
    return np.maximum(x, 0), (lambda g: g * (x > 0),)
relu.formulas = ("{g} * ({x.name} > 0) {x.shape}",)


def astype(x, dtype):
    """y = x converted to ``dtype``. dL/dx = g converted back to x's dtype."""
    if np.dtype(dtype).kind not in "biuf":
        raise TypeError(f"astype: expected a numeric dtype (bool, int or float), got {np.dtype(dtype)}")
    return x.astype(dtype), (lambda g: g.astype(x.dtype),)
astype.formulas = ("{g} cast back to the dtype of {x.name}",)


# ---------------------------------------------------------------- reductions
def _expand(g, axis, keepdims, shape):
    """Undo a reduction's lost axes so ``g`` broadcasts against the input's ``shape``."""
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, shape)


def sum(x, axis=None, keepdims=False):  # noqa: A001 - NumPy's name, on purpose
    """y = x summed over ``axis`` (int, tuple or None for all). dL/dx = g broadcast back to x.shape."""
    return np.sum(x, axis=axis, keepdims=keepdims), (
        lambda g: _expand(g, axis, keepdims, x.shape),)
sum.formulas = ("{g} broadcast back to {x.shape}",)


def max(x, axis=None, keepdims=False):  # noqa: A001
    """y = the largest entry over ``axis``. dL/dx = g at the maxima (split evenly among ties), else 0."""
    y = np.max(x, axis=axis, keepdims=True)

    def vjp(g):
        mask = x == y
        g = g if keepdims or axis is None else np.expand_dims(g, axis)
        return mask * (g / mask.sum(axis=axis, keepdims=True))
    return (y if keepdims else np.squeeze(y, axis=axis)), (vjp,)
max.formulas = ("{g} routed to the maxima of {x}",)


# ---------------------------------------------------------------- linear algebra
def _matmul_hint(a_shape, b_shape):
    """Suggest the transposition that would make a 2-D product fit, or ''."""
    if len(a_shape) == 1 and len(b_shape) == 2 and b_shape[1] == a_shape[0]:
        return "; did you mean a @ b.T?"  # x (784,) @ W (30,784): the layer is x @ W.T
    if len(a_shape) == 2 and len(b_shape) == 1 and a_shape[0] == b_shape[0]:
        return "; did you mean a.T @ b?"
    if len(a_shape) != 2 or len(b_shape) != 2:
        return ""
    if a_shape[0] == b_shape[0]:
        return "; did you mean a.T @ b?"
    if a_shape[1] == b_shape[1]:
        return "; did you mean a @ b.T?"
    if b_shape[1] == a_shape[0]:
        return "; did you mean b @ a?"
    return ""


def matmul(a, b):
    """y = a @ b for 1-D, 2-D and batched N-D operands (NumPy's rules).

    2-D: a (n,k) @ b (k,m) -> y (n,m); dL/da = g (n,m) @ b.T (m,k), dL/db = a.T (k,n) @ g (n,m).
    1-D operands are promoted to a row (a) or a column (b) for the gradient and squeezed back;
    batch axes that broadcasting added are summed by the engine.
    """
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: scalar operand {_fmt(a.shape)} @ {_fmt(b.shape)}; use * for scalars")
    ka, kb = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        raise ShapeError(f"matmul: {_fmt(a.shape)} @ {_fmt(b.shape)}: inner dimensions {ka} and {kb} "
                         f"differ{_matmul_hint(a.shape, b.shape)}")
    try:
        y = a @ b
    except ValueError:  # inner sizes agree, so only the batch axes can disagree
        raise ShapeError(f"matmul: {_fmt(a.shape)} @ {_fmt(b.shape)}: batch dimensions "
                         f"{_fmt(a.shape[:-2])} and {_fmt(b.shape[:-2])} do not broadcast") from None
    if a.ndim == 2 and b.ndim == 2:  # the MLP case: no reshaping on the hot path
        if b.flags.f_contiguous and not b.flags.c_contiguous:
            # b is usually W.T, a transposed view. (g.T @ a).T lays the gradient out like W, so
            # transposing it back to W is contiguous: copying a strided 784x30 float32 gradient
            # costs 16 us against 2 us, and the SGD update on it 29 us against 7 (measured here).
            return y, (lambda g: g @ b.T, lambda g: (g.T @ a).T)
        return y, (lambda g: g @ b.T, lambda g: a.T @ g)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b

    def as_2d(g):
        if b.ndim == 1:
            g = g[..., None]
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        return g

    def vjp_a(g):
        ga = as_2d(g) @ np.swapaxes(b2, -1, -2)
        return ga[..., 0, :] if a.ndim == 1 else ga

    def vjp_b(g):
        gb = np.swapaxes(a2, -1, -2) @ as_2d(g)
        return gb[..., 0] if b.ndim == 1 else gb
    return y, (vjp_a, vjp_b)
matmul.formulas = ("{g} @ {b.T}", "{a.T} @ {g}")
matmul.column_formulas = None  # no column form: the ledger shows it in row form


def linear(x, W, b=None):
    """y = x @ W.T + b: a dense layer in PyTorch's orientation, fused into one op.

    x (B, n_in) or (n_in,), W (n_out, n_in), b (n_out,) -> y (B, n_out).
    dL/dx = g @ W (B, n_in); dL/dW = g.T @ x (n_out, n_in); dL/db = g summed over the batch (n_out,).
    Fused because it saves two graph nodes and a transpose per layer; the result is the
    same as ``x @ W.T + b`` built from primitives (a test checks both).
    """
    if W.ndim != 2 or x.ndim == 0 or x.shape[-1] != W.shape[1] or (b is not None and b.shape != (W.shape[0],)):
        bshape = "" if b is None else f" + b {_fmt(b.shape)}"
        raise ShapeError(f"linear: x {_fmt(x.shape)} @ W.T with W {_fmt(W.shape)}{bshape}: expected "
                         f"x (B,{W.shape[1] if W.ndim == 2 else 'n_in'}), W (n_out,n_in), b (n_out,)")
    y = x @ W.T
    if b is not None:
        if b.dtype == y.dtype:
            y += b  # y is fresh from the matmul, so adding in place is safe and saves a temporary
        else:
            y = y + b  # NumPy's type promotion, as x @ W.T + b would give

    def vjp_W(g):
        if x.ndim == 1:
            return np.outer(g, x)
        return g.reshape(-1, g.shape[-1]).T @ x.reshape(-1, x.shape[-1])

    vjps = (lambda g: g @ W, vjp_W)
    if b is None:
        return y, vjps
    return y, vjps + ((lambda g: g if g.ndim == 1 else g.reshape(-1, g.shape[-1]).sum(axis=0)),)
linear.formulas = ("{g} @ {W}", "{g.T} @ {x}", "{g.summed_over_batch}")
linear.column_formulas = ("{W.T} {g}", "{g} {x.T}", "{g.summed_over_batch}")  # z = W a + b


# ---------------------------------------------------------------- shape
def reshape(x, shape):
    """y = x viewed with a new ``shape``. dL/dx = g reshaped to x.shape."""
    try:
        y = x.reshape(shape)
    except ValueError as e:
        dims = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        n = int(np.prod(dims))
        why = (f"that holds {n} entries; a reshape keeps the number of entries" if -1 not in dims
               else f"{e} (at most one -1, and the other sizes must divide {x.size})")
        raise ShapeError(f"reshape: cannot reshape {_fmt(x.shape)} ({x.size} entries) "
                         f"to {_fmt(dims)}: {why}") from None
    return y, (lambda g: g.reshape(x.shape),)
reshape.formulas = ("{g} reshaped to {x.shape}",)
reshape.column_formulas = None


def transpose(x, axes=None):
    """y = x with its axes permuted (reversed when ``axes`` is None). dL/dx = g with the inverse permutation."""
    try:
        y = x.transpose(axes)
    except ValueError as e:
        raise ShapeError(f"transpose: {_fmt(x.shape)} with axes {axes}: {e}; the axes must list "
                         f"each of 0..{x.ndim - 1} once (or be omitted to reverse them)") from None
    # normalise negative axes first: argsort((-1, 0, 1)) is not the inverse of (2, 0, 1)
    inverse = None if axes is None else tuple(np.argsort([a % x.ndim for a in axes]))
    return y, (lambda g: g.transpose(inverse),)
transpose.formulas = ("{g} with its axes permuted back to {x.shape}",)
transpose.column_formulas = None


def _is_basic(idx) -> bool:
    """True for NumPy basic indexing (ints, slices, None, ...), which never repeats an entry."""
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(isinstance(i, (int, np.integer, slice, type(None), type(Ellipsis)))
               and not isinstance(i, bool) for i in items)


def _index_text(idx) -> str:
    """An index as written in code, arrays summarised: (0, slice(1, None)) -> '0, 1:'."""
    def one(i):
        if isinstance(i, slice):
            text = ":".join("" if v is None else str(v) for v in (i.start, i.stop, i.step))
            return text[:-1] if i.step is None else text
        if isinstance(i, np.ndarray):
            return f"<{i.dtype} array {_fmt(i.shape)}>"
        return "..." if i is Ellipsis else repr(i)
    return ", ".join(one(i) for i in idx) if isinstance(idx, tuple) else one(idx)


def getitem(x, idx):
    """y = x[idx] for ints, slices and integer arrays. dL/dx = g scattered into zeros of x.shape.

    Integer-array indices may repeat an entry; ``np.add.at`` then adds every copy's gradient.
    An index out of range raises IndexShapeError (a ShapeError and an IndexError).
    """
    try:
        y = x[idx]
    except IndexError as e:
        raise IndexShapeError(f"getitem: {_fmt(x.shape)}[{_index_text(idx)}]: {e}") from None

    def vjp(g):
        dx = np.zeros_like(x)
        if _is_basic(idx):
            dx[idx] = g
        else:
            np.add.at(dx, idx, g)
        return dx
    return y, (vjp,)
getitem.formulas = ("{g} scattered into zeros {x.shape}",)
getitem.column_formulas = None


# ---------------------------------------------------------------- softmax family
def softmax(x, axis=-1):
    """y = exp(x) / sum(exp(x)) along ``axis``, shifted by the max so 1e4 does not overflow.

    dL/dx = y * (g - sum(g * y, axis)).
    """
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    y = e / e.sum(axis=axis, keepdims=True)
    return y, (lambda g: y * (g - (g * y).sum(axis=axis, keepdims=True)),)
softmax.formulas = ("{y.name} * ({g} - sum({g.name} * {y.name}, axis)) {x.shape}",)
softmax.column_formulas = None


def log_softmax(x, axis=-1):
    """y = x - logsumexp(x) along ``axis``, computed stably. dL/dx = g - softmax(x) * sum(g, axis)."""
    shifted = x - x.max(axis=axis, keepdims=True)
    y = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return y, (lambda g: g - np.exp(y) * g.sum(axis=axis, keepdims=True),)
log_softmax.formulas = ("{g} - softmax({x.name}) * sum({g.name}, axis)",)
log_softmax.column_formulas = None


# ---------------------------------------------------------------- losses (fused on purpose:
# each is the textbook cost with its textbook derivative, stabler and faster than composites)
def _is_labels(target) -> bool:
    """Integer arrays are class labels; anything else is a target of the predictions' shape."""
    return target.dtype.kind in "iu"


def _check_labels(op, a, labels):
    """Integer labels must be (B,) with values in [0, C) for predictions (B, C)."""
    if a.ndim != 2 or labels.shape != (a.shape[0],):
        hint = ("; integer targets are class labels: pass one-hot rows as floats "
                "(y.astype(np.float32))") if labels.shape == a.shape else ""
        raise ShapeError(f"{op}: predictions {_fmt(a.shape)} with integer labels {_fmt(labels.shape)}: "
                         f"expected predictions (B,C) and labels (B,){hint}")
    # Labels >= C make the caller's a[rows, labels] raise IndexError (see _label_range_error),
    # so only negatives, which NumPy would silently wrap, cost a reduction here.
    if labels.dtype.kind == "i" and labels.size and labels.min() < 0:
        raise _label_range_error(op, a, labels)


def _label_range_error(op, a, labels) -> ValueError:
    return ValueError(f"{op}: labels must lie in [0, {a.shape[1]}) for {a.shape[1]} classes, "
                      f"got values from {labels.min()} to {labels.max()}")


def _check_target(op, what, a, target, expected=""):
    """A non-label target must be numeric and of the predictions' shape; float labels get a hint."""
    if target.dtype.kind not in "biuf":
        raise TypeError(f"{op}: target has dtype {target.dtype}; expected integer class labels "
                        f"or numbers (probabilities, one-hot rows)")
    if target.shape != a.shape:
        hint = f"; expected {expected}" if expected else ""
        if a.ndim == 2 and target.shape == (a.shape[0],) and target.dtype.kind not in "iu":
            hint += (f"; as class labels, a (B,) target must hold integers, not {target.dtype} "
                     f"(use y.astype(np.int64))")
        raise ShapeError(f"{op}: {what} {_fmt(a.shape)} and target {_fmt(target.shape)} differ in "
                         f"shape{hint}")


def _minus_target(op, a, target):
    """a - y, where integer labels stand for one-hot rows (indexed, no one-hot matrix built)."""
    if _is_labels(target):
        _check_labels(op, a, target)
        diff = a.copy()
        try:
            diff[np.arange(a.shape[0]), target] -= 1
        except IndexError:
            raise _label_range_error(op, a, target) from None
        return diff
    _check_target(op, "predictions", a, target)
    return a - target


def softmax_cross_entropy(logits, target):
    """Mean over the batch of -sum_j y_j log softmax(logits)_j, fused and stable.

    logits (B, C); target integer labels (B,) or probabilities / one-hot rows (B, C).
    dL/dlogits = (softmax(logits) * sum_j y_j - y) / B, which is (softmax - onehot) / B for
    labels and one-hot rows; dL/dtarget = -log_softmax(logits) / B (probability targets only).
    """
    if logits.ndim != 2:
        raise ShapeError(f"softmax_cross_entropy: logits must be (B,C), got {_fmt(logits.shape)}")
    B = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    if _is_labels(target):
        _check_labels("softmax_cross_entropy", logits, target)
        rows = np.arange(B)
        try:
            picked = shifted[rows, target]
        except IndexError:
            raise _label_range_error("softmax_cross_entropy", logits, target) from None
        # -log softmax at the label = log(total) - shifted[label]: B numbers, so the full
        # (B, C) log-softmax is never formed (2 us of a 10 us forward at tiny sizes, measured)
        loss = (np.log(total).sum() - picked.sum()) / B

        def vjp(g):
            d = e / total
            d[rows, target] -= 1.0  # (softmax - onehot) without building the one-hot matrix
            d *= g / B
            return d
        return np.asarray(loss, dtype=logits.dtype), (vjp, None)
    logp = shifted
    logp -= np.log(total)  # shifted is our own temporary: reuse it for log-probabilities
    _check_target("softmax_cross_entropy", "logits", logits, target,
                  "integer labels (B,) or probabilities (B,C)")
    loss = -(target * logp).sum() / B
    return np.asarray(loss, dtype=logits.dtype), (
        lambda g: (e / total * target.sum(axis=1, keepdims=True) - target) * (g / B),
        lambda g: logp * (-g / B))
softmax_cross_entropy.formulas = ("{g.scale}(softmax({logits.name}) - y) {logits.shape} / B",
                                 "{g.scale}-log_softmax({logits.name}) {logits.shape} / B")


def quadratic_cost(a, target):
    """Mean over the batch of 1/2 * sum_j (a_j - y_j)^2: the textbook's cost.

    a (B, C); target (B, C) or integer labels (B,), which stand for one-hot rows.
    dL/da = (a - y) / B; dL/dy = -(a - y) / B (for non-label targets).
    """
    if a.ndim != 2:
        raise ShapeError(f"quadratic_cost: predictions must be (B,C), got {_fmt(a.shape)}")
    diff = _minus_target("quadratic_cost", a, target)
    B = a.shape[0]
    loss = np.asarray(0.5 * np.vdot(diff, diff) / B, dtype=a.dtype)
    return loss, (lambda g: diff * (g / B), None if _is_labels(target) else (lambda g: diff * (-g / B)))
quadratic_cost.formulas = ("{g.scale}({a.name} - y) {a.shape} / B", "{g.scale}-({a.name} - y) {a.shape} / B")


def mse(a, target):
    """Mean over ALL elements of (a - y)^2 (PyTorch's MSELoss). dL/da = 2 (a - y) / N.

    a any shape; target the same shape, or integer labels (B,) for a (B, C) (one-hot rows).
    """
    diff = _minus_target("mse", a, target)
    n = diff.size or 1  # not max(): in this module max is the op
    loss = np.asarray(np.vdot(diff, diff) / n, dtype=a.dtype)
    return loss, (lambda g: diff * (2.0 * g / n), None if _is_labels(target) else (lambda g: diff * (-2.0 * g / n)))
mse.formulas = ("{g.scale}2 ({a.name} - y) {a.shape} / N", "{g.scale}-2 ({a.name} - y) {a.shape} / N")


def binary_cross_entropy(p, target):
    """Mean over elements of -(y log p + (1-y) log(1-p)) on probabilities p in [0, 1].

    p and target share a shape. p is clipped to [eps, 1-eps] (eps = 1e-7 for float32,
    1e-12 for float64) so p = 0 or 1 gives a finite loss and gradient.
    dL/dp = (p - y) / (p (1 - p)) / N at the clipped p; dL/dy = (log(1-p) - log p) / N.
    """
    _check_target("binary_cross_entropy", "probabilities", p, target)
    eps = 1e-7 if p.dtype.itemsize <= 4 else 1e-12
    pc = np.clip(p, eps, 1.0 - eps)
    y = target.astype(p.dtype, copy=False)
    log_p, log_q = np.log(pc), np.log1p(-pc)
    n = p.size or 1  # not max(): in this module max is the op
    loss = np.asarray(-(y * log_p + (1.0 - y) * log_q).sum() / n, dtype=p.dtype)
    return loss, (lambda g: (pc - y) / (pc * (1.0 - pc)) * (g / n),
                  None if _is_labels(target) else (lambda g: (log_q - log_p) * (g / n)))
binary_cross_entropy.formulas = ("{g.scale}({p.name} - y) / ({p.name} (1 - {p.name})) {p.shape} / N",
                                "{g.scale}(log(1 - {p.name}) - log {p.name}) {p.shape} / N")
