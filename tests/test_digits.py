"""images: the stdlib PNG reader/writer (every colour type and filter, hand-built files, broken
files), PGM P2/P5, .npy digits, and load_digit's scaling, shape checks and inversion."""
from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
import pytest

from tinygrad_mnist import digits
from tinygrad_mnist.digits import ImageError, decode_png, encode_png, load_digit

RNG = np.random.default_rng(0)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(width, height, colour, raw_rows: bytes, depth=8, interlace=0, extra=b"", idat=None) -> bytes:
    """A PNG assembled by hand from already-filtered scanlines (independent of encode_png)."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace)
    data = zlib.compress(raw_rows) if idat is None else idat
    return (digits.PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + extra + _chunk(b"IDAT", data)
            + _chunk(b"IEND", b""))


# ------------------------------------------------------------------ PNG decoding, by hand
def test_hand_built_png_with_each_filter_type():
    # 3x5 greyscale; each row uses another filter; expected pixels worked out by hand:
    rows = [
        bytes([0, 10, 20, 30]),          # None:   10  20  30
        bytes([1, 5, 5, 250]),           # Sub:     5  10   4   (10 + 250 = 260 = 4 mod 256)
        bytes([2, 1, 2, 3]),             # Up:      6  12   7
        bytes([3, 4, 1, 1]),             # Avg:     4+(0+6)//2=7, 1+(7+12)//2=10, 1+(10+7)//2=9
        bytes([4, 1, 1, 1]),             # Paeth:  up=7 -> 8; left 8, up 10, ul 7: p=11 -> up 10 -> 11;
    ]                                    #         left 11, up 9, ul 10: p=10 -> left/up tie... see below
    got = decode_png(_png(3, 5, 0, b"".join(rows)))
    # Paeth, last pixel: a=11, b=9, c=10, p=10, pa=1, pb=1, pc=0 -> c=10, so 1 + 10 = 11
    expected = [[10, 20, 30], [5, 10, 4], [6, 12, 7], [7, 10, 9], [8, 11, 11]]
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == np.uint8


def test_hand_built_rgb_sub_filter_works_per_channel():
    raw = bytes([1, 10, 20, 30, 1, 2, 3])  # two RGB pixels, Sub: the second adds the first's channels
    np.testing.assert_array_equal(decode_png(_png(2, 1, 2, raw)), [[[10, 20, 30], [11, 22, 33]]])


def test_ancillary_chunks_are_skipped():
    text = _chunk(b"tEXt", b"Comment\0hello")
    np.testing.assert_array_equal(decode_png(_png(1, 1, 0, b"\0\x7f", extra=text)), [[127]])


# ------------------------------------------------------------------ PNG round trips
@pytest.mark.parametrize("shape", [(28, 28), (5, 7, 2), (9, 4, 3), (3, 11, 4)])
@pytest.mark.parametrize("filter_type", range(5))
def test_png_round_trip_every_colour_type_and_filter(shape, filter_type):
    image = RNG.integers(0, 256, shape, dtype=np.uint8)
    np.testing.assert_array_equal(decode_png(encode_png(image, filter_type)), image)


def test_png_writer_scales_floats_and_writes_files(tmp_path):
    path = tmp_path / "g.png"
    digits.write_png(path, np.array([[0.0, 0.5, 1.0]]))
    np.testing.assert_array_equal(digits.read_png(path), [[0, 128, 255]])


def test_png_writer_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        encode_png(np.zeros((2, 2, 5), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        encode_png(np.full((2, 2), 1.5))
    with pytest.raises(ValueError, match="filter_type"):
        encode_png(np.zeros((2, 2), np.uint8), filter_type=5)


def test_png_interoperates_with_pillow():
    Image = pytest.importorskip("PIL.Image", reason="Pillow not installed: cross-check skipped")
    y, x = np.mgrid[0:40, 0:40]
    smooth = ((3 * x + 5 * y) % 256).astype(np.uint8)  # Pillow's adaptive filtering mixes types here
    for mode, image in [("L", smooth), ("RGB", np.stack([smooth, smooth.T, 255 - smooth], -1)),
                        ("RGBA", RNG.integers(0, 256, (6, 9, 4), dtype=np.uint8))]:
        buf = io.BytesIO()
        Image.fromarray(image, mode).save(buf, "PNG", optimize=True)
        np.testing.assert_array_equal(decode_png(buf.getvalue()), image)
        for f in range(5):
            np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(encode_png(image, f)))), image)


# ------------------------------------------------------------------ PNG errors
GOOD = _png(1, 1, 0, b"\0\x7f")


@pytest.mark.parametrize("data, match", [
    (b"GIF89a....", "not a PNG"),
    (GOOD[:-6], "truncated"),
    (GOOD[:20] + bytes([GOOD[20] ^ 1]) + GOOD[21:], "CRC"),
    (_png(1, 1, 3, b"\0\0", extra=_chunk(b"PLTE", b"\0\0\0")), r"colour type 3 \(palette\)"),
    (_png(1, 1, 0, b"\0\0\0", depth=16), "bit depth 16"),
    (_png(1, 1, 0, b"\0\0", depth=4), "bit depth 4"),
    (_png(1, 1, 0, b"\0\0", interlace=1), "interlaced"),
    (_png(1, 1, 0, b"\x05\0"), "filter type 5"),
    (_png(2, 2, 0, b"\0\0"), "needs 6"),
    (_png(1, 1, 0, b"", idat=b"not zlib"), "does not decompress"),
    (digits.PNG_SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
     + _chunk(b"IDAT", zlib.compress(b"\0\0")), "no IEND"),
    (digits.PNG_SIGNATURE + _chunk(b"IDAT", b""), "must start with an IHDR"),
    (_png(1, 1, 0, b"\0\0", extra=_chunk(b"ZZZZ", b"")), "unknown critical chunk"),
])
def test_png_errors_say_what_is_wrong(data, match):
    with pytest.raises(ImageError, match=match):
        decode_png(data, "x.png")


# ------------------------------------------------------------------ PGM
def test_pgm_p5_round_trip(tmp_path):
    image = RNG.integers(0, 256, (28, 28), dtype=np.uint8)
    digits.write_pgm(tmp_path / "d.pgm", image)
    np.testing.assert_array_equal(digits.read_pgm(tmp_path / "d.pgm"), image)


def test_pgm_p2_ascii_with_comments_and_maxval_scaling():
    data = b"P2\n# a comment\n3 1 # another\n15\n0 15\n 5\n"
    np.testing.assert_array_equal(digits.decode_pgm(data), [[0, 255, 85]])


def test_pgm_16_bit_p5():
    data = b"P5 2 1 65535\n" + np.array([0, 65535], ">u2").tobytes()
    np.testing.assert_array_equal(digits.decode_pgm(data), [[0, 255]])


@pytest.mark.parametrize("data, match", [
    (b"P6\n1 1\n255\n\0\0\0", "not a PGM"),
    (b"P5\n2 2\n255\n\0", "truncated"),
    (b"P5\n2 x\n255\n\0\0\0\0", "not three integers"),
    (b"P5\n2", "header ends early"),
    (b"P2\n2 1\n10\n3 11\n", "exceeds its maxval 10"),
    (b"P2\n2 1\n10\n3\n", "holds 1 pixel values"),
    (b"P5\n0 1\n255\n", "non-empty"),
    (b"P2\n2 1\n255\n-1 3\n", "pixel value -1 is negative"),  # would wrap to 255 as uint8
    (b"P2\n2 1\n255\n99999999999999999999999 3\n", "99999999999999999999999 exceeds its maxval 255"),
    (b"P5\n99999999999999999999 1\n255\n", "at most 16777216 pixels"),
    (b"P2\n2 1\n99999999999999999999999\n1 1\n", "maxval 1..65535"),
])
def test_pgm_errors(data, match):
    with pytest.raises(ImageError, match=match):
        digits.decode_pgm(data, "x.pgm")


# ------------------------------------------------------------------ load_digit
DIGIT = RNG.integers(0, 256, (28, 28), dtype=np.uint8)


@pytest.mark.parametrize("write", [
    lambda p, a: digits.write_png(p, a, filter_type=4),
    digits.write_pgm,
    lambda p, a: np.save(p, a),                               # uint8 (28, 28)
    lambda p, a: np.save(p, (a / 255.0).reshape(784)),        # float64 (784,) in [0, 1]
], ids=["png", "pgm", "npy-uint8", "npy-float"])
def test_load_digit_any_format_gives_784_floats_in_0_1(tmp_path, write):
    path = tmp_path / "digit.bin"  # the format is told by content, not by name
    write(path, DIGIT)
    if not path.exists():  # np.save appends .npy
        path = tmp_path / "digit.bin.npy"
    x = load_digit(path)
    assert x.shape == (784,) and x.dtype == np.float32
    np.testing.assert_allclose(x, DIGIT.reshape(784) / 255.0, atol=1e-6)
    np.testing.assert_allclose(load_digit(path, invert=True), 1.0 - x, atol=1e-6)


def test_colour_images_become_luma_and_alpha_composites_onto_black(tmp_path):
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[0, 0] = [255, 255, 255, 255]    # opaque white -> 1
    rgba[0, 1] = [255, 255, 255, 0]      # transparent -> black background, 0
    rgba[0, 2] = [255, 0, 0, 255]        # pure red -> luma 0.299
    digits.write_png(tmp_path / "c.png", rgba)
    x = load_digit(tmp_path / "c.png")
    np.testing.assert_allclose(x[:3], [1.0, 0.0, 0.299], atol=1e-6)


@pytest.mark.parametrize("write, match", [
    (lambda p: digits.write_png(p, np.zeros((27, 28), np.uint8)), "28x27; expected 28x28"),
    (lambda p: np.save(p, np.zeros((28, 27))), r"shape \(28, 27\)"),
    (lambda p: np.save(p, np.full(784, 2.0)), r"\[0, 1\]"),
    (lambda p: np.save(p, np.full(784, np.nan)), "finite"),
    (lambda p: np.save(p, np.full(784, 300)), "0..255"),
    (lambda p: np.save(p, np.array(["a"] * 784)), "numeric"),
    (lambda p: np.save(p, np.array([None] * 784, dtype=object)), "not a readable .npy"),
    (lambda p: p.write_bytes(b"hello world"), "not a PNG, PGM"),
])
def test_load_digit_errors(tmp_path, write, match):
    path = tmp_path / "bad.npy"
    write(path)
    with pytest.raises(ImageError, match=match):
        load_digit(path)


def _npy_header(text: bytes) -> bytes:
    body = text.ljust(118) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body


@pytest.mark.parametrize("blob, match", [
    # a header claiming 10**12 pixels: refused by the file's size, nothing allocated
    (_npy_header(b"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }") + bytes(16),
     "mmap length is greater than file size"),
    (_npy_header(b"{'descr': '<f4', 'fortran_order': False, 'shape': (28, 28), }") + bytes(16), "greater than file size"),
    # a garbled header makes NumPy's parser raise tokenize.TokenError, not ValueError
    (_npy_header(b"{\x93NUMPY\x01\x00v\x00{'descr': '|u1', 'fortran_order': False, 'shape': (28, 28), }")
     + bytes(784), "not a readable .npy"),
    (_npy_header(b"[" * 50 + b"]" * 50), "not a readable .npy"),
])
def test_hostile_npy_headers(tmp_path, blob, match):
    path = tmp_path / "digit.npy"
    path.write_bytes(blob)
    with pytest.raises(ImageError, match=match):
        load_digit(path)


def test_load_digit_refuses_pipes_instead_of_hanging(tmp_path):
    os.mkfifo(tmp_path / "digit.png")
    with pytest.raises(ImageError, match="not a regular file"):
        load_digit(tmp_path / "digit.png")  # opening a pipe would block until a writer came
    with pytest.raises(IsADirectoryError):
        load_digit(tmp_path)


def test_load_digit_missing_file_is_an_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_digit(tmp_path / "none.png")
