"""Matrix products: matmul (1-D, 2-D, batched) and linear (the fused dense layer x @ W.T + b).
Leaves out: convolutions (``conv.py``).
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, fmt_shape as _fmt


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
        # one row in a: the gradient of b is an outer product, which a broadcasting multiply does
        # several times faster than matmul with an inner dimension of 1
        outer = a.shape[0] == 1
        if b.flags.f_contiguous and not b.flags.c_contiguous:
            # b is usually W.T, a transposed view. (g.T @ a).T lays the gradient out like W, so
            # transposing it back to W is contiguous: copying a strided 784x30 float32 gradient
            # is several times slower, and so is the SGD update on it (bench_train.py shows it).
            return y, (lambda g: g @ b.T, (lambda g: np.multiply(g.T, a).T) if outer else (lambda g: (g.T @ a).T))
        return y, (lambda g: g @ b.T, (lambda g: np.multiply(a.T, g)) if outer else (lambda g: a.T @ g))
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
    y = np.dot(x, W.T)  # np.dot: x @ W.T by the same BLAS call, with less dispatch per call
    if b is not None:
        if b.dtype == y.dtype:
            y += b  # y is fresh from the product, so adding in place is safe and saves a temporary
        else:
            y = y + b  # NumPy's type promotion, as x @ W.T + b would give
    if x.ndim == 2:
        vjp_x = lambda g: np.dot(g, W)
        # one sample: g.T @ x is an outer product, which matmul, with an inner dimension of 1,
        # does several times slower than a broadcasting multiply (784x512: ~1 ms against 0.2)
        vjp_W = (lambda g: np.multiply(g.T, x)) if x.shape[0] == 1 else (lambda g: np.dot(g.T, x))
        vjp_b = lambda g: np.add.reduce(g, axis=0)
    else:  # (n_in,) or (..., n_in): the batch axes flattened into one
        vjp_x = lambda g: g @ W
        vjp_W = lambda g: np.outer(g, x) if x.ndim == 1 else g.reshape(-1, g.shape[-1]).T @ x.reshape(-1, x.shape[-1])
        vjp_b = lambda g: g if g.ndim == 1 else g.reshape(-1, g.shape[-1]).sum(axis=0)
    if b is None:
        return y, (vjp_x, vjp_W)
    return y, (vjp_x, vjp_W, vjp_b)
linear.formulas = ("{g} @ {W}", "{g.T} @ {x}", "{g.summed_over_batch}")
linear.column_formulas = ("{W.T} {g}", "{g} {x.T}", "{g.summed_over_batch}")  # z = W a + b
