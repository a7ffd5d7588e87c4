"""Signals that ask a command to stop: SIGINT (Ctrl-C), SIGTERM (``kill``, ``timeout``,
a container stopping) and SIGHUP (a closed terminal or ssh session) all become ``Interrupted``,
a KeyboardInterrupt, so every ``except KeyboardInterrupt`` and every temporary-file cleanup
runs for each of them; the exit status is 128 + the signal's number (130, 143, 129).
``shielded()`` holds them back while a save runs, so a save that has started always finishes.
Leaves out: what a command does when interrupted (``train.py``), and SIGKILL, which no
program can catch.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator, List, Optional

# A signal whose handler is SIG_IGN when the command starts (`nohup` ignores SIGHUP) stays
# ignored: whoever started us asked for that.
HANDLED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
_WHAT = {"SIGINT": "interrupted", "SIGTERM": "terminated (SIGTERM)",
         "SIGHUP": "stopped by SIGHUP (the terminal went away)"}


class Interrupted(KeyboardInterrupt):
    """A handled signal arrived: ``signum``; ``status`` is the exit status (128 + signum) and
    ``what`` says it in words ("interrupted" for Ctrl-C, "terminated (SIGTERM)", ...)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def status(self) -> int:
        return 128 + self.signum

    @property
    def what(self) -> str:
        return _WHAT.get(signal.Signals(self.signum).name, f"stopped by signal {self.signum}")


def status_of(e: KeyboardInterrupt) -> int:
    """Exit status for an interruption: 128 + the signal, 130 for a plain KeyboardInterrupt."""
    return e.status if isinstance(e, Interrupted) else 130


def what(e: KeyboardInterrupt) -> str:
    """The interruption in words: "interrupted", "terminated (SIGTERM)", ..."""
    return e.what if isinstance(e, Interrupted) else "interrupted"


class SignalGuard:
    """Installed by ``main`` for the length of a command (``with SignalGuard():``): each handled
    signal raises ``Interrupted`` once. After that, while ``shielded``, and after ``settle()``,
    signals are only recorded: the program is already stopping, saving what it has, or done.
    On exit the previous handlers come back, or, with ``restore=False`` (the process ends
    next), the signals are ignored: a signal during the interpreter's shutdown, after the
    work is done, must not kill the process and make its exit status a lie. Only the main
    thread can install handlers; anywhere else the guard does nothing and Python's defaults
    stay."""

    def __init__(self, restore: bool = True) -> None:
        self.pending: List[int] = []
        self.shields = 0
        self.raised = False
        self._restore = restore
        self._previous: dict = {}

    def __enter__(self) -> "SignalGuard":
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED:
                if signal.getsignal(signum) is not signal.SIG_IGN:
                    self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if self._restore else signal.SIG_IGN)
        self._previous.clear()

    def settle(self) -> None:
        """The command is over: from now on signals are only recorded."""
        self.raised = True

    def _handle(self, signum: int, frame) -> None:
        if self.raised or self.shields:
            self.pending.append(signum)
            return
        self.raised = True
        raise Interrupted(signum)

    @contextmanager
    def shield(self) -> Iterator[None]:
        """Hold signals back during the body; one that came meanwhile is raised at its end (if
        the body succeeded and none was raised before)."""
        self.shields += 1
        try:
            yield
        finally:
            self.shields -= 1
        if not self.shields and self.pending and not self.raised:
            self.raised = True
            raise Interrupted(self.pending[0])


def _installed() -> Optional[SignalGuard]:
    """The guard whose handler is installed now, if any: the handler is process-wide state
    already, so it is looked up there rather than kept in a second, module-level place."""
    for signum in HANDLED:
        owner = getattr(signal.getsignal(signum), "__self__", None)
        if isinstance(owner, SignalGuard):
            return owner
    return None


@contextmanager
def shielded() -> Iterator[None]:
    """``SignalGuard.shield`` of the installed guard; just the body when there is none."""
    guard = _installed()
    if guard is None:
        yield
        return
    with guard.shield():
        yield
