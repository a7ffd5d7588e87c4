"""The fused losses: softmax_cross_entropy, quadratic_cost, mse, binary_cross_entropy. Each is
the textbook cost with its textbook derivative, stabler and faster than the same built from
primitives. Leaves out: the Tensor methods and CLI names for them (``tinygrad_mnist.losses``).
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, fmt_shape as _fmt


def _is_labels(target) -> bool:
    """Integer arrays are class labels; anything else is a target of the predictions' shape."""
    return target.dtype.kind in "iu"


def _check_labels(op, a, labels):
    """Integer labels must be (B,) with values in [0, C) for predictions (B, C); returns them as
    np.intp (no copy for int64 labels), ready to index with.

    One pass at most: signed labels are checked for negatives (NumPy would silently wrap them
    to the last classes); labels >= C make the caller's ``a[rows, labels]`` raise IndexError,
    which it turns into ``_label_range_error``. Unsigned labels need no pass, except 64-bit
    ones, whose values past 2**63 would wrap when NumPy casts them to its index type.
    """
    if a.ndim != 2 or labels.shape != (a.shape[0],):
        hint = ("; integer targets are class labels: pass one-hot rows as floats "
                "(y.astype(np.float32))") if labels.shape == a.shape else ""
        raise ShapeError(f"{op}: predictions {_fmt(a.shape)} with integer labels {_fmt(labels.shape)}: "
                         f"expected predictions (B,C) and labels (B,){hint}")
    kind = labels.dtype.kind
    if labels.size and (kind == "i" or labels.dtype.itemsize == 8):
        signed = labels if kind == "i" else labels.view(labels.dtype.str.replace("u", "i"))
        if np.minimum.reduce(signed) < 0:
            raise _label_range_error(op, a, labels)
    return labels.astype(np.intp, copy=False)


_ROWS = {}  # (B, C) -> (np.arange(B), np.arange(B) * C), read-only: every labelled loss of that shape shares them


def _rows(B: int, C: int) -> tuple:
    """(rows (B,), row offsets (B,)) = (np.arange(B), np.arange(B) * C), cached: the row of each
    sample's label, and where that row starts in the flattened (B, C) predictions."""
    key = (B, C)
    r = _ROWS.get(key)
    if r is None:
        if len(_ROWS) >= 64:  # a few shapes repeat in training; don't grow without bound
            _ROWS.clear()
        rows = np.arange(B)
        r = _ROWS[key] = (rows, rows * C)
        for a in r:
            a.flags.writeable = False
    return r


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
        index = _check_labels(op, a, target)
        diff = a.copy()
        try:
            diff[_rows(*a.shape)[0], index] -= 1  # the same cached rows as softmax-CE's
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
    B, C = logits.shape
    e = logits - np.maximum.reduce(logits, axis=1)[:, None]  # shifted: a row's largest logit is 0
    if _is_labels(target):
        index = _check_labels("softmax_cross_entropy", logits, target)
        r, offsets = _rows(B, C)
        try:
            picked = e[r, index]
        except IndexError:
            raise _label_range_error("softmax_cross_entropy", logits, target) from None
        np.exp(e, out=e)  # the shifted logits are not needed again: exponentiate in place
        total = np.add.reduce(e, axis=1)
        # -log softmax at the label = log(total) - shifted[label]: B numbers, so the full
        # (B, C) log-softmax is never formed
        nll = np.log(total)
        nll -= picked
        loss = np.add.reduce(nll) / B

        def vjp(g):
            gB = g / B
            d = e * (gB / total)[:, None]  # softmax * g / B
            # minus onehot * g / B, without building the one-hot matrix; the labels were checked
            # above, so their flat positions (row offset + label) are in their rows
            d.reshape(-1)[offsets + index] -= gB
            return d
        return np.asarray(loss, dtype=logits.dtype), (vjp, None)
    total = np.exp(e).sum(axis=1, keepdims=True)
    logp = e
    logp -= np.log(total)  # e is our own temporary: reuse it for log-probabilities
    _check_target("softmax_cross_entropy", "logits", logits, target,
                  "integer labels (B,) or probabilities (B,C)")
    loss = -(target * logp).sum() / B
    return np.asarray(loss, dtype=logits.dtype), (
        lambda g: (np.exp(logp) * target.sum(axis=1, keepdims=True) - target) * (g / B),
        lambda g: logp * (-g / B))
softmax_cross_entropy.formulas = ("{g.scale}(softmax({logits.name}) - y) {logits.shape} / B",
                                 "{g.scale}-log_softmax({logits.name}) {logits.shape} / B")
softmax_cross_entropy.role = "loss"
softmax_cross_entropy.reference_cost = "cross_entropy"  # manual.backprop's cost= for it


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
quadratic_cost.role = "loss"
quadratic_cost.reference_cost = "quadratic"


def mse(a, target):
    """Mean over ALL elements of (a - y)^2 (PyTorch's MSELoss). dL/da = 2 (a - y) / N.

    a any shape; target the same shape, or integer labels (B,) for a (B, C) (one-hot rows).
    """
    diff = _minus_target("mse", a, target)
    n = diff.size or 1  # not max(): in this module max is the op
    loss = np.asarray(np.vdot(diff, diff) / n, dtype=a.dtype)
    return loss, (lambda g: diff * (2.0 * g / n), None if _is_labels(target) else (lambda g: diff * (-2.0 * g / n)))
mse.formulas = ("{g.scale}2 ({a.name} - y) {a.shape} / N", "{g.scale}-2 ({a.name} - y) {a.shape} / N")
mse.role = "loss"
mse.reference_cost = "mse"  # manual.backprop's cost= for it


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
binary_cross_entropy.role = "loss"

