"""Files, safely: ``atomic_file`` (temp file, fsync, rename), used by every save and download,
and ``refuse_special``, which every reader calls so that a pipe or a device is refused rather
than opened (reading one blocks forever). Standard library only, so both the data layer and
the engine side use it without the data layer importing the engine. Leaves out: what goes
into the files.
"""
from __future__ import annotations

import errno
import os
import secrets
import stat
from contextlib import contextmanager
from typing import IO, Iterator, Union


def is_special(path: Union[str, os.PathLike]) -> bool:
    """True when ``path`` exists and is neither a regular file nor a directory (a pipe, a
    device, a socket): reading one may block forever, and renaming over one replaces it."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def refuse_special(path: Union[str, os.PathLike], expected: str, error: type = ValueError) -> None:
    """Raise ``error`` naming ``path`` when ``is_special(path)``, before anything opens it.
    ``expected`` says what should be there ("a .npz model file"). A missing path passes (the
    caller's open() reports it); so does a directory (open() says so)."""
    if is_special(path):
        raise error(f"{os.fspath(path)}: not a regular file (a pipe or a device?); expected {expected}")


@contextmanager
def atomic_file(path: Union[str, os.PathLike], mode: str = "wb", suffix: str = "",
                prefix: str = ".tmp-") -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; when the ``with`` body finishes, the
    file is flushed to disk and renamed over ``path`` (atomic, being in the same directory).

    On any failure, Ctrl-C included, the temporary file is removed and ``path`` is untouched:
    an interrupted write never destroys the previous file. The new file gets the permissions
    any new file would (0o666 less the umask, applied by the kernel), not ``mkstemp``'s 0o600. A ``path``
    that exists and is neither a regular file nor a directory (``/dev/null``, a pipe) raises
    FileExistsError: renaming over it would replace it, not write into it.
    """
    path = os.fspath(path)
    if is_special(path):
        raise FileExistsError(errno.EEXIST, "exists and is not a regular file; refusing to replace it", path)
    fd, tmp = _create_beside(path, prefix, suffix)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:  # already gone: keep the error that brought us here
            pass
        raise


def _create_beside(path: str, prefix: str, suffix: str):
    """(fd, name) of a new, exclusively created file in ``path``'s directory.

    Created with mode 0o666 so the kernel applies the process umask, exactly as for
    ``open(path, "w")``; reading the umask would mean setting it, which races other threads.
    """
    folder = os.path.dirname(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f"{prefix}{secrets.token_hex(6)}{suffix}")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # a name collision: draw another
            continue
    raise FileExistsError(errno.EEXIST, "could not create a temporary file", folder)
