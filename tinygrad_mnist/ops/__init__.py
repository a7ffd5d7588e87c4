"""Primitive ops: each a pure NumPy forward with its vector-Jacobian products beside it.

The op contract (the whole extension API; built-in and user ops follow it alike):
an op is a plain function of NumPy arrays that returns ``(out, vjps)``: the forward result
and one VJP per positional input, either a function ``g -> dL/d(input)`` (``g`` is dL/d(out),
shaped like ``out``) or ``None`` where the input has no gradient (integer labels).
Keyword arguments are non-differentiable settings (axis, shape, ...). ``Tensor.apply(op,
*inputs)`` runs an op on tensors and records it; the graph node keeps the op function itself.
A VJP may return a gradient in the broadcast shape; the engine sums it back to the input's
shape (``unbroadcast``), so ops never hand-roll axis sums. VJPs must not mutate ``g`` or
anything captured from the forward.

Optional attributes, set right after the op, that the learning tools read from the op itself:

- ``op.formulas``: one text template per input, the VJP as the shape ledger prints it.
  Fields: ``{g}`` (dL/d(out)), ``{y}`` (the output), each input by the op's parameter name
  (``{x}``, ``{W}``) or position (``{0}``). A field prints as ``name (shape)``; its
  attributes ``.name``, ``.shape``, ``.T`` (the transpose), ``.summed_over_batch`` and
  ``.scale`` ("" for backward's seed 1, else "dL/dt * ") are the only others a template may use.
- ``op.column_formulas``: the textbook's column form where it reads differently (None: the
  op has no column form and is shown in row form).
- ``op.role``: "activation" (a^l = f(z^l) in the ledger's names) or "loss".
- ``op.reference_cost``: for a loss that ``manual.backprop`` also computes, its ``cost=`` name.

One file per family: ``elementwise``, ``reduce`` (and the softmax family), ``linalg``,
``shape``, ``losses`` (fused), ``conv``. Leaves out: Tensor, recording, backward
(``tensor.py``, ``autograd.py``).
"""
from .conv import avg_pool2d, conv2d, max_pool2d
from .elementwise import (add, astype, broadcast_message, constant, div, exp, log, mul, neg, power, relu, sigmoid,
                          sub, summed_axes, tanh, unbroadcast)
from .elementwise import abs, pow, sqrt  # noqa: A004 - NumPy's names, on purpose
from .linalg import linear, matmul
from .losses import binary_cross_entropy, mse, quadratic_cost, softmax_cross_entropy
from .reduce import log_softmax, max, softmax, sum  # noqa: A004 - NumPy's names, on purpose
from .shape import getitem, reshape, transpose

# The differentiable primitives, in the order the API reference lists them.
PRIMITIVES = (add, sub, mul, div, pow, neg, power, abs, sqrt, exp, log, sigmoid, tanh, relu, astype, sum, max,
              matmul, linear, reshape, transpose, getitem, softmax, log_softmax,
              softmax_cross_entropy, quadratic_cost, mse, binary_cross_entropy, conv2d, max_pool2d,
              avg_pool2d)

__all__ = [fn.__name__ for fn in PRIMITIVES] + ["unbroadcast", "summed_axes", "broadcast_message", "constant",
                                                "PRIMITIVES"]
