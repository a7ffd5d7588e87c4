"""Check the engine's gradients against central finite differences, in float64.

``gradcheck`` is public so users can test their own ops (see ``Tensor.apply``).
Leaves out: hypothesis-driven shape search (the test suite's ``strategies``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from .errors import GradcheckError

if TYPE_CHECKING:  # for the annotation only; the function imports it when called
    from .tensor import Tensor


def gradcheck(fn: Callable[..., Tensor], *inputs, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-4, seed: int = 0) -> bool:
    """True if ``fn``'s engine gradients match central finite differences; else GradcheckError.

    ``fn(*tensors) -> Tensor`` of any shape. Floating inputs (arrays, lists or Tensors) are
    copied to float64 Tensors that require grad; integer inputs (labels) pass through unchanged.
    A non-scalar output is reduced to L = sum(out * v) with a fixed random ``v`` of out's shape,
    so every entry of the Jacobian is exercised. Each input entry i is compared:
    numeric = (L(x + eps e_i) - L(x - eps e_i)) / (2 eps) against the engine's dL/dx_i,
    passing when |numeric - engine| <= atol + rtol * |numeric|.
    The error names the input position, the entry's index, and both values.
    """
    # imported here, not at the top: the package exports gradcheck eagerly (a lazy export would
    # lose to the submodule of the same name once that is imported), and importing the package
    # must not load the engine
    from .tensor import Tensor, no_grad
    tensors = []
    for x in inputs:
        arr = x.data if isinstance(x, Tensor) else np.asarray(x)
        if np.issubdtype(arr.dtype, np.floating):
            tensors.append(Tensor(arr.astype(np.float64), requires_grad=True))
        else:
            tensors.append(arr)
    out = fn(*tensors)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    v = np.random.default_rng(seed).standard_normal(out.shape)

    def scalar(o: Tensor) -> float:
        return float(np.sum(o.data * v))

    if out.requires_grad:
        (out * v).sum().backward()
    for pos, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            continue
        engine = t.grad if t.grad is not None else np.zeros_like(t.data)
        x = t.data
        with no_grad():
            for idx in np.ndindex(x.shape):
                old = x[idx]
                x[idx] = old + eps
                plus = scalar(fn(*tensors))
                x[idx] = old - eps
                minus = scalar(fn(*tensors))
                x[idx] = old
                numeric = (plus - minus) / (2 * eps)
                if not abs(numeric - engine[idx]) <= atol + rtol * abs(numeric):
                    raise GradcheckError(
                        f"gradcheck: input {pos} (shape {x.shape}), entry {idx}: engine gradient "
                        f"{engine[idx]:.8g} but finite differences give {numeric:.8g} "
                        f"(difference {abs(numeric - engine[idx]):.3g} > atol {atol} + rtol {rtol} * |numeric|)")
    return True
