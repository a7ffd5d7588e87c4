"""Loss functions as plain functions: each is the same op as the Tensor method of its name,
and ``LOSSES``, the one table of the names the CLI, ``fit`` and the tools use for them.

All return a scalar Tensor: the mean over the batch (or over elements, for mse and
binary_cross_entropy). Each function's ``.op`` is its op (``ops/losses.py``), which says
whether ``manual`` computes it too (``op.reference_cost``). Leaves out: the math.
"""
from __future__ import annotations

from typing import Callable, Optional

from . import ops
from .tensor import Tensor


def _tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def softmax_cross_entropy(logits, target) -> Tensor:
    """Mean over the batch of -log softmax(logits)[target]: logits (B, C), target labels (B,) or (B, C)."""
    return _tensor(logits).softmax_cross_entropy(target)


def quadratic_cost(a, target) -> Tensor:
    """Mean over the batch of 1/2 sum_j (a_j - y_j)^2: a (B, C), target (B, C) or labels (B,)."""
    return _tensor(a).quadratic_cost(target)


def mse(a, target) -> Tensor:
    """Mean over all elements of (a - y)^2 (PyTorch's MSELoss): a and target of one shape."""
    return _tensor(a).mse(target)


def binary_cross_entropy(p, target) -> Tensor:
    """Mean over elements of -(y log p + (1-y) log(1-p)): p probabilities, target of p's shape."""
    return _tensor(p).binary_cross_entropy(target)


softmax_cross_entropy.op = ops.softmax_cross_entropy
quadratic_cost.op = ops.quadratic_cost
mse.op = ops.mse
binary_cross_entropy.op = ops.binary_cross_entropy

# The names the CLI, fit and the tools use for each loss.
LOSSES = {
    "cross-entropy": softmax_cross_entropy,
    "quadratic": quadratic_cost,
    "mse": mse,
    "binary-cross-entropy": binary_cross_entropy,
}


def reference_cost(name: str) -> Optional[str]:
    """``manual``'s ``cost=`` for the loss called ``name`` ("cross-entropy" -> "cross_entropy";
    underscores accepted too), or None when ``manual`` has no formula for it or the name is unknown."""
    fn: Optional[Callable] = LOSSES.get(name.replace("_", "-"))
    return getattr(getattr(fn, "op", None), "reference_cost", None)

