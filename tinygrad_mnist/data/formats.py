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
import stat
import struct
import zlib
from contextlib import contextmanager
from typing import BinaryIO, Iterator

import numpy as np

from .errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
DEFAULT_MAX_BYTES = 1 << 30  # ceiling on decompressed gzip input: 20x MNIST's 47 MB images
_CHUNK = 1 << 20
N_PIXELS = 784
# gzip's own failures: bad header or CRC (BadGzipFile), cut short (EOFError), corrupt deflate data.
_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)

# IDX type code -> big-endian dtype (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT")
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_CODES = {np.dtype(t).newbyteorder("="): c for c, t in _IDX_DTYPES.items()}


@contextmanager
def _open_binary(path: str | os.PathLike) -> Iterator[tuple[BinaryIO, bool]]:
    """Yield (stream, gzipped): a decompressing stream if the content is gzip, else the file."""
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        if not gzipped:
            yield raw, False
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
            try:
                yield gz, True
            except _GZIP_ERRORS as e:
                raise DataError(f"{os.fspath(path)}: corrupt or truncated gzip data ({e})") from e


def _read_upto(stream: BinaryIO, n: int) -> bytearray:
    """Read at most ``n`` bytes in bounded chunks: memory grows with what the file really holds,
    never with what a header claims."""
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(min(_CHUNK, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


# ---------------------------------------------------------------------------------------- IDX
def _describe(dims: tuple[int, ...], dtype: np.dtype) -> str:
    kind = "" if dtype == np.uint8 else f" ({dtype.newbyteorder('=').name})"
    if len(dims) == 3:
        return f"{dims[0]} images of {dims[1]}x{dims[2]}{kind}"
    if len(dims) == 1:
        return f"{dims[0]} labels{kind}"
    return f"{dims[0]} items of {'x'.join(map(str, dims[1:]))}{kind}"


def read_idx(path: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
    """Read an IDX file (``*-ubyte``, or gzip-compressed; gzip is detected by content).

    Returns the array with the shape the header gives, in native byte order: MNIST images are
    uint8 ``(N, 28, 28)``, labels uint8 ``(N,)``.  Header: two zero bytes, a type code
    (0x08 = uint8 ... 0x0E = float64), the number of dimensions, then one big-endian uint32 per
    dimension.  The data must hold exactly the product of the dimensions.  A header claiming more
    than the file holds is rejected before the data is allocated: a plain file by its size, a
    gzip stream by reading at most claimed+1 bytes in chunks (and never more than
    ``max_bytes``).  Raises DataError naming the file and the field at fault.
    """
    name = os.fspath(path)
    with _open_binary(path) as (stream, gzipped):
        head = bytes(_read_upto(stream, 4))
        if len(head) < 4:
            raise DataError(f"{name}: {len(head)} bytes, too short for an IDX header "
                            "(4 magic bytes)")
        if head[:2] != b"\0\0" or head[2] not in _IDX_DTYPES or head[3] == 0:
            hint = "" if gzipped else " (not gzip-compressed either)"
            raise DataError(
                f"{name}: bad magic number 0x{head.hex()}{hint}: IDX starts with two zero bytes, a "
                "type code 08/09/0b/0c/0d/0e and the number of dimensions "
                "(MNIST images: 0x00000803, labels: 0x00000801)"
            )
        ndim = head[3]
        raw_dims = bytes(_read_upto(stream, 4 * ndim))
        if len(raw_dims) < 4 * ndim:
            raise DataError(f"{name}: header says {ndim} dimensions, but the file ends inside them")
        dims = struct.unpack(f">{ndim}I", raw_dims)
        dtype = np.dtype(_IDX_DTYPES[head[2]])
        expected = int(np.prod(dims, dtype=object)) * dtype.itemsize
        claim = f"{name}: header says {_describe(dims, dtype)} = {expected} bytes"
        st = os.fstat(stream.fileno()) if not gzipped else None
        if st is not None and stat.S_ISREG(st.st_mode):
            held = st.st_size - 4 - 4 * ndim
            if held != expected:
                raise DataError(f"{claim}, file holds {held}")
        elif expected > max_bytes:
            raise DataError(f"{claim}, more than max_bytes={max_bytes}; pass a larger max_bytes "
                            "if the file is genuine")
        data = _read_upto(stream, expected + 1)
    if len(data) < expected:
        raise DataError(f"{claim}, file holds {len(data)}")
    if len(data) > expected:
        raise DataError(f"{claim}, file holds more: trailing data after byte {expected}")
    return np.frombuffer(data, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="),
                                                                  copy=False)


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
def _open_text(path: str | os.PathLike) -> Iterator[io.TextIOBase]:
    with _open_binary(path) as (stream, _):
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline=None)
        try:
            yield text
        except UnicodeDecodeError as e:
            raise DataError(f"{os.fspath(path)}: not a text (CSV) file ({e})") from e
        finally:
            text.detach()


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


def _csv_first_problem(path: str | os.PathLike, has_header: bool, labelled: bool) -> str | None:
    """Scan line by line for the first bad row; slow, so only run once something is wrong."""
    ncols = N_PIXELS + labelled
    with _open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            if (lineno == 1 and has_header) or not line.strip():
                continue
            fields = line.strip().split(",")
            if len(fields) != ncols:
                return f"line {lineno}: expected {ncols} columns, got {len(fields)}"
            for col, text in enumerate(fields):
                label = labelled and col == 0
                what = "label" if label else f"pixel{col - labelled}"
                cell = text.strip()  # NumPy ignores the same surrounding white space
                # not int(): it also takes '1_0' and non-ASCII digits, which NumPy refuses
                if not _CSV_INTEGER.fullmatch(cell):
                    return f"line {lineno}, column {col + 1} ({what}): {text!r} is not an integer"
                hi = 9 if label else 255
                if cell.startswith("-") or int(cell) > hi:  # '-0' too: uint8 has no sign
                    return f"line {lineno}, column {col + 1} ({what}): {cell} is outside 0..{hi}"
    return None


def read_kaggle_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a Kaggle "Digit Recognizer" CSV (``train.csv``: label,pixel0..pixel783; ``test.csv``:
    pixel0..pixel783, no labels; header row optional, gzip optional).

    Returns X float32 ``(N, 784)`` in [0, 1] and y int64 ``(N,)``, or None for an unlabelled file.
    Any malformed row (wrong column count, not an integer, pixel outside 0..255, label outside
    0..9) raises DataError naming the file, the line and the problem.
    """
    name = os.fspath(path)
    with _open_text(path) as f:
        first = f.readline()
        if not first.strip():
            raise DataError(f"{name}: empty; expected a header row label,pixel0,...,pixel783")
        has_header, labelled = _csv_columns(name, first)
        row = f.readline() if has_header else first
        while row and not row.strip():
            row = f.readline()
        if not row:
            raise DataError(f"{name}: no data rows after the header")
        rows = itertools.chain([row], f)
        try:
            table = np.loadtxt(rows, delimiter=",", dtype=np.uint8, comments=None, ndmin=2)
            problem = None
        except ValueError as e:
            table, problem = None, str(e)
    if table is not None and labelled and table.size and table[:, 0].max() > 9:
        problem = "label outside 0..9"
    if problem is not None:
        raise DataError(f"{name}, {_csv_first_problem(path, has_header, labelled) or problem}")
    X = table[:, int(labelled):].astype(np.float32)
    X /= 255.0
    return X, (table[:, 0].astype(np.int64) if labelled else None)
