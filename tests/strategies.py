"""Shared hypothesis strategies: MLP layer sizes, batch sizes, bounded arrays and shape pairs.

Values stay bounded and away from kinks and poles (no log of ~0, no huge logits) so that
float64 gradient checks compare numbers, not round-off. Import as `from strategies import ...`.
"""
from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

COSTS = ("quadratic", "cross_entropy")


def mlp_sizes(min_layers: int = 2, max_layers: int = 5, max_units: int = 64
              ) -> st.SearchStrategy[list[int]]:
    """Layer sizes [n_0, ..., n_L] for L weight layers, min_layers <= L <= max_layers.

    Every n_l is in [1, max_units]; the list always holds the input n_0 and the output n_L, so
    the defaults give 1-4 hidden layers (min_layers=1 allows none: logistic regression).
    """
    if not 1 <= min_layers <= max_layers:
        raise ValueError(f"need 1 <= min_layers <= max_layers; got {min_layers}, {max_layers}")
    return st.lists(st.integers(1, max_units), min_size=min_layers + 1, max_size=max_layers + 1)


def batch_sizes(min_size: int = 1, max_size: int = 16) -> st.SearchStrategy[int]:
    """Batch sizes B in [min_size, max_size]; B = 1 is the per-sample case."""
    return st.integers(min_size, max_size)


def costs() -> st.SearchStrategy[str]:
    """The two costs of the MLP: "quadratic" (sigmoid output) and "cross_entropy" (softmax)."""
    return st.sampled_from(COSTS)


def seeds() -> st.SearchStrategy[int]:
    """Seeds for numpy.random.default_rng: large arrays come from a seeded Generator, which is
    far faster than drawing every element through hypothesis (and still reproducible)."""
    return st.integers(0, 2**32 - 1)


def float_arrays(shape: int | tuple[int, ...] | st.SearchStrategy[tuple[int, ...]],
                 dtype: npt.DTypeLike = np.float64, min_value: float = -3.0,
                 max_value: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    """Arrays of `shape` (a tuple or a strategy of tuples) with finite values in [min, max]."""
    dtype = np.dtype(dtype)
    elements = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False,
                         width=8 * dtype.itemsize)
    return hnp.arrays(dtype, shape, elements=elements)


def broadcastable_shapes(max_dims: int = 3, max_side: int = 4
                         ) -> st.SearchStrategy[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Pairs (shape_a, shape_b) that broadcast together under NumPy's rules, incl. 0-d ()."""
    return hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=max_dims,
                                             max_side=max_side).map(lambda b: b.input_shapes)


def matmul_shapes(max_batch_dims: int = 1, max_side: int = 5
                  ) -> st.SearchStrategy[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Pairs (shape_a, shape_b) valid for a @ b: 1-D @ 1-D, 1-D and 2-D mixes, and stacks of
    matrices with up to `max_batch_dims` broadcast batch dims (np.matmul's signature)."""
    return hnp.mutually_broadcastable_shapes(signature=np.matmul.signature,
                                             max_dims=max_batch_dims, max_side=max_side
                                             ).map(lambda b: b.input_shapes)


@st.composite
def logits_and_labels(draw: st.DrawFn, max_batch: int = 16, max_classes: int = 10,
                      bound: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """(logits (B, C) float64 in [-bound, bound], integer labels (B,) in [0, C)), C >= 2."""
    B = draw(batch_sizes(1, max_batch))
    C = draw(st.integers(2, max_classes))
    logits = draw(float_arrays((B, C), np.float64, -bound, bound))
    labels = draw(hnp.arrays(np.int64, (B,), elements=st.integers(0, C - 1)))
    return logits, labels
