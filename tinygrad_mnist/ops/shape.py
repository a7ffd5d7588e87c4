"""Shape primitives: reshape, transpose, getitem. Their VJPs move gradients back into the
input's layout; none changes a value. Leaves out: flatten (a reshape, built on it).
"""
from __future__ import annotations

import numpy as np

from ..errors import IndexShapeError, ShapeError, fmt_shape as _fmt


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
