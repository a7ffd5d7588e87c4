"""images: reading with Pillow (every colour mode, bit depth and format, sizes refused before
decoding, broken files), PGM P2/P5, .npy inputs, and load_digit's preparation, backgrounds and
errors. Drawings and photos of real digits, and accuracy on them: test_photos.py."""
from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from tinygrad_mnist import digits
from tinygrad_mnist.data import load_bundled_sample
from tinygrad_mnist.digits import ImageError, encode_png, load_digit, read_image
from tinygrad_mnist.prepare import prepare

RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def seven():
    """A real 7 (the first official test digit), uint8 28x28, white on black."""
    return np.rint(load_bundled_sample().X_test[0] * 255).astype(np.uint8).reshape(28, 28)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


# ------------------------------------------------------------------ reading with Pillow
def test_png_round_trip_every_colour_type():
    for shape in [(28, 28), (5, 7, 2), (9, 4, 3), (3, 11, 4)]:
        image = RNG.integers(0, 256, shape, dtype=np.uint8)
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(encode_png(image)))), image)


def test_png_writer_scales_floats_and_writes_files(tmp_path):
    path = tmp_path / "g.png"
    digits.write_png(path, np.array([[0.0, 0.5, 1.0]]))
    np.testing.assert_array_equal(digits.read_png(path), [[0, 128, 255]])
    assert [p.name for p in tmp_path.iterdir()] == ["g.png"]  # written atomically: no temp file left


def test_png_writer_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        encode_png(np.zeros((2, 2, 5), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        encode_png(np.full((2, 2), 1.5))


def _save(im: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def variants(seven: np.ndarray) -> dict:
    """The same white-on-black 7 in every mode and format Pillow writes here."""
    grey = Image.fromarray(seven, "L")
    rgba = np.dstack([seven] * 3 + [np.full_like(seven, 255)])
    out = {
        "png L": _save(grey, "PNG"), "png LA": _save(grey.convert("LA"), "PNG"),
        "png RGB": _save(grey.convert("RGB"), "PNG"), "png RGBA": _save(Image.fromarray(rgba, "RGBA"), "PNG"),
        "png P": _save(grey.convert("P"), "PNG"), "png 1-bit": _save(grey.point(lambda v: 255 * (v > 127)).convert("1"), "PNG"),
        "png 16-bit": _save(Image.fromarray(seven.astype(np.uint16) * 257), "PNG"),
        "png interlaced": _save(grey, "PNG", interlace=True),
        "jpeg": _save(grey, "JPEG", quality=95), "jpeg RGB": _save(grey.convert("RGB"), "JPEG", quality=95),
        "bmp": _save(grey.convert("RGB"), "BMP"), "gif": _save(grey.convert("P"), "GIF"),
        "tiff": _save(grey, "TIFF"),
    }
    if "WEBP" in Image.SAVE:
        out["webp"] = _save(grey.convert("RGB"), "WEBP", lossless=True)
    return out


def test_every_mode_and_format_gives_the_same_input(tmp_path, seven):
    reference = prepare(seven / 255.0)
    for name, data in variants(seven).items():
        path = tmp_path / "digit"  # the format is told by content, not by name
        path.write_bytes(data)
        x = load_digit(path).reshape(28, 28)
        tolerance = 0.25 if "jpeg" in name or "1-bit" in name else 0.01  # lossy, or cut at half
        assert np.abs(x - reference).mean() < tolerance / 10 and np.abs(x - reference).max() <= tolerance + 0.5, name


def test_transparency_is_flattened_onto_the_background_the_ink_needs(tmp_path, seven):
    """Black ink on transparent pixels that are black underneath reads as black on white, not
    as an all-black picture; white ink on transparency as white on black."""
    reference = prepare(seven / 255.0)
    for ink in (0, 255):
        rgba = np.zeros((28, 28, 4), np.uint8)
        rgba[..., :3] = ink
        rgba[..., 3] = seven
        (tmp_path / "t.png").write_bytes(encode_png(rgba))
        grey = read_image(tmp_path / "t.png")
        assert grey[0, 0] == (1.0 if ink == 0 else 0.0)
        np.testing.assert_allclose(load_digit(tmp_path / "t.png").reshape(28, 28), reference, atol=0.02)


def test_a_palette_gif_with_a_transparent_colour(tmp_path, seven):
    im = Image.fromarray(255 - seven, "L").convert("P")
    im.info["transparency"] = int(np.asarray(im)[0, 0])  # the paper's colour is see-through
    (tmp_path / "t.gif").write_bytes(_save(im, "GIF", transparency=im.info["transparency"]))
    assert load_digit(tmp_path / "t.gif").reshape(28, 28)[14].max() > 0.5


@pytest.mark.parametrize("side, said", [(5000, "the image is 5000x5000"), (30000, "the image is too large")])
def test_the_size_is_refused_from_the_header_before_decoding(tmp_path, side, said):
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 25 or 900 Mpx claimed, a few bytes held
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 10)) \
        + _chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(data)
    with pytest.raises(ImageError, match=f"bomb.png: {said}.*expected a non-empty image of at most 16777216 pixels"):
        load_digit(tmp_path / "bomb.png")


@pytest.mark.parametrize("data, match", [
    (b"GIF89a....", "not a readable image"),
    (encode_png(RNG.integers(0, 256, (64, 64), dtype=np.uint8))[:2000], "not a readable image"),  # truncated
    (b"\x89PNG\r\n\x1a\n" + b"junk" * 10, "not a readable image"),
    (b"hello world", "not a readable image"),
])
def test_broken_files_say_so(tmp_path, data, match):
    (tmp_path / "x.png").write_bytes(data)
    with pytest.raises(ImageError, match=f"x.png: {match}"):
        load_digit(tmp_path / "x.png")


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
def test_npy_inputs_are_used_as_they_are(tmp_path, seven):
    np.save(tmp_path / "a.npy", seven)                                   # uint8 (28, 28)
    np.save(tmp_path / "b.npy", (seven / 255.0).reshape(784))            # float64 (784,) in [0, 1]
    for name in ("a.npy", "b.npy"):
        x = load_digit(tmp_path / name)
        assert x.shape == (784,) and x.dtype == np.float32
        np.testing.assert_allclose(x, seven.reshape(784) / 255.0, atol=1e-6)
        np.testing.assert_allclose(load_digit(tmp_path / name, invert=True), 1.0 - x, atol=1e-6)


def test_pictures_are_prepared_like_mnist(tmp_path, seven):
    """A 7 drawn small in the corner of a big black-on-white canvas comes out as MNIST's 7:
    white on black, 20x20 at most, centre of mass at (14, 14)."""
    canvas = np.full((120, 200), 255, np.uint8)
    canvas[5:33, 150:178] = 255 - seven
    (tmp_path / "corner.png").write_bytes(encode_png(canvas))
    x = load_digit(tmp_path / "corner.png").reshape(28, 28)
    assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0
    rows, cols = np.flatnonzero(x.max(1) > 0), np.flatnonzero(x.max(0) > 0)
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 == 20
    r, c = np.indices(x.shape)
    assert abs((r * x).sum() / x.sum() - 14) <= 0.5 and abs((c * x).sum() / x.sum() - 14) <= 0.5
    np.testing.assert_allclose(x, prepare(seven / 255.0), atol=0.1)
    with pytest.raises(ValueError, match="background must be one of auto, dark, light"):
        load_digit(tmp_path / "corner.png", background="white")


def test_forcing_the_background(tmp_path, seven):
    (tmp_path / "d.png").write_bytes(encode_png(seven))
    auto = load_digit(tmp_path / "d.png")
    np.testing.assert_array_equal(load_digit(tmp_path / "d.png", background="dark"), auto)
    forced = load_digit(tmp_path / "d.png", background="light")  # read as dark ink on white: wrong
    assert np.abs(forced - auto).mean() > 0.1


@pytest.mark.parametrize("picture", [
    np.zeros((28, 28)), np.ones((50, 40)), np.full((30, 30), 0.5),
    np.clip(0.5 + 0.05 * RNG.standard_normal((64, 64)), 0, 1),       # paper and noise, no ink
    np.pad(np.ones((2, 2)), ((40, 38), (10, 68))),                    # a speck
    np.linspace(0, 1, 100 * 80).reshape(80, 100),                     # a smooth shadow
], ids=["black", "white", "grey", "noise", "speck", "shadow"])
def test_blank_pictures_say_no_digit_was_found(tmp_path, picture):
    (tmp_path / "blank.png").write_bytes(encode_png(picture))
    with pytest.raises(ImageError, match=r"blank.png: no digit found: the image is blank or nearly so"):
        load_digit(tmp_path / "blank.png")


@pytest.mark.parametrize("write, match", [
    (lambda p: np.save(p, np.zeros((28, 27))), r"shape \(28, 27\)"),
    (lambda p: np.save(p, np.full(784, 2.0)), r"\[0, 1\]"),
    (lambda p: np.save(p, np.full(784, np.nan)), "finite"),
    (lambda p: np.save(p, np.full(784, 300)), "0..255"),
    (lambda p: np.save(p, np.array(["a"] * 784)), "numeric"),
    (lambda p: np.save(p, np.array([None] * 784, dtype=object)), "not a readable .npy"),
    (lambda p: p.write_bytes(b"hello world"), "not a readable image"),
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
