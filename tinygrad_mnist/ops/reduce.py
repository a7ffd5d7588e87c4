"""Reductions and the softmax family: sum, max, softmax, log_softmax. Each VJP broadcasts the
incoming gradient back over the reduced axes. Leaves out: mean (``Tensor.mean`` builds it from sum).
"""
from __future__ import annotations

import numpy as np


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
softmax.role = "activation"


def log_softmax(x, axis=-1):
    """y = x - logsumexp(x) along ``axis``, computed stably. dL/dx = g - softmax(x) * sum(g, axis)."""
    shifted = x - x.max(axis=axis, keepdims=True)
    y = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return y, (lambda g: g - np.exp(y) * g.sum(axis=axis, keepdims=True),)
log_softmax.formulas = ("{g} - softmax({x.name}) * sum({g.name}, axis)",)
log_softmax.column_formulas = None
log_softmax.role = "activation"
