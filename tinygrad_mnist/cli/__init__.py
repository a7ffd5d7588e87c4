"""The ``tinygrad-mnist`` command: train, evaluate, predict, download (``train.py``) and the
learning tools explain, diagnose, graph, show (``learn.py``). The only place that reads argv,
prints and picks exit codes: 0 ok; 1 training diverged (or ``--detect-anomaly`` caught the
first NaN/Inf), a download failed, or a check found a difference; 2 bad arguments or files;
130 interrupted (Ctrl-C). One convention for every command: a handler ``(args, out, err) ->
int`` prints its result and returns the status, and lets the library's errors reach ``main``,
which turns each into one line on stderr. Leaves out: the work itself, which it calls.
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
    if isinstance(e, DownloadError):
        tried = "; ".join(f"{url} ({why})" for url, why in e.attempts)
        return f"{e.filename}: download failed from every mirror: {tried}"
    if isinstance(e, OSError) and e.strerror:
        where = f"{e.filename}: " if e.filename else ""
        return f"{where}{e.strerror}"
    return " ".join(str(e).split("\n"))


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out, err = sys.stdout, sys.stderr
    prefix = f"{PROG} {args.command}: error:"
    try:
        return args.func(args, out, err)
    except DownloadError as e:
        print(f"{prefix} {_one_line(e)}", file=err)
        return 1
    except FloatingPointError as e:
        print(f"{prefix} {e}", file=err)
        return 1
    except (ValueError, OSError, PlotUnavailable, RenderError) as e:
        # ValueError covers the library's own types: ModelFileError, ImageError, DataError,
        # ShapeError, UsageError, and fit's checks of the data
        print(f"{prefix} {_one_line(e)}", file=err)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=err)
        return 130
