"""The hostile files of issue 13's table, made in milliseconds however much they unpack to.

A gzip or zip stream that repeats one block is written as deflate segments ended by a full
flush (each independent of what came before), so the block is compressed once and the
segment repeated; the CRC of the repetition comes from ``crc32_combine`` (zlib's algorithm;
Python's zlib does not expose it). The files are valid: a reader that went to the end would
find the right sizes and checksums.
"""
from __future__ import annotations

import json
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np

from tinygrad_mnist import digits, serialize


# ------------------------------------------------------------------ CRC-32 of repeated data
def _gf2_times(matrix: list, vector: int) -> int:
    total, i = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[i]
        vector >>= 1
        i += 1
    return total


def _gf2_square(matrix: list) -> list:
    return [_gf2_times(matrix, matrix[n]) for n in range(32)]


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A + B from crc32(A), crc32(B) and len(B) (zlib's crc32_combine)."""
    if len2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit
    even = _gf2_square(odd)                           # two zero bits
    odd = _gf2_square(even)                           # four zero bits
    while True:
        even = _gf2_square(odd)
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def crc32_repeated(block: bytes, times: int) -> int:
    """crc32(block * times) without building it: doubling with crc32_combine."""
    result, length = 0, 0                      # CRC and length of the part done so far
    power, power_len = zlib.crc32(block), len(block)
    while times:
        if times & 1:
            result, length = crc32_combine(result, power, power_len), length + power_len
        power, power_len = crc32_combine(power, power, power_len), 2 * power_len
        times >>= 1
    return result


def _segment(data: bytes) -> bytes:
    """Raw deflate of ``data`` ended by a full flush: byte-aligned, independent, not final."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)


def deflate_repeated(head: bytes, block: bytes, times: int, tail: bytes) -> tuple:
    """(raw deflate stream, crc32, size) of head + block * times + tail."""
    last = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = _segment(head) + _segment(block) * times + last.compress(tail) + last.flush()
    crc = crc32_combine(crc32_combine(zlib.crc32(head), crc32_repeated(block, times), len(block) * times),
                        zlib.crc32(tail), len(tail))
    return stream, crc, len(head) + len(block) * times + len(tail)


def gzip_repeated(path: Path, head: bytes, block: bytes, times: int, tail: bytes = b"") -> Path:
    """A valid one-member gzip file of head + block * times + tail."""
    stream, crc, size = deflate_repeated(head, block, times, tail)
    path.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + stream
                     + struct.pack("<II", crc, size & 0xFFFFFFFF))
    return path


def gzip_members(path: Path, head: bytes, block: bytes, times: int) -> Path:
    """head, then ``times`` gzip members of ``block``: valid, and its trailer (the last
    member's) says only len(block), so only streaming can tell the total."""
    def member(data: bytes) -> bytes:
        c = zlib.compressobj(9, zlib.DEFLATED, 31)
        return c.compress(data) + c.flush()
    path.write_bytes(member(head) + member(block) * times)
    return path


# ------------------------------------------------------------------ pickles
def shared_lists(width: int, depth: int) -> bytes:
    """"Billion laughs": a list of ``width`` references to a list of ``width`` references ...
    ``depth`` deep; width ** depth leaves (10**16 for 100, 8) from under a kilobyte."""
    ops = [b"\x80\x02N"]  # PROTO 2, then None: the innermost item
    for level in range(depth):
        ops.append(b"q" + bytes([level]))          # BINPUT: memo the item below
        ops.append(b"0(")                          # POP it, MARK
        ops.append(b"h" + bytes([level]) + b"2" * (width - 1))  # BINGET it once, DUP width-1 times
        ops.append(b"l")                           # LIST from the mark
    return b"".join(ops) + b"."


def billion_laughs(path: Path, width: int = 100, depth: int = 8) -> Path:
    """The table's 98-byte mnist.pkl.gz."""
    blob = shared_lists(width, depth)
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    path.write_bytes(c.compress(blob) + c.flush())
    return path


def opcode_flood(path: Path, opcodes: int = 100_000_000) -> Path:
    """The table's 97 KB pkl.gz: 100M one-byte "push None" opcodes."""
    block = b"N" * (1 << 20)
    return gzip_repeated(path, b"\x80\x02", block, opcodes // len(block), b"N" * (opcodes % len(block)) + b".")


# ------------------------------------------------------------------ CSV and IDX
CSV_HEADER = ("label," + ",".join(f"pixel{i}" for i in range(784)) + "\n").encode()


def csv_long_line(path: Path, length: int = 300_000_000) -> Path:
    """The table's 306 KB .csv.gz: a header, then one line of 300 MB ("0,0,0,...")."""
    block = b"0," * (1 << 19)
    return gzip_repeated(path, CSV_HEADER + b"5,", block, length // len(block), b"0\n")


def csv_valid_rows(path: Path, size: int = 300_000_000, members: bool = False) -> Path:
    """Valid Kaggle rows (label 5, all pixels 0) decompressing to ``size`` bytes: the table's
    "4.5 MB gz of valid rows" kind. ``members``: as many gzip members (see gzip_members)."""
    row = b"5," + b"0," * 783 + b"0\n"
    block = row * 2048
    times = size // len(block) + 1
    return (gzip_members if members else gzip_repeated)(path, CSV_HEADER, block, times)


def idx_dir(root: Path, n_train: int = 1_369_000) -> Path:
    """The four IDX files, the training images of ``n_train`` zero images (1,073,296,000 bytes:
    just under the old 1 GiB limit) in a 1 MB gzip; the rest small."""
    root.mkdir(parents=True, exist_ok=True)
    block = bytes(784 * 1000)
    gzip_repeated(root / "train-images-idx3-ubyte.gz", struct.pack(">IIII", 2051, n_train, 28, 28), block,
                  n_train // 1000, bytes(784 * (n_train % 1000)))
    gzip_repeated(root / "train-labels-idx1-ubyte.gz", struct.pack(">II", 2049, n_train), bytes(1000),
                  n_train // 1000, bytes(n_train % 1000))
    from tinygrad_mnist.data import write_idx
    write_idx(root / "t10k-images-idx3-ubyte.gz", np.zeros((100, 28, 28), np.uint8))
    write_idx(root / "t10k-labels-idx1-ubyte.gz", np.zeros(100, np.uint8))
    return root


# ------------------------------------------------------------------ models and images
def _npy_header(shape: tuple, dtype: str) -> bytes:
    import io
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def zip_of_zeros(path: Path, arrays: dict, config: dict) -> Path:
    """A valid, deflated .npz: arrays of zeros (name -> (shape, dtype)), written without ever
    holding them, and the architecture ``config`` as serialize.save writes it."""
    entries = [(serialize.ARCH_KEY + ".npy", None, np.array(json.dumps(config)))]
    entries += [(name + ".npy", (shape, dtype), None) for name, (shape, dtype) in arrays.items()]
    out, central = bytearray(), bytearray()
    for name, spec, small in entries:
        if small is not None:
            import io
            buf = io.BytesIO()
            np.save(buf, small)
            data = buf.getvalue()
            stream, crc, size = deflate_repeated(data, b"", 0, b"")
        else:
            shape, dtype = spec
            nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
            block = bytes(1 << 20)
            stream, crc, size = deflate_repeated(_npy_header(shape, dtype), block, nbytes // len(block),
                                                 bytes(nbytes % len(block)))
        assert size < 1 << 32  # no zip64 here
        raw = name.encode()
        fields = struct.pack("<HHHHHIIIHH", 20, 0, 8, 0, 0x21, crc, len(stream), size, len(raw), 0)
        central += b"PK\x01\x02" + struct.pack("<H", 20) + fields + struct.pack("<HHHII", 0, 0, 0, 0, len(out)) + raw
        out += b"PK\x03\x04" + fields + raw + stream
    end = struct.pack("<HHHHIIH", 0, 0, len(entries), len(entries), len(central), len(out), 0)
    path.write_bytes(bytes(out) + bytes(central) + b"PK\x05\x06" + end)
    return path


def mlp_of_zeros(path: Path, sizes: list, dtype: str = "<f4") -> Path:
    """A consistent MLP model file of ``sizes`` with zero weights (1 MB for 784-675000-10)."""
    arrays = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        arrays[f"layers.{2 * i}.weight"] = ((n_out, n_in), dtype)
        arrays[f"layers.{2 * i}.bias"] = ((n_out,), dtype)
    return zip_of_zeros(path, arrays, {"type": "MLP", "sizes": list(sizes), "activation": "sigmoid",
                                       "output": None})


def huge_png(path: Path, side: int = 4096) -> Path:
    """The table's 75 KB PNG: side x side greyscale, every row Paeth-filtered (the filter the
    old decoder ran byte by byte in Python)."""
    raw = (b"\x04" + bytes(side)) * side
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(digits.PNG_SIGNATURE + _png_chunk(b"IHDR", ihdr)
                     + _png_chunk(b"IDAT", zlib.compress(raw, 9)) + _png_chunk(b"IEND", b""))
    return path


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def pickle_of(obj) -> bytes:
    return pickle.dumps(obj, protocol=2)
