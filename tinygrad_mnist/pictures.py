"""Pictures of a trained network: the first layer's hidden units as 28x28 images
(``weights_grid``) and the test digits it gets wrong (``misclassified_grid``).

matplotlib is imported only when a picture is drawn, with the file-only Agg backend (see
``plot.pyplot``); without it, PlotUnavailable says how to install it. Leaves out: training.
"""
from __future__ import annotations

import math
import os
from typing import Optional, Union

import numpy as np

from .nn import Linear, Module, Sequential
from .plot import pyplot, save_figure
from .train import predict

PathLike = Union[str, os.PathLike]


def _first_linear(model: Module) -> Linear:
    if isinstance(model, Linear):
        return model
    stack = [model]
    while stack:
        m = stack.pop(0)
        if isinstance(m, Linear):
            return m
        if isinstance(m, Sequential):
            stack = list(m.layers) + stack
    raise ValueError(f"{model!r} has no Linear layer to draw")


def _side(n: int, what: str) -> int:
    side = math.isqrt(n)
    if side * side != n:
        raise ValueError(f"{what}: {n} inputs are not a square image (784 = 28x28 for MNIST)")
    return side


def _grid(n: int, cols: Optional[int]) -> tuple:
    cols = cols or min(n, max(1, math.ceil(math.sqrt(n * 1.5))))
    return math.ceil(n / cols), cols


def weights_grid(model: Module, path: PathLike, cols: Optional[int] = None, title: Optional[str] = None) -> int:
    """Draw each hidden unit of the first layer as an image of its incoming weights
    (row j of W (n_hidden, 784) reshaped to 28x28) into ``path`` (.png, .svg, .pdf).

    Colours: red positive, blue negative, white 0, on one symmetric scale per unit, so each
    image shows which pixels excite (red) or inhibit (blue) that unit. Returns the number drawn.
    """
    W = _first_linear(model).weight.data
    side = _side(W.shape[1], "weights_grid")
    n = W.shape[0]
    rows, cols = _grid(n, cols)
    plt = pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.3 * rows + 0.5), squeeze=False)
    try:
        for k, ax in enumerate(axes.flat):
            ax.set_axis_off()
            if k < n:
                w = W[k].reshape(side, side)
                limit = float(np.max(np.abs(w))) or 1.0
                ax.imshow(w, cmap="seismic", vmin=-limit, vmax=limit, interpolation="nearest")
                ax.set_title(f"unit {k}", fontsize=7)
        fig.suptitle(title or f"first-layer weights: {n} hidden units, each {side}x{side}", fontsize=10)
        fig.tight_layout()
        save_figure(fig, path)
    finally:
        plt.close(fig)
    return n


def misclassified_grid(model: Module, X, y, path: PathLike, n: int = 25, cols: Optional[int] = None,
                       title: Optional[str] = None) -> int:
    """Draw up to ``n`` of the digits in X (N, 784) that ``model`` classifies wrongly, each titled
    with its predicted and true label (``pred 3 / true 5``), into ``path``. Returns how many were
    drawn (0 when none is wrong: the picture then says so).
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"misclassified_grid: expected X (N, n_in) and labels y (N,), got {X.shape} and {y.shape}")
    if n < 1:
        raise ValueError(f"misclassified_grid: n must be positive, got {n}")
    side = _side(X.shape[1], "misclassified_grid")
    pred = predict(model, X)  # batched, in the model's dtype, under no_grad
    wrong = np.flatnonzero(pred != y)
    shown = wrong[:n]
    plt = pyplot()
    rows, cols = _grid(max(len(shown), 1), cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.5 * rows + 0.5), squeeze=False)
    try:
        for k, ax in enumerate(axes.flat):
            ax.set_axis_off()
            if k < len(shown):
                i = shown[k]
                ax.imshow(X[i].reshape(side, side), cmap="gray", vmin=0.0, vmax=max(1.0, float(X[i].max())),
                          interpolation="nearest")
                ax.set_title(f"pred {pred[i]} / true {y[i]}", fontsize=7, color="firebrick")
        if not len(shown):
            axes.flat[0].text(0.5, 0.5, f"no misclassified digits\namong {len(X)}", ha="center", va="center")
        rate = 100 * len(wrong) / max(len(X), 1)
        fig.suptitle(title or f"{len(wrong)} of {len(X)} digits misclassified ({rate:.1f}%); first {len(shown)} shown",
                     fontsize=10)
        fig.tight_layout()
        save_figure(fig, path)
    finally:
        plt.close(fig)
    return int(len(shown))
