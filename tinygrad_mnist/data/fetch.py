"""Fetch a data set's files into the cache with ``urllib``: mirror fallback, md5 checks, and
atomic writes (temp file in the same directory, fsync, ``os.replace``), so a failed or corrupt
transfer never leaves a partial file or clobbers a good one.  Bounded: one deadline for the
whole call, and no file may grow past its known size (``limits``).

Leaves out: printing progress (pass a callback; the CLI draws it) and reading the files.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

from ..files import atomic_file  # standard library only: no engine import
from ..limits import DOWNLOAD_DEADLINE, MAX_DOWNLOAD_BYTES
from .catalog import dataset_dir, get_spec, sweep_cache
from .errors import DownloadError

Progress = Callable[[str, int, Optional[int]], None]
"""``progress(filename, bytes_done, bytes_total_or_None)``, called as each piece lands (as
often as the network delivers, so a slow mirror shows movement)."""

_CHUNK = 1 << 16


class _TransferFailed(Exception):
    """One mirror failed for one file; the message is the reason DownloadError lists."""


def md5sum(path: str | os.PathLike) -> str:
    """Hex md5 of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)  # a checksum here, not a security control
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _reason(e: BaseException) -> str:
    """The error in one line (urllib's redirect-loop message has three)."""
    if isinstance(e, urllib.error.HTTPError):
        text = f"HTTP {e.code} {e.reason}"
    elif isinstance(e, urllib.error.URLError):
        text = f"{e.reason}"
    else:
        text = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    return " ".join(text.split())[:300]


def _content_length(resp: http.client.HTTPResponse) -> int | None:
    value = resp.headers.get("Content-Length")
    return int(value) if value is not None and value.strip().isdigit() else None


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable.  Best effort: some systems cannot open or fsync a directory,
    and the rename is atomic without it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fetch(url: str, dest: Path, md5: str, progress: Progress | None, timeout: float,
           end: float, max_size: int) -> None:
    """Stream ``url`` into a temp file beside ``dest``; only a complete, md5-verified file
    replaces ``dest``, with the permissions of any new file (``atomic_file``; the cache is
    shared with other tools, so not mkstemp's 0600).  Network trouble, truncation, more than
    ``max_size`` bytes, the deadline ``end`` (a ``time.monotonic()`` value, checked between
    reads) passing and checksum mismatch raise _TransferFailed; local disk errors propagate
    as OSError.  The temp file is removed on every way out Python can catch."""
    with atomic_file(dest, "wb", prefix=f".{dest.name}.", suffix=".part") as out:
        digest, done = hashlib.md5(usedforsecurity=False), 0
        left = end - time.monotonic()
        if left <= 0:
            raise _TransferFailed("not tried: the download's deadline had passed")
        try:
            resp = urllib.request.urlopen(url, timeout=min(timeout, left))
        except (OSError, http.client.HTTPException, ValueError) as e:
            raise _TransferFailed(_reason(e)) from e
        with resp:
            total = _content_length(resp)
            if total is not None and total > max_size:
                raise _TransferFailed(f"the server announces {total} bytes; the file has {max_size}")
            if progress is not None:
                progress(dest.name, 0, total)
            while True:
                if time.monotonic() > end:
                    raise _TransferFailed(f"the download's deadline passed after {done} bytes")
                try:
                    chunk = resp.read1(_CHUNK)  # what has arrived: a slow mirror still shows progress
                except (OSError, http.client.HTTPException) as e:
                    raise _TransferFailed(f"after {done} bytes: {_reason(e)}") from e
                if not chunk:
                    break
                done += len(chunk)
                if done > max_size:
                    raise _TransferFailed(f"more than {max_size} bytes, the size of the file")
                out.write(chunk)
                digest.update(chunk)
                if progress is not None:
                    progress(dest.name, done, total)
        if total is not None and done != total:
            raise _TransferFailed(f"truncated transfer: got {done} of {total} bytes")
        got = digest.hexdigest()
        if got != md5:
            raise _TransferFailed(f"md5 mismatch: expected {md5}, got {got}")
    _fsync_dir(dest.parent)


def download(dataset: str = "mnist", cache_dir: str | os.PathLike | None = None,
             mirrors: Sequence[str] | None = None, progress: Progress | None = None,
             timeout: float = 30.0, files: Mapping[str, str] | None = None, *,
             sizes: Mapping[str, int] | None = None,
             deadline: float = DOWNLOAD_DEADLINE) -> list[Path]:
    """Download ``dataset`` ("mnist" or "fashion-mnist") into ``dataset_dir(dataset, cache_dir)``.

    For each file in ``files`` (name -> expected md5; default: the data set's four IDX files
    and their published checksums), in order: skip it if already there with the right md5;
    else try each base URL in ``mirrors`` (default: the data set's public mirrors) until one
    delivers the whole file with the right md5.  Writes are atomic: a failure leaves no
    partial file, keeps any previous file, and removes cache folders made for nothing.
    ``progress(filename, done, total_or_None)`` is called as data arrives (not for skipped
    files).  Partial files older than a day, left by killed runs, are swept first.

    Bounds: ``timeout`` seconds for each network operation; ``deadline`` seconds for the whole
    call, all files and mirrors (checked between reads, so it can be overrun by one
    ``timeout``); each file at most its size (``sizes``, name -> bytes; default: the data set's
    known sizes when ``files`` is not given, else ``limits.MAX_DOWNLOAD_BYTES``).

    Returns the paths of the files, in ``files`` order.  Raises DownloadError (a DataError)
    naming the file and every mirror tried with its error, when all mirrors fail for a file.
    """
    end = time.monotonic() + deadline
    spec = get_spec(dataset)
    table = dict(spec.md5 if files is None else files)
    known = dict(spec.sizes if files is None and sizes is None else sizes or {})
    bases = tuple(spec.mirrors if mirrors is None else mirrors)
    if not bases:
        raise ValueError("download: need at least one mirror URL")
    for name in table:
        if not name or os.path.basename(name) != name or name in (".", ".."):
            raise ValueError(f"download: file names must be plain names, got {name!r}")
    target = dataset_dir(dataset, cache_dir)
    new_dirs = [d for d in (target, *target.parents) if not d.exists()]  # deepest first
    target.mkdir(parents=True, exist_ok=True)
    sweep_cache(target)
    paths = []
    for name, md5 in table.items():
        dest = target / name
        paths.append(dest)
        if dest.is_file() and md5sum(dest) == md5.lower():
            continue
        attempts = []
        for base in bases:
            url = base + name if base.endswith("/") else f"{base}/{name}"
            try:
                _fetch(url, dest, md5.lower(), progress, timeout, end,
                       known.get(name, MAX_DOWNLOAD_BYTES))
                break
            except _TransferFailed as e:
                attempts.append((url, str(e)))
        else:
            _remove_empty(new_dirs)
            raise DownloadError(name, attempts)
    return paths


def _remove_empty(directories: list[Path]) -> None:
    """Undo the mkdir of a download that fetched nothing: remove these, deepest first, while
    they are empty."""
    for directory in directories:
        try:
            directory.rmdir()
        except OSError:  # not empty (an earlier file landed) or not ours to remove
            return
