"""The ``tinygrad-mnist`` command: train, evaluate, predict, download (``train.py``) and the
learning tools explain, diagnose, graph, show (``learn.py``). The only place that reads argv,
prints and picks exit codes: 0 ok; 1 training diverged (or ``--detect-anomaly`` caught the
first NaN/Inf), a download failed, or a check found a difference; 2 bad arguments or files;
130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 129 hung up (SIGHUP). One convention for
every command: a handler ``(args, out, err) -> int`` prints its result and returns the status,
and lets the library's errors reach ``main``, which turns each into one line on stderr.
Output is best effort (``streams``): a closed or full stdout/stderr loses the output, never
the work. Leaves out: the work itself, which it calls.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from .. import __version__
from ..data import DownloadError
from ..figures import PlotUnavailable
from ..tools.graphviz import RenderError
from . import learn, train
from .args import PROG
from .signals import SignalGuard, status_of, what
from .streams import BestEffort, open_missing_std_fds

# One error line is cut here: a hostile file can put a megabyte into a message.
MAX_MESSAGE = 1000

__all__ = ["main", "build_parser", "PROG"]


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: one sub-command per handler of ``train`` and ``learn``."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Train, evaluate and use small networks on MNIST with the tinygrad_mnist "
                               "autodiff engine, and see how backprop works.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    train.add_commands(sub)   # train, evaluate, predict, download
    learn.add_commands(sub)   # explain, diagnose, graph, show: the learning tools
    return parser


def _one_line(e: BaseException) -> str:
    """The error as one line of at most MAX_MESSAGE characters."""
    if isinstance(e, DownloadError):
        tried = "; ".join(f"{url} ({why})" for url, why in e.attempts)
        text = f"{e.filename}: download failed from every mirror: {tried}"
    elif isinstance(e, OSError) and e.strerror:
        where = f"{e.filename}: " if e.filename else ""
        text = f"{where}{e.strerror}"
    else:
        text = str(e)
    text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 3] + "..."


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    open_missing_std_fds()
    out, err = BestEffort(sys.stdout), BestEffort(sys.stderr)
    # called as the program (no argv): the process ends after main, so signals stay ignored
    guard = SignalGuard(restore=argv is not None)
    try:
        with guard:
            args = build_parser().parse_args(argv)
            status = _run(args, out, err)
            guard.settle()
        return status
    except KeyboardInterrupt as e:  # a signal before the command started, or just as it ended
        print(f"{PROG}: {what(e)}", file=err)
        return status_of(e)


def _run(args, out: BestEffort, err: BestEffort) -> int:
    prefix = f"{PROG} {args.command}: error:"
    try:
        return args.func(args, out, err)
    except DownloadError as e:
        print(f"{prefix} {_one_line(e)}", file=err)
        return 1
    except FloatingPointError as e:
        print(f"{prefix} {_one_line(e)}", file=err)
        return 1
    except (ValueError, OSError, PlotUnavailable, RenderError) as e:
        # ValueError covers the library's own types: ModelFileError, ImageError, DataError,
        # ShapeError, UsageError, and fit's checks of the data
        print(f"{prefix} {_one_line(e)}", file=err)
        return 2
    except KeyboardInterrupt as e:
        print(f"{PROG} {args.command}: {what(e)}", file=err)
        return status_of(e)
