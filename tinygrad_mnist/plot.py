"""Learning curves with matplotlib (the optional ``plot`` extra), imported only when a plot is
drawn and always with the file-only ``Agg`` backend, so importing this module needs no
matplotlib and never opens a window. Leaves out: anything interactive.
"""
from __future__ import annotations

import os
from typing import List, Optional, Sequence, Union

from ._files import atomic_file

INSTALL_HINT = "install tinygrad_mnist[plot] (matplotlib) for --plot"


class PlotUnavailable(ImportError):
    """matplotlib is not installed; the message says how to get it."""


def save_figure(fig, path: Union[str, os.PathLike]) -> None:
    """``fig.savefig`` into ``path`` atomically (``atomic_file``): a failure, an unknown format
    included, leaves no partial picture and keeps any previous one; a path that exists and is
    not a regular file (``/dev/null``, a pipe) raises FileExistsError. The format follows the
    extension (.png, .svg, .pdf), matplotlib's default (png) without one."""
    ext = os.path.splitext(os.fspath(path))[1]
    with atomic_file(path, "wb", suffix=ext) as f:
        fig.savefig(f, format=ext[1:].lower() or None, dpi=100)


def pyplot():
    """matplotlib.pyplot on the Agg backend, or PlotUnavailable with the install hint."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotUnavailable(INSTALL_HINT) from None
    return plt


def plot_history(history: List[dict], path: Union[str, os.PathLike], title: Optional[str] = None) -> None:
    """Draw loss (train and test) and test accuracy per epoch, side by side, into ``path``
    (the format follows the extension: .png, .pdf, .svg). ``history`` is ``fit``'s result."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator
    epochs = [r["epoch"] for r in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    try:
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
    finally:
        plt.close(fig)


def plot_costs(costs: Sequence[float], path: Union[str, os.PathLike],
               title: str = "cost over epochs") -> None:
    """One curve: the cost after each epoch (epoch 1, 2, ...) into ``path``."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator
    fig, ax = plt.subplots(figsize=(6, 4))
    try:
        ax.plot(range(1, len(costs) + 1), list(costs), "o-")
        ax.set(xlabel="epoch", ylabel="cost", title=title)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        fig.tight_layout()
        save_figure(fig, path)
    finally:
        plt.close(fig)
