"""Files, safely: ``atomic_file`` (temp file, fsync, rename), used by every save and download;
``is_special`` / ``refuse_special``, which every reader calls so that a pipe or a device is
refused rather than opened (reading one blocks forever); and ``sweep_stale``, which removes the temporary files a
killed process left behind. Standard library only, so both the data layer and the engine side
use it without the data layer importing the engine. Leaves out: what goes into the files.
"""
from __future__ import annotations

import errno
import os
import re
import secrets
import stat
import time
from contextlib import contextmanager
from typing import IO, Iterator, Union

from .limits import STALE_SECONDS

PathLike = Union[str, os.PathLike]
# How much of the target's name a temporary name repeats: enough to tell whose it is, short
# enough that a target name near the file system's limit still leaves room for the rest.
_TAG_CHARS = 40


def is_special(path: PathLike) -> bool:
    """True when ``path`` exists and is neither a regular file nor a directory (a pipe, a
    device, a socket): reading one may block forever, and renaming over one replaces it."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def refuse_special(path: PathLike, expected: str, error: type = ValueError) -> None:
    """Raise ``error`` naming ``path`` when ``is_special(path)``, before anything opens it.
    ``expected`` says what should be there ("a .npz model file"). A missing path passes (the
    caller's open() reports it); so does a directory (open() says so)."""
    if is_special(path):
        raise error(f"{os.fspath(path)}: not a regular file (a pipe or a device?); expected {expected}")


def temp_prefix(path: PathLike) -> str:
    """The start of every temporary name ``atomic_file`` makes for ``path``:
    ``.model.npz.tmp-`` for ``model.npz`` (the name cut to 40 characters)."""
    return f".{os.path.basename(os.fspath(path))[:_TAG_CHARS]}.tmp-"


@contextmanager
def atomic_file(path: PathLike, mode: str = "wb", suffix: str = "",
                prefix: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; when the ``with`` body finishes, the
    file is flushed to disk and renamed over ``path`` (atomic, being in the same directory).

    On any failure, Ctrl-C included, the temporary file is removed and ``path`` is untouched:
    an interrupted write never destroys the previous file. An OSError names ``path``, never
    the temporary file. The new file gets the permissions any new file would (0o666 less the
    umask, applied by the kernel), not ``mkstemp``'s 0o600. A ``path`` that exists and is
    neither a regular file nor a directory (``/dev/null``, a pipe) raises FileExistsError:
    renaming over it would replace it, not write into it.

    The temporary file is ``prefix`` (default ``temp_prefix(path)``) + 12 hex digits +
    ``suffix``; ones of that pattern older than a day, left by a killed process, are removed
    first (``sweep_stale``).
    """
    path = os.fspath(path)
    if is_special(path):
        raise FileExistsError(errno.EEXIST, "exists and is not a regular file; refusing to replace it", path)
    prefix = temp_prefix(path) if prefix is None else prefix
    folder = os.path.dirname(os.path.abspath(path))
    sweep_stale(folder, re.escape(prefix) + r"[0-9a-f]{12}" + re.escape(suffix))
    try:
        fd, tmp = _create_beside(folder, prefix, suffix)
    except OSError as e:
        raise _naming(e, path) from None
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:  # already gone: keep the error that brought us here
            pass
        if isinstance(e, OSError) and e.filename in (None, tmp):
            raise _naming(e, path) from None
        raise


def _naming(e: OSError, path: str) -> OSError:
    """The same error about ``path``, the name the user gave (not a temporary file's)."""
    if e.errno is None:
        return e
    return OSError(e.errno, e.strerror, path)  # OSError picks the subclass from the errno


def _create_beside(folder: str, prefix: str, suffix: str):
    """(fd, name) of a new, exclusively created file in ``folder``.

    Created with mode 0o666 so the kernel applies the process umask, exactly as for
    ``open(path, "w")``; reading the umask would mean setting it, which races other threads.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f"{prefix}{secrets.token_hex(6)}{suffix}")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # a name collision: draw another
            continue
    raise FileExistsError(errno.EEXIST, "could not create a temporary file", folder)


def sweep_stale(folder: PathLike, pattern: str, age: float = STALE_SECONDS) -> list[str]:
    """Remove the regular files in ``folder`` whose whole name matches the regular expression
    ``pattern`` and that were last modified more than ``age`` seconds ago: the temporary files
    of a process killed before it could remove them (SIGKILL, a power cut). A live writer
    touches its file as it writes, so it is never that old. Best effort: a folder or file that
    cannot be read or removed is left alone. Returns the names removed."""
    removed, cutoff, match = [], time.time() - age, re.compile(pattern).fullmatch
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not match(entry.name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed.append(entry.name)
        except OSError:
            continue
    return removed
