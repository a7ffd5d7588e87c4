"""Shared hypothesis strategies: MLP layer sizes, batch sizes, bounded arrays and shape pairs.

Values stay bounded and away from kinks and poles (no log of ~0, no huge logits) so that
float64 gradient checks compare numbers, not round-off. Import as `from strategies import ...`.
"""
from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_mnist import testing  # the public strategies; this file holds the suite's own

COSTS = ("quadratic", "cross_entropy")


def mlp_sizes(min_layers: int = 2, max_layers: int = 5, max_units: int = 64
              ) -> st.SearchStrategy[list[int]]:
    """``testing.mlp_sizes`` with the suite's wider defaults: 1-4 hidden layers of up to 64 units
    (min_layers=1 allows none: logistic regression)."""
    return testing.mlp_sizes(min_layers, max_layers, max_units)


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
    return testing.arrays(shape, min_value, max_value, dtype=np.dtype(dtype))


def broadcastable_shapes(max_dims: int = 3, max_side: int = 4
                         ) -> st.SearchStrategy[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Pairs (shape_a, shape_b) that broadcast together under NumPy's rules, incl. 0-d ()."""
    return testing.broadcastable_shapes(2, max_dims, max_side)


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


# ---------------------------------------------------------------- op, engine and stability tests
# Every array below is float64; a test casts it to the dtype under test.
def shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = 4
           ) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes with min_dims..max_dims axes of 1..max_side entries (0-d () by default)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


def nonzero_arrays(shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]],
                   min_abs: float = 0.25, max_abs: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays with every |x| in [min_abs, max_abs], either sign: away from relu's kink,
    the pole of 1/x and the singular point of x**p at 0."""
    return testing.arrays(shape, -max_abs, max_abs, min_abs=min_abs)


@st.composite
def distinct_arrays(draw: st.DrawFn, shape: tuple[int, ...], spacing: float = 0.25) -> np.ndarray:
    """float64 arrays whose entries differ pairwise by >= spacing: max has no ties, so a finite
    difference never moves the maximum to another entry."""
    order = draw(st.permutations(range(int(np.prod(shape)))))
    offset = draw(st.floats(-3.0, 3.0))
    return (np.asarray(order, dtype=np.float64) * spacing + offset).reshape(shape)


def reduction_axes(ndim: int) -> st.SearchStrategy[int | tuple[int, ...] | None]:
    """A reduction's `axis` for an ndim-array: None, one axis (maybe negative), or a tuple of
    distinct axes (maybe empty, maybe negative)."""
    if ndim == 0:
        return st.none()
    many = st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).flatmap(
        lambda axes: st.tuples(*[st.sampled_from([a, a - ndim]) for a in axes]))
    return st.one_of(st.none(), st.integers(-ndim, ndim - 1), many)


def index_expressions(shape: tuple[int, ...]) -> st.SearchStrategy[object]:
    """Indices `idx` for x[idx], x of `shape` (ndim >= 1): basic ones (ints, slices, ..., None)
    and integer arrays, which may repeat an entry (whose gradients must then add up)."""
    rows = st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=6)
    options = [hnp.basic_indices(shape, allow_newaxis=True),
               hnp.integer_array_indices(shape, result_shape=shapes(1, 2)),
               rows, rows.map(np.array)]
    if len(shape) >= 2:
        options.append(st.tuples(rows.map(np.array), st.slices(shape[1])))
    return st.one_of(*options)


@st.composite
def logits_and_probabilities(draw: st.DrawFn, max_batch: int = 16, max_classes: int = 10,
                             bound: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """(logits (B, C) in [-bound, bound], target probabilities (B, C): rows > 0 summing to 1)."""
    B = draw(batch_sizes(1, max_batch))
    C = draw(st.integers(2, max_classes))
    logits = draw(float_arrays((B, C), np.float64, -bound, bound))
    e = np.exp(draw(float_arrays((B, C), np.float64, -3.0, 3.0)))
    return logits, e / e.sum(axis=1, keepdims=True)


def extreme_arrays(shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]],
                   bound: float) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays in [-bound, bound], often exactly +-bound or 0: for overflow tests."""
    elements = st.one_of(st.sampled_from([-bound, bound, 0.0]), st.floats(-bound, bound))
    return hnp.arrays(np.float64, shape, elements=elements)


def probability_arrays(shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]]
                       ) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays in [0, 1], often exactly 0 or 1: the poles of binary cross-entropy."""
    elements = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0))
    return hnp.arrays(np.float64, shape, elements=elements)


# ---------------------------------------------------------------- convolution and pooling
def _int_or_pair(draw: st.DrawFn, pair: tuple[int, int]) -> int | tuple[int, int]:
    """A stride/padding/kernel setting as a caller writes it: an int when both sides agree (or,
    drawn, the pair spelled out), else the (h, w) pair."""
    if pair[0] == pair[1] and draw(st.booleans()):
        return pair[0]
    return pair


@st.composite
def conv2d_settings(draw: st.DrawFn, max_batch: int = 3, max_channels: int = 3, max_side: int = 7,
                    max_kernel: int = 4, max_stride: int = 3, max_padding: int = 2) -> dict:
    """A conv2d call: {"x": (B, C_in, H, W), "W": (C_out, C_in, kH, kW), "stride", "padding"}.

    Kernels, inputs, strides and paddings are drawn per side, so non-square ones (and settings
    given as int or (h, w) pair) come up; the kernel always fits the padded input. Batch and
    channel counts include 1 (the sizes that hide a summed or transposed axis).
    """
    B, C_in, C_out = (draw(st.integers(1, n)) for n in (max_batch, max_channels, max_channels))
    kernel = tuple(draw(st.integers(1, max_kernel)) for _ in range(2))
    padding = tuple(draw(st.integers(0, max_padding)) for _ in range(2))
    stride = tuple(draw(st.integers(1, max_stride)) for _ in range(2))
    H, W = (draw(st.integers(max(1, k - 2 * p), max(max_side, k))) for k, p in zip(kernel, padding))
    return {"x": (B, C_in, H, W), "W": (C_out, C_in) + kernel,
            "stride": _int_or_pair(draw, stride), "padding": _int_or_pair(draw, padding)}


@st.composite
def pool2d_settings(draw: st.DrawFn, max_batch: int = 3, max_channels: int = 3, max_side: int = 7,
                    max_kernel: int = 3, max_stride: int = 3) -> dict:
    """A pooling call: {"x": (B, C, H, W), "kernel", "stride"}; stride None (= kernel, windows
    that do not overlap), smaller than the kernel (overlapping) or larger (gaps); non-square
    kernels and inputs; the kernel always fits the input."""
    B, C = draw(st.integers(1, max_batch)), draw(st.integers(1, max_channels))
    kernel = tuple(draw(st.integers(1, max_kernel)) for _ in range(2))
    H, W = (draw(st.integers(k, max(max_side, k))) for k in kernel)
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, max_stride), st.integers(1, max_stride))))
    return {"x": (B, C, H, W), "kernel": _int_or_pair(draw, kernel),
            "stride": None if stride is None else _int_or_pair(draw, stride)}


# ---------------------------------------------------------------- closed forms and the VJP contract
def log_spaced_arrays(shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]],
                      low: float = 1e-8, high: float = 1e-2) -> st.SearchStrategy[np.ndarray]:
    """Positive float64 arrays whose magnitudes spread evenly over [low, high] on a log scale:
    near log's pole, where an offset like x + 1e-7 is no longer negligible."""
    exponents = st.floats(float(np.log10(low)), float(np.log10(high)))
    return hnp.arrays(np.float64, shape, elements=exponents).map(lambda e: 10.0 ** e)


@st.composite
def logits_and_soft_targets(draw: st.DrawFn, max_batch: int = 8, max_classes: int = 6,
                            bound: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """(logits (B, C), targets (B, C) >= 0 whose rows do NOT sum to 1: sums in [0.2, 3]).

    Label smoothing gone wrong or unnormalised scores: the fused softmax-CE's gradient then
    needs its sum_j y_j factor, which rows summing to 1 hide."""
    B = draw(batch_sizes(1, max_batch))
    C = draw(st.integers(2, max_classes))
    logits = draw(float_arrays((B, C), np.float64, -bound, bound))
    weights = draw(float_arrays((B, C), np.float64, 0.05, 1.0))
    sums = draw(hnp.arrays(np.float64, (B, 1), elements=st.one_of(st.floats(0.2, 0.8), st.floats(1.25, 3.0))))
    return logits, weights / weights.sum(axis=1, keepdims=True) * sums
