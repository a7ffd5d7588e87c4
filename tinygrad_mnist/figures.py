"""Figures with matplotlib (the optional ``plot`` extra): learning curves (``plot_history``,
``plot_costs``), the first layer's hidden units as images (``weights_grid``), the first
convolution's filters (``filters_grid``) and the digits a model gets wrong
(``misclassified_grid``), each written to a file atomically.

Figures are ``matplotlib.figure.Figure`` objects drawn straight to a file: pyplot and its
backends are never touched, so nothing here opens a window or changes the backend a notebook
or script has chosen, and importing this module needs no matplotlib. A picture shows at most
``limits.MAX_FIGURE_PANELS`` units or digits (an even sample of a wider layer, and says so).
Leaves out: training.
"""
from __future__ import annotations

import math
import os
from typing import List, Optional, Sequence, Union

import numpy as np

from .files import atomic_file
from .limits import MAX_FIGURE_PANELS
from .nn import Conv2d, Linear, Module
from .train import predict

PathLike = Union[str, os.PathLike]
INSTALL_HINT = "install tinygrad_mnist[plot] (matplotlib) for --plot"


class PlotUnavailable(ImportError):
    """matplotlib is not installed; the message says how to get it."""


def require_matplotlib(purpose: str = "--plot") -> None:
    """Raise PlotUnavailable (with the install hint, naming ``purpose``: "--plot", "show")
    unless matplotlib can be imported: a CLI checks this before any work rather than after it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotUnavailable(INSTALL_HINT.replace("--plot", purpose)) from None


def check_format(path: PathLike) -> None:
    """Raise ValueError naming ``path`` unless matplotlib can write a picture in the format
    its extension names (.png, .svg, .pdf, ...; none means png), so a CLI refuses
    ``--plot curve.txt`` before training rather than after. Needs matplotlib."""
    ext = os.path.splitext(os.fspath(path))[1][1:].lower()
    if not ext:
        return
    from matplotlib.backend_bases import FigureCanvasBase
    known = FigureCanvasBase.get_supported_filetypes()
    if ext not in known:
        raise ValueError(f"{os.fspath(path)}: matplotlib cannot write .{ext} pictures; use one of "
                         + ", ".join(f".{k}" for k in sorted(known)))


def new_figure(figsize: tuple):
    """A matplotlib Figure not managed by pyplot (no backend, no window; freed with its object)."""
    require_matplotlib()
    from matplotlib.figure import Figure
    return Figure(figsize=figsize)


def save_figure(fig, path: PathLike) -> None:
    """``fig.savefig`` into ``path`` atomically (``atomic_file``): a failure, an unknown format
    included, leaves no partial picture and keeps any previous one; a path that exists and is
    not a regular file (``/dev/null``, a pipe) raises FileExistsError. The format follows the
    extension (.png, .svg, .pdf), matplotlib's default (png) without one."""
    ext = os.path.splitext(os.fspath(path))[1]
    with atomic_file(path, "wb", suffix=ext) as f:
        fig.savefig(f, format=ext[1:].lower() or None, dpi=100)


def plot_history(history: List[dict], path: PathLike, title: Optional[str] = None) -> None:
    """Draw loss (train and test) and test accuracy per epoch, side by side, into ``path``
    (the format follows the extension: .png, .pdf, .svg). ``history`` is ``fit``'s result."""
    fig = new_figure((10, 4))
    from matplotlib.ticker import MaxNLocator
    epochs = [r["epoch"] for r in history]
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot(epochs, [r["train_loss"] for r in history], "o-", label="train")
    if any(r.get("test_loss") is not None for r in history):
        ax_loss.plot(epochs, [r["test_loss"] for r in history], "s-", label="test")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_loss.legend()
    if any(r.get("test_accuracy") is not None for r in history):
        ax_acc.plot(epochs, [100 * r["test_accuracy"] for r in history], "o-", color="C2")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy (%)", title="test accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)


def plot_costs(costs: Sequence[float], path: PathLike, title: str = "cost over epochs") -> None:
    """One curve: the cost after each epoch (epoch 1, 2, ...) into ``path``."""
    fig = new_figure((6, 4))
    from matplotlib.ticker import MaxNLocator
    ax = fig.subplots()
    ax.plot(range(1, len(costs) + 1), list(costs), "o-")
    ax.set(xlabel="epoch", ylabel="cost", title=title)
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    save_figure(fig, path)


def _first(model: Module, *kinds: type) -> Module:
    """The first layer of one of ``kinds`` in forward order, or ValueError."""
    for m in model.modules():  # depth first, in the order the layers run
        if isinstance(m, kinds):
            return m
    raise ValueError(f"{model!r} has no {' or '.join(k.__name__ for k in kinds)} layer to draw")


def _first_linear(model: Module) -> Linear:
    first = _first(model, Linear, Conv2d)
    if isinstance(first, Conv2d):
        raise ValueError(f"the model's first layer with weights is {first!r}: draw its filters with "
                         f"filters_grid (tinygrad-mnist show does)")
    return first


def _side(n: int, what: str) -> int:
    side = math.isqrt(n)
    if side * side != n:
        raise ValueError(f"{what}: {n} inputs are not a square image (784 = 28x28 for MNIST)")
    return side


def _grid(n: int, cols: Optional[int]) -> tuple:
    cols = cols or min(n, max(1, math.ceil(math.sqrt(n * 1.5))))
    return math.ceil(n / cols), cols


def sample_units(n: int, most: int = MAX_FIGURE_PANELS) -> np.ndarray:
    """Indices of the units a picture shows: all ``n`` up to ``most``, else ``most`` of them
    spread evenly from the first to the last (every 150th of 15,000), in order."""
    if n <= most:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, most).round().astype(np.int64))


_LABEL_ROWS = 9  # blank pixel rows above each tile, where its unit number goes


def _mosaic(tiles: np.ndarray, cols: int) -> np.ndarray:
    """Tiles (k, h, w) laid out in rows of ``cols``, with one blank (NaN) pixel between them
    and _LABEL_ROWS above each row for the labels."""
    k, h, w = tiles.shape
    rows, step = math.ceil(k / cols), h + _LABEL_ROWS
    out = np.full((rows * step, cols * (w + 1) - 1), np.nan, dtype=np.float32)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        out[r * step + _LABEL_ROWS:(r + 1) * step, c * (w + 1):c * (w + 1) + w] = tile
    return out


def weights_grid(model: Module, path: PathLike, cols: Optional[int] = None, title: Optional[str] = None,
                 max_units: int = MAX_FIGURE_PANELS) -> int:
    """Draw each hidden unit of the first layer as an image of its incoming weights
    (row j of W (n_hidden, 784) reshaped to 28x28) into ``path`` (.png, .svg, .pdf).

    Colours: red positive, blue negative, white 0, on one symmetric scale per unit, so each
    image shows which pixels excite (red) or inhibit (blue) that unit. A layer of more than
    ``max_units`` units is shown by an even sample of ``max_units`` of them (``sample_units``),
    each labelled with its number, and the title says so. Returns the number drawn.
    """
    W = _first_linear(model).weight.data
    side = _side(W.shape[1], "weights_grid")
    n = W.shape[0]
    shown = sample_units(n, max_units)
    rows, cols = _grid(len(shown), cols)
    tiles = W[shown].reshape(len(shown), side, side).astype(np.float32)
    limits = np.abs(tiles).max(axis=(1, 2), keepdims=True)
    tiles = tiles / np.where(limits > 0, limits, 1.0)  # each unit on its own symmetric scale
    height = 1.2 * rows + 0.6
    fig = new_figure((1.0 * cols + 0.3, height))
    ax = fig.add_axes((0.01, 0.01, 0.98, 0.98 - 0.5 / height))
    ax.set_axis_off()
    from matplotlib import colormaps
    cmap = colormaps["seismic"].with_extremes(bad="white")
    # one image for all units: a hundred separate axes take matplotlib seconds to lay out
    ax.imshow(_mosaic(tiles, cols), cmap=cmap, vmin=-1.0, vmax=1.0, interpolation="nearest")
    for i, unit in enumerate(shown):
        r, c = divmod(i, cols)
        ax.text(c * (side + 1) + side / 2, r * (side + _LABEL_ROWS) + _LABEL_ROWS - 1.5, f"unit {unit}",
                fontsize=6, va="bottom", ha="center")
    which = f"{n} hidden units" if len(shown) == n else \
        f"{len(shown)} of {n} hidden units (an even sample, unit numbers shown)"
    fig.suptitle(title or f"first-layer weights: {which}, each {side}x{side}", fontsize=10)
    save_figure(fig, path)
    return int(len(shown))


def filters_grid(model: Module, path: PathLike, cols: Optional[int] = None, title: Optional[str] = None) -> int:
    """Draw each filter of the model's first Conv2d layer (W (c_out, c_in, kH, kW)) as a small
    image into ``path`` (.png, .svg, .pdf): one panel per output channel, its c_in input-channel
    kernels side by side. Colours as in ``weights_grid``: red positive, blue negative, white 0,
    one symmetric scale per filter. Returns the number of filters drawn."""
    conv = _first(model, Conv2d)
    W = conv.weight.data
    n, c_in, kh, kw = W.shape
    rows, cols = _grid(n, cols)
    fig = new_figure((max(1.0, 0.25 * c_in * kw) * cols + 0.4, max(1.0, 0.25 * kh) * rows + 0.8))
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k < n:
            gap = np.full((kh, 1), np.nan)  # a blank column between input channels
            w = np.hstack([part for c in range(c_in) for part in ((W[k, c],) if c == 0 else (gap, W[k, c]))])
            limit = float(np.nanmax(np.abs(w))) or 1.0
            ax.imshow(w, cmap="seismic", vmin=-limit, vmax=limit, interpolation="nearest")
            ax.set_title(f"filter {k}", fontsize=7)
    channels = f", {c_in} input channels each" if c_in > 1 else ""
    fig.suptitle(title or f"{conv!r}: {n} filters of {kh}x{kw}{channels}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
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
    if not 1 <= n <= MAX_FIGURE_PANELS:
        raise ValueError(f"misclassified_grid: n must be 1..{MAX_FIGURE_PANELS} (digits in one picture), "
                         f"got {n}")
    side = _side(X.shape[1], "misclassified_grid")
    pred = predict(model, X)  # batched, in the model's dtype, under no_grad
    wrong = np.flatnonzero(pred != y)
    shown = wrong[:n]
    rows, cols = _grid(max(len(shown), 1), cols)
    fig = new_figure((1.3 * cols, 1.5 * rows + 0.5))
    axes = fig.subplots(rows, cols, squeeze=False)
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
    return int(len(shown))
