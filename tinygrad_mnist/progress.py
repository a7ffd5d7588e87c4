"""The progress display of ``fit(..., progress=True)``: a callback that draws fit's events as a
bar redrawn in place on a terminal, an HTML bar that updates itself in a Jupyter notebook, and
one line per epoch anywhere else (a log file, a pipe). Standard library only; IPython is used
when a notebook kernel already runs it. Leaves out: the command line's own output (``cli``).
"""
from __future__ import annotations

import html
import sys
import time
from typing import List, Optional, TextIO

__all__ = ["ProgressBar", "epoch_line", "in_notebook"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython with a kernel attached), where HTML displays."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return getattr(shell, "kernel", None) is not None


def epoch_line(event: dict) -> str:
    """``epoch 3/10, train loss 0.2311, test loss 0.2514, test accuracy 92.41%, 1.3 s`` for an
    ``{"event": "epoch", ...}`` dict of ``fit``."""
    parts = [f"epoch {event['epoch']}/{event['epochs']}", f"train loss {event['train_loss']:.4f}"]
    if event.get("test_accuracy") is not None:
        parts += [f"test loss {event['test_loss']:.4f}", f"test accuracy {100 * event['test_accuracy']:.2f}%"]
    parts.append(f"{event['seconds']:.1f} s")
    if event.get("warning"):
        parts.append(f"WARNING: {event['warning']}")
    return ", ".join(parts)


def bar_text(event: dict, width: int = 24) -> str:
    """``epoch 3/10 [#####.....]  52%  loss 0.2311  41,000 samples/s`` for a ``{"event":
    "batch", ...}`` dict of ``fit``: the terminal bar, here and in the CLI."""
    frac = event["seen"] / event["total"]
    filled = int(round(frac * width))
    rate = event["seen"] / event["seconds"] if event["seconds"] > 0 else 0.0
    return (f"epoch {event['epoch']}/{event['epochs']} [{'#' * filled}{'.' * (width - filled)}]"
            f" {100 * frac:3.0f}%  loss {event['loss']:.4f}  {rate:,.0f} samples/s")


class ProgressBar:
    """A ``fit`` callback that shows progress: ``fit(model, X, y, callback=ProgressBar())`` is
    what ``progress=True`` does. ``stream``: where text goes (default: stderr, so stdout stays
    the program's own); ``notebook``: force (True) or forbid (False) the HTML bar, default:
    use it inside a Jupyter kernel. Redraws at most ten times a second."""

    WIDTH = 24

    def __init__(self, stream: Optional[TextIO] = None, notebook: Optional[bool] = None):
        self.stream = stream if stream is not None else sys.stderr
        self.notebook = in_notebook() if notebook is None else notebook
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self.lines: List[str] = []   # epoch lines so far (the notebook shows them under the bar)
        self.drawn = 0               # length of the terminal line on screen, 0 if none
        self.last = 0.0
        self.handle = None           # the notebook's display handle
        self.batch: Optional[dict] = None  # the last batch event (the notebook keeps its full bar)

    def __call__(self, event: dict) -> None:
        if event["event"] == "batch":
            self.batch = event
            now = time.perf_counter()
            if now - self.last < 0.1 and event["seen"] < event["total"]:
                return
            self.last = now
            if self.notebook:
                self._show_html(event)
            elif self.tty:
                line = bar_text(event, self.WIDTH)
                self.stream.write("\r" + line.ljust(self.drawn))
                self.stream.flush()
                self.drawn = len(line)
        elif event["event"] == "epoch":
            self.lines.append(epoch_line(event))
            if self.notebook:
                self._show_html(self.batch)
                return
            if self.drawn:
                self.stream.write("\r" + " " * self.drawn + "\r")
                self.drawn = 0
            self.stream.write(self.lines[-1] + "\n")
            self.stream.flush()

    def html(self, event: Optional[dict]) -> str:
        """The notebook's view: the epoch lines so far above a <progress> bar for the batch
        ``event`` (None: no bar)."""
        if event is None:
            bar = ""
        else:
            bar = (f'<progress value="{event["seen"]}" max="{event["total"]}" style="width:16em"></progress> '
                   f'<code>{html.escape(bar_text(event, 0).replace(" []", ""))}</code><br>')
        lines = "".join(f"<code>{html.escape(line)}</code><br>" for line in self.lines)
        return f"<div>{lines}{bar}</div>"

    def _show_html(self, event: Optional[dict]) -> None:
        from IPython.display import HTML, display  # only in a notebook, where IPython is loaded
        view = HTML(self.html(event))
        if self.handle is None:
            self.handle = display(view, display_id=True)
        else:
            self.handle.update(view)
