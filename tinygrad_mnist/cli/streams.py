"""Standard streams for the command line, best effort: output that cannot be written (a closed
pipe, ``| head -1``, a full disk, ``>/dev/full``, a closed terminal, a closed stderr) is
dropped, and never stops training or a save. Leaves out: what is written (the handlers).
"""
from __future__ import annotations

import os
from typing import Optional, TextIO


class BestEffort:
    """Wraps a text stream (or None: Python sets ``sys.stderr`` to None when file descriptor 2
    is closed). Writes and flushes that fail are dropped and the stream is then left alone;
    nothing ever goes to another stream instead. Each write is flushed at once, so a failure
    shows here rather than when the interpreter exits, and a broken descriptor is pointed at
    /dev/null, so the interpreter's own last flush cannot fail either."""

    def __init__(self, stream: Optional[TextIO]):
        self._stream = stream
        self.broken = stream is None

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                self._stream.write(text)
                self._stream.flush()
            except (OSError, ValueError):  # EPIPE, ENOSPC, EIO, EBADF; ValueError: closed file
                self._give_up()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self._give_up()

    def isatty(self) -> bool:
        try:
            return not self.broken and self._stream.isatty()
        except (OSError, ValueError, AttributeError):
            return False

    def _give_up(self) -> None:
        self.broken = True
        try:
            fd = self._stream.fileno()
        except (OSError, ValueError, AttributeError):  # not a real file (a test's StringIO)
            return
        try:
            null = os.open(os.devnull, os.O_WRONLY)
        except OSError:
            return
        try:
            os.dup2(null, fd)
        except OSError:
            pass
        finally:
            os.close(null)


def open_missing_std_fds() -> None:
    """Point standard descriptors 0, 1 and 2 that are closed at /dev/null: otherwise the next
    file opened gets number 2, and anything written to "stderr" (a C library's message, a
    crash report) lands inside a model being saved."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                got = os.open(os.devnull, os.O_RDWR)
            except OSError:
                return
            if got != fd:  # a lower one was free after all: keep the numbering as it was
                os.close(got)
