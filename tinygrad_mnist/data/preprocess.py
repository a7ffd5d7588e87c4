"""Array helpers between loading and training: feature standardisation, one-hot labels and
minibatches.  Randomness comes only from a passed seed or ``numpy.random.Generator``.

Leaves out: anything that reads files.
"""
from __future__ import annotations

from typing import Iterator, Union

import numpy as np

RngLike = Union[int, np.random.Generator, None]


def standardize(X_train: np.ndarray, X_test: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """Scale each feature (column) to mean 0, std 1 using the TRAINING statistics only.

    X_train ``(N, D)``, X_test ``(M, D)`` or None -> ``(X_train_std (N, D), X_test_std (M, D) or
    None)``, float arrays keep their dtype (integers become float32).  Statistics are computed in
    float64.  A feature with zero variance in training (MNIST's border pixels) is only centred,
    not divided, so no NaN or inf appears.
    """
    X_train = np.asarray(X_train)
    if X_train.ndim != 2:
        raise ValueError(f"standardize: X_train should be 2-D (N, D), got shape {X_train.shape}")
    if X_test is not None:
        X_test = np.asarray(X_test)
        if X_test.ndim != 2 or X_test.shape[1] != X_train.shape[1]:
            raise ValueError(f"standardize: X_test should be (M, {X_train.shape[1]}) like "
                             f"X_train {X_train.shape}, got {X_test.shape}")
    dtype = X_train.dtype if X_train.dtype.kind == "f" else np.dtype(np.float32)
    mean = X_train.mean(axis=0, dtype=np.float64)
    std = X_train.std(axis=0, dtype=np.float64)
    std[std == 0.0] = 1.0

    mean, std = mean.astype(dtype), std.astype(dtype)  # apply in the data's precision

    def apply(X: np.ndarray) -> np.ndarray:
        out = np.subtract(X, mean, dtype=dtype)
        out /= std
        return out

    return apply(X_train), (None if X_test is None else apply(X_test))


def one_hot(y: np.ndarray, n: int = 10, dtype: np.dtype = np.float32) -> np.ndarray:
    """Integer labels ``(N,)`` with values in [0, n) -> one-hot matrix ``(N, n)`` of ``dtype``.

    Writes the ones by fancy indexing into zeros (no identity matrix is built)."""
    y = np.asarray(y)
    if y.ndim != 1 or (y.dtype.kind not in "iu" and y.size):
        raise ValueError(f"one_hot: y should be a 1-D integer array, got {y.dtype} {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= n):
        raise ValueError(f"one_hot: labels should be in [0, {n}), got {y.min()}..{y.max()}")
    out = np.zeros((len(y), n), dtype=dtype)
    out[np.arange(len(y)), y.astype(np.intp, copy=False)] = 1
    return out


def batches(X: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool = True,
            rng: RngLike = None, drop_last: bool = False
            ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(X_batch (B, ...), y_batch (B, ...))`` minibatches covering ``X`` ``(N, ...)`` and
    ``y`` ``(N, ...)`` once; the last batch is smaller unless ``drop_last``.

    ``shuffle=False``: batches are views, in order.  ``shuffle=True``: batches are copies in the
    order of ``rng.permutation(N)``, where ``rng`` is a seed (same seed, same order) or a
    ``numpy.random.Generator`` (pass the same generator every epoch for a new order each
    epoch); None draws fresh OS entropy.  Arguments are checked when ``batches`` is called, not
    at the first ``next``.
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"batches: X has {len(X)} rows but y has {len(y)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"batches: batch_size should be a positive int, got {batch_size!r}")
    order = np.random.default_rng(rng).permutation(len(X)) if shuffle else None
    stop = len(X) - len(X) % batch_size if drop_last else len(X)

    def generate() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start in range(0, stop, batch_size):
            if order is None:
                yield X[start:start + batch_size], y[start:start + batch_size]
            else:
                idx = order[start:start + batch_size]
                yield X[idx], y[idx]

    return generate()
