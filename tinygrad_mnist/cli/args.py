"""What every command shares: the program's name and default network, argument types and
up-front checks, so each command words a bad value the same way. Nothing here prints or
exits: argparse reports the types' errors, ``main`` reports ``UsageError``. Leaves out: the
parsers themselves (``train.py``, ``learn.py``).
"""
from __future__ import annotations

import argparse
import os
from typing import Callable, Optional, Sequence

from ..files import is_special
from ..limits import MAX_PARAMETERS  # noqa: F401  (also load's limit: one number for both)

PROG = "tinygrad-mnist"
DEFAULT_SIZES = (784, 30, 10)  # Nielsen's network, every command's default
# The losses (names from losses.LOSSES) that an MLP's output layer is built for: raw logits for
# cross-entropy, sigmoid outputs for the textbook's quadratic cost.
MLP_LOSSES = ("cross-entropy", "quadratic")
HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu")  # names from nn.ACTIVATIONS a hidden layer may use


class UsageError(ValueError):
    """A combination of arguments that argparse cannot check by itself."""


def int_from(low: int, what: str, high: Optional[int] = None) -> Callable[[str], int]:
    """An argparse type accepting integers >= low (and <= high, if given); ``what`` names them
    in the error, which argparse prefixes with the flag (``argument --seed: expected ..., got -1``)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text[:40]!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value
    return parse


positive_int = int_from(1, "a positive integer")
non_negative_int = int_from(0, "a non-negative integer")  # --seed: what numpy.random.default_rng takes


def check_sizes(sizes: Sequence[int]) -> None:
    """Refuse ``--sizes`` with fewer than two layers or more than MAX_PARAMETERS parameters."""
    shown = " ".join(map(str, sizes))
    if len(sizes) < 2:
        raise UsageError(f"--sizes needs at least an input and an output size, got {shown}")
    n = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    if n > MAX_PARAMETERS:
        raise UsageError(f"--sizes {shown} means {n:,} parameters, more than the {MAX_PARAMETERS:,} "
                         f"a network may have here (784 30 10 has 23,860)")


def check_output(flag: str, path: Optional[str]) -> None:
    """Refuse an output path that cannot become a regular file, before any work is done: a
    directory, an empty name, a missing or read-only folder, or something that exists and is
    not a regular file (``/dev/null``, a pipe: writing would replace it or block on it)."""
    if path is None:
        return
    if os.path.isdir(path):
        raise UsageError(f"{flag} {path}: is a directory; give a file name")
    if not path.strip() or path.endswith(("/", os.sep)):
        raise UsageError(f"{flag} {path!r}: give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    name = os.fsencode(os.path.basename(path))
    if len(name) > _name_max(folder):
        raise UsageError(f"{flag} {path}: the file name is {len(name)} bytes, longer than the "
                         f"{_name_max(folder)} the file system allows; give a shorter name")
    if not os.path.isdir(folder):
        raise UsageError(f"{flag} {path}: the directory {folder} does not exist")
    if is_special(path):
        raise UsageError(f"{flag} {path}: exists and is not a regular file; give another name")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{flag} {path}: the directory {folder} is not writable")


def _name_max(folder: str) -> int:
    """The longest file name (bytes) ``folder``'s file system takes: 255 on most."""
    try:
        return os.pathconf(folder if os.path.isdir(folder) else "/", "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows) or no answer
        return 255


def _float_in(low: float, high: float, low_open: bool = False):
    """A float type accepting [low, high) (or (low, high) when low_open)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (low < value if low_open else low <= value) or not value < high:
            left = "(" if low_open else "["
            raise argparse.ArgumentTypeError(f"expected a number in {left}{low:g}, {high:g}), got {value:g}")
        return value
    return parse


positive_float = _float_in(0.0, float("inf"), low_open=True)
fraction = _float_in(0.0, 1.0)
non_negative_float = _float_in(0.0, float("inf"))
