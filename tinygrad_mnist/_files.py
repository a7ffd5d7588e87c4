"""Writing files safely: ``atomic_file`` (temp file, fsync, rename) and ``new_file_mode`` (the
permissions a plain ``open(path, "w")`` would give). Standard library only, so both the data
layer (downloads) and the engine side (``serialize``, ``train``, ``graph``, ``plot``) use it
without the data layer importing the engine. Leaves out: what goes into the files.
"""
from __future__ import annotations

import errno
import os
import tempfile
from contextlib import contextmanager
from typing import IO, Iterator, Union


def new_file_mode() -> int:
    """The mode a newly created file gets: ``0o666`` less the process umask (0o644 under the
    usual 022). ``mkstemp`` makes its files ``0o600``; chmod a temp file to this before renaming
    it into place, so it ends up like any other file the user creates."""
    umask = os.umask(0o022)  # the umask can only be read by setting it
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_file(path: Union[str, os.PathLike], mode: str = "wb", suffix: str = "",
                prefix: str = ".tmp-") -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; when the ``with`` body finishes, the
    file is flushed to disk and renamed over ``path`` (atomic, being in the same directory).

    On any failure, Ctrl-C included, the temporary file is removed and ``path`` is untouched:
    an interrupted write never destroys the previous file. The new file gets the permissions
    any new file would (``new_file_mode``), not ``mkstemp``'s private ``0o600``. A ``path``
    that exists and is neither a regular file nor a directory (``/dev/null``, a pipe) raises
    FileExistsError: renaming over it would replace it, not write into it.
    """
    path = os.fspath(path)
    if os.path.lexists(path) and not (os.path.isfile(path) or os.path.isdir(path)):
        raise FileExistsError(errno.EEXIST, "exists and is not a regular file; refusing to replace it", path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=prefix, suffix=suffix)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:  # already gone: keep the error that brought us here
            pass
        raise
