"""Readers for IDX (``*-ubyte[.gz]``) and Kaggle's ``train.csv``/``test.csv``, plus the gzip
plumbing they share with ``safe_pickle`` (Nielsen's ``mnist.pkl.gz``).  Each reader treats its
file as hostile: sizes are checked before anything large is allocated, and every problem is one
``DataError`` naming the file.  Leaves out: which files make a data set (``datasets``).
"""
from __future__ import annotations

import gzip
import io
import itertools
import os
import re
import struct
import zlib
from contextlib import contextmanager
from typing import BinaryIO, Iterator

import numpy as np

from ..limits import MAX_CSV_LINE, MAX_DATA_BYTES
from .errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
# Most bytes read from one data file, counted after decompression (limits.MAX_DATA_BYTES)
DEFAULT_MAX_BYTES = MAX_DATA_BYTES
_CHUNK = 1 << 20
N_PIXELS = 784
# gzip's own failures: bad header or CRC (BadGzipFile), cut short (EOFError), corrupt deflate data.
_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)

# IDX type code -> big-endian dtype (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT")
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_CODES = {np.dtype(t).newbyteorder("="): c for c, t in _IDX_DTYPES.items()}


class _Capped(io.RawIOBase):
    """A file's content (decompressed if gzip) as a stream that raises DataError as soon as
    more than ``cap`` bytes have come out of it, and names gzip's own failures. Reading it
    never allocates more than what came out plus one chunk, whatever a caller asks for."""

    def __init__(self, source: BinaryIO, cap: int, name: str, gzipped: bool) -> None:
        super().__init__()
        self._source, self.cap, self._name, self.gzipped = source, cap, name, gzipped
        self.left = cap  # bytes that may still come out

    def too_big(self) -> DataError:
        held = "decompresses to" if self.gzipped else "holds"
        return DataError(f"{self._name}: {held} more than max_bytes={self.cap} bytes, the most "
                         "one data file may hold here")

    def _take(self, n: int, line: bool = False) -> bytes:
        try:
            data = self._source.readline(n) if line else self._source.read(n)
        except _GZIP_ERRORS as e:  # said here, so an EOFError reaching a reader is its own
            raise DataError(f"{self._name}: corrupt or truncated gzip data ({e})") from e
        self.left -= len(data)
        if self.left < 0:
            raise self.too_big()
        return data

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._source.fileno()

    def readinto(self, buffer) -> int:
        data = self._take(min(len(buffer), self.left + 1))
        buffer[:len(data)] = data
        return len(data)

    def read_upto(self, n: int) -> bytearray:
        """At most ``n`` bytes, read in bounded chunks: memory grows with what the file really
        holds, never with what a header claims."""
        buf = bytearray()
        while len(buf) < n:
            chunk = self._take(min(_CHUNK, n - len(buf), self.left + 1))
            if not chunk:
                break
            buf += chunk
        return buf

    def read(self, n: int | None = -1) -> bytes:
        return bytes(self.read_upto(self.left + 1 if n is None or n < 0 else n))

    def readline(self, n: int | None = -1) -> bytes:
        return self._take(self.left + 1 if n is None or n < 0 else min(n, self.left + 1), line=True)


def _gzip_trailer_size(raw: BinaryIO) -> int | None:
    """What a gzip file's trailer says its (last member's) content size is, mod 2**32."""
    size = os.fstat(raw.fileno()).st_size
    if size < 18:  # smaller than an empty gzip member: gzip will say what is wrong
        return None
    raw.seek(size - 4)
    (isize,) = struct.unpack("<I", raw.read(4))
    raw.seek(0)
    return isize


def _check_gzip_size(path: str | os.PathLike, max_bytes: int) -> None:
    """Refuse a gzip file whose trailer says it holds more than ``max_bytes``, confirmed by
    decompressing it (at up to 200 MB/s, keeping nothing) rather than by parsing it: a damaged
    file, whose trailer means nothing, is reported as damaged. Only one-member files can be
    judged by their trailer; several members are caught while streaming."""
    name = os.fspath(path)
    with open(path, "rb") as raw:
        if raw.read(2) != GZIP_MAGIC or (_gzip_trailer_size(raw) or 0) <= max_bytes:
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
            drain, buffer = _Capped(gz, max_bytes, name, True), memoryview(bytearray(_CHUNK))
            while drain.readinto(buffer):
                pass


@contextmanager
def _open_binary(path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES,
                 whole: bool = True) -> Iterator[_Capped]:
    """Yield the file's content as a ``_Capped`` stream (decompressed when the content is gzip):
    more than ``max_bytes`` raises DataError while streaming. ``whole``: the caller means to
    read the whole file, so a plain file bigger than ``max_bytes`` is refused at once."""
    name = os.fspath(path)
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        if not gzipped:
            stream = _Capped(raw, max_bytes, name, False)
            if whole and os.fstat(raw.fileno()).st_size > max_bytes:
                raise stream.too_big()
            yield stream
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
            stream = _Capped(gz, max_bytes, name, True)
            try:
                yield stream
            except _GZIP_ERRORS as e:
                raise DataError(f"{name}: corrupt or truncated gzip data ({e})") from e


# ---------------------------------------------------------------------------------------- IDX
def _describe(dims: tuple[int, ...], dtype: np.dtype) -> str:
    kind = "" if dtype == np.uint8 else f" ({dtype.newbyteorder('=').name})"
    if len(dims) == 3:
        return f"{dims[0]} images of {dims[1]}x{dims[2]}{kind}"
    if len(dims) == 1:
        return f"{dims[0]} labels{kind}"
    return f"{dims[0]} items of {'x'.join(map(str, dims[1:]))}{kind}"


def read_idx(path: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES,
             limit: int | None = None) -> np.ndarray:
    """Read an IDX file (``*-ubyte``, or gzip-compressed; gzip is detected by content).

    Returns the array with the shape the header gives, in native byte order: MNIST images are
    uint8 ``(N, 28, 28)``, labels uint8 ``(N,)``.  Header: two zero bytes, a type code
    (0x08 = uint8 ... 0x0E = float64), the number of dimensions, then one big-endian uint32 per
    dimension.  The data must hold exactly the product of the dimensions.  A header claiming more
    than the file holds is rejected before the data is allocated: a plain file by its size, a
    gzip stream by reading at most claimed+1 bytes in chunks; more than ``max_bytes`` of data
    is refused from the header.  ``limit``: read only the first ``limit`` items (along the
    first axis), so the work is that of ``limit`` items whatever the file holds; the rest of a
    gzip file is then not read, nor checked.  Raises DataError naming the file and the field
    at fault.
    """
    name = os.fspath(path)
    with _open_binary(path, max_bytes, whole=limit is None) as stream:
        head = bytes(stream.read_upto(4))
        if len(head) < 4:
            raise DataError(f"{name}: {len(head)} bytes, too short for an IDX header "
                            "(4 magic bytes)")
        if head[:2] != b"\0\0" or head[2] not in _IDX_DTYPES or head[3] == 0:
            hint = "" if stream.gzipped else " (not gzip-compressed either)"
            raise DataError(
                f"{name}: bad magic number 0x{head.hex()}{hint}: IDX starts with two zero bytes, a "
                "type code 08/09/0b/0c/0d/0e and the number of dimensions "
                "(MNIST images: 0x00000803, labels: 0x00000801)"
            )
        ndim = head[3]
        raw_dims = bytes(stream.read_upto(4 * ndim))
        if len(raw_dims) < 4 * ndim:
            raise DataError(f"{name}: header says {ndim} dimensions, but the file ends inside them")
        dims = struct.unpack(f">{ndim}I", raw_dims)
        dtype = np.dtype(_IDX_DTYPES[head[2]])
        item = int(np.prod(dims[1:], dtype=object)) * dtype.itemsize
        expected = dims[0] * item
        claim = f"{name}: header says {_describe(dims, dtype)} = {expected} bytes"
        if not stream.gzipped:
            held = os.fstat(stream.fileno()).st_size - 4 - 4 * ndim
            if held != expected:
                raise DataError(f"{claim}, file holds {held}")
        count = dims[0] if limit is None else min(limit, dims[0])
        wanted = count * item
        if wanted > max_bytes:
            first = "" if count == dims[0] else f" (the first {count}: {wanted} bytes)"
            raise DataError(f"{claim}{first}, more than max_bytes={max_bytes}, the most one data "
                            "file may hold here")
        # one byte more than the whole file should hold shows trailing data; a limit stops short
        data = stream.read_upto(wanted + (count == dims[0]))
    if len(data) < wanted:
        raise DataError(f"{claim}, file holds {len(data)}")
    if len(data) > wanted:
        raise DataError(f"{claim}, file holds more: trailing data after byte {expected}")
    return np.frombuffer(data, dtype=dtype).reshape((count,) + dims[1:]).astype(
        dtype.newbyteorder("="), copy=False)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` (any shape, dtype uint8/int8/int16/int32/float32/float64) as IDX;
    gzip-compressed if ``path`` ends in ``.gz``.  The inverse of ``read_idx``."""
    array = np.asarray(array)
    code = _IDX_CODES.get(array.dtype.newbyteorder("="))
    if code is None or array.ndim == 0:
        raise ValueError(f"write_idx: need an array of ndim >= 1 and dtype in "
                         f"{sorted(str(d) for d in _IDX_CODES)}, got {array.dtype} {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    body = array.astype(np.dtype(_IDX_DTYPES[code]), copy=False).tobytes()
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + body)


# ------------------------------------------------------------------------------- Kaggle CSV
@contextmanager
def _open_text(path: str | os.PathLike, max_bytes: int, whole: bool) -> Iterator[io.TextIOBase]:
    with _open_binary(path, max_bytes, whole) as stream:
        text = io.TextIOWrapper(io.BufferedReader(stream), encoding="utf-8-sig", newline=None)
        try:
            yield text
        except UnicodeDecodeError as e:
            raise DataError(f"{os.fspath(path)}: not a text (CSV) file ({e})") from e
        finally:
            text.detach().detach()


def _numbered_lines(text: io.TextIOBase, name: str) -> Iterator[tuple[int, str]]:
    """(line number, line) for each line, refusing one longer than MAX_CSV_LINE characters
    as soon as that many have been read (a 300 MB line is never held)."""
    for lineno in itertools.count(1):
        line = text.readline(MAX_CSV_LINE + 1)
        if not line:
            return
        if len(line) > MAX_CSV_LINE and not line.endswith("\n"):
            raise DataError(f"{name}, line {lineno}: longer than {MAX_CSV_LINE} characters; a row "
                            f"of {N_PIXELS + 1} values has at most {4 * (N_PIXELS + 1)}")
        yield lineno, line


def _csv_columns(name: str, first_line: str) -> tuple[bool, bool]:
    """(has_header, labelled) from the first line, or DataError."""
    fields = [f.strip() for f in first_line.strip().split(",")]
    has_header = fields[0] in ("label", "pixel0")
    labelled = fields[0] == "label" if has_header else len(fields) == N_PIXELS + 1
    names_ok = not has_header or fields[labelled:] == [f"pixel{i}" for i in range(N_PIXELS)]
    if len(fields) != N_PIXELS + labelled or not names_ok:
        raise DataError(f"{name}, line 1: expected a header 'label,pixel0,...,pixel783' (785 "
                        "columns) or 'pixel0,...,pixel783' (784), or a first data row of 785 or "
                        f"784 values; got {len(fields)} columns starting {first_line[:40]!r}")
    return has_header, labelled


# A CSV cell NumPy reads as an integer: ASCII digits with an optional sign (a '-' then fails
# as out of range). Python's int() is looser ('1_0', '٣'); the scanner below must not be.
_CSV_INTEGER = re.compile(r"[+-]?[0-9]+")
_CSV_BLOCK = 2048  # rows parsed per np.loadtxt call: the table grows block by block


def _csv_first_problem(rows: list[tuple[int, str]], labelled: bool) -> str | None:
    """The first bad cell of ``rows`` (numbered lines), checked cell by cell; slow, so only
    run on the block NumPy refused."""
    ncols = N_PIXELS + labelled
    for lineno, line in rows:
        fields = line.strip().split(",")
        if len(fields) != ncols:
            return f"line {lineno}: expected {ncols} columns, got {len(fields)}"
        for col, text in enumerate(fields):
            label = labelled and col == 0
            what = "label" if label else f"pixel{col - labelled}"
            cell = text.strip()  # NumPy ignores the same surrounding white space
            # not int(): it also takes '1_0' and non-ASCII digits, which NumPy refuses
            if not _CSV_INTEGER.fullmatch(cell):
                return f"line {lineno}, column {col + 1} ({what}): {text[:20]!r} is not an integer"
            hi = 9 if label else 255
            if cell.startswith("-") or int(cell) > hi:  # '-0' too: uint8 has no sign
                return f"line {lineno}, column {col + 1} ({what}): {cell} is outside 0..{hi}"
    return None


def _csv_block(name: str, rows: list[tuple[int, str]], labelled: bool) -> np.ndarray:
    """Parse numbered lines into a uint8 table (len(rows), 784 + labelled), or DataError
    naming the first bad line and cell."""
    try:
        table = np.loadtxt([line for _, line in rows], delimiter=",", dtype=np.uint8,
                           comments=None, ndmin=2)
        problem = None if table.shape[1] == N_PIXELS + labelled else "wrong number of columns"
    except ValueError as e:
        table, problem = None, str(e)[:200]
    if problem is None and labelled and table[:, 0].max() > 9:
        problem = "label outside 0..9"
    if problem is not None:
        raise DataError(f"{name}, {_csv_first_problem(rows, labelled) or problem}")
    return table


def read_kaggle_csv(path: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES,
                    limit: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a Kaggle "Digit Recognizer" CSV (``train.csv``: label,pixel0..pixel783; ``test.csv``:
    pixel0..pixel783, no labels; header row optional, gzip optional).

    Returns X float32 ``(N, 784)`` in [0, 1] and y int64 ``(N,)``, or None for an unlabelled file.
    Any malformed row (wrong column count, not an integer, pixel outside 0..255, label outside
    0..9) raises DataError naming the file, the line and the problem. Streams the file: more
    than ``max_bytes`` (after decompression) or a line of more than ``limits.MAX_CSV_LINE``
    characters is refused as soon as it is read; ``limit`` reads only the first ``limit`` rows.
    """
    name = os.fspath(path)
    blocks, rows, n = [], [], 0
    with _open_text(path, max_bytes, whole=limit is None) as f:
        lines = _numbered_lines(f, name)
        first = next(lines, (1, ""))[1]
        if not first.strip():
            raise DataError(f"{name}: empty; expected a header row label,pixel0,...,pixel783")
        has_header, labelled = _csv_columns(name, first)
        if not has_header:
            lines = itertools.chain([(1, first)], lines)
        for lineno, line in lines:
            if limit is not None and n >= limit:
                break
            if not line.strip():
                continue
            rows.append((lineno, line))
            n += 1
            if len(rows) == _CSV_BLOCK:
                blocks.append(_csv_block(name, rows, labelled))
                rows = []
                if len(blocks) == 1 and limit is None:  # the start parses: check the size, faster
                    _check_gzip_size(path, max_bytes)   # than parsing up to max_bytes
        if rows:
            blocks.append(_csv_block(name, rows, labelled))
    if not blocks:
        raise DataError(f"{name}: no data rows after the header")
    table = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    del blocks
    X = table[:, int(labelled):].astype(np.float32)
    X /= 255.0
    return X, (table[:, 0].astype(np.int64) if labelled else None)
