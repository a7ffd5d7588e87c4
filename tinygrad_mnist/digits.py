"""Digit images for ``predict``: any picture of one digit (PNG, JPEG, BMP, GIF, TIFF, WebP, ...;
grey, RGB, RGBA or palette; 8 or 16 bits; any size), read with Pillow, PGM (P2/P5, read here)
and ``.npy`` arrays; and ``load_digit``, which turns a picture into the 784 floats in [0, 1] a
network takes, prepared as MNIST was made (``prepare.py``: white on black, cropped, scaled to
20x20, centred by mass in 28x28). Leaves out: the preparation itself, pictures of several digits.
"""
from __future__ import annotations

import io
import os
import tokenize
import warnings
from typing import Optional, Tuple, Union

import numpy as np

from .files import atomic_file, refuse_special
from .limits import MAX_IMAGE_PIXELS
from .prepare import BACKGROUNDS, BlankImage, composite, prepare

PathLike = Union[str, "os.PathLike[str]"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NPY_MAGIC = b"\x93NUMPY"
DIGIT_SHAPE = (28, 28)
MAX_PIXELS = MAX_IMAGE_PIXELS  # refuse larger images from their header, before decoding (bombs)


class ImageError(ValueError):
    """An image file is unreadable, unsupported, too large, or shows no digit.

    The message names the file and what is wrong, e.g.
    ``digit.png: no digit found: the image is blank or nearly so (...)``.
    """


def _pillow():
    try:
        from PIL import Image
    except ImportError:  # a dependency: only a broken install gets here
        raise ImportError("reading images needs Pillow: pip install pillow") from None
    return Image


# ------------------------------------------------------------------ Pillow: read and write
# Pillow's decoders raise these for a corrupt or truncated file (SyntaxError and struct.error
# from some header parsers, zlib.error and EOFError from truncated data)
def _decode_errors() -> tuple:
    import struct
    import zlib
    Image = _pillow()
    return (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error, zlib.error,
            Image.DecompressionBombError)


def _open_pixels(source, name: str) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Decode one picture with Pillow -> (grey float32 (H, W) in [0, 1], alpha (H, W) or None).

    The size is checked against MAX_PIXELS from the header, before any pixel is decoded
    (``Image.open`` is lazy). The first frame of an animation is used. 16-bit grey is scaled by
    65535; colour becomes grey by ITU-R 601 luma (Pillow's "L").
    """
    Image = _pillow()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(source)
            width, height = im.size
            if width < 1 or height < 1 or width * height > MAX_PIXELS:
                raise ImageError(f"{name}: the image is {width}x{height}; expected a non-empty image of at most "
                                 f"{MAX_PIXELS} pixels")
            im.load()
            mode = im.mode
            alpha = None
            if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info):
                la = im.convert("RGBA").convert("LA") if mode in ("P", "PA", "RGBa", "La") else im.convert("LA")
                grey = np.asarray(la.getchannel("L"), np.float32) / 255.0
                alpha = np.asarray(la.getchannel("A"), np.float32) / 255.0
            elif mode.startswith("I") or mode == "F":
                raw = np.asarray(im).astype(np.float32)
                top = 65535.0 if mode.startswith("I;16") or raw.max(initial=0) > 255 else 255.0
                grey = np.clip(raw / top, 0.0, 1.0) if mode != "F" else np.clip(raw, 0.0, 1.0)
            else:
                grey = np.asarray(im.convert("L"), np.float32) / 255.0
    except ImageError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as e:  # Pillow's own, larger limit
        raise ImageError(f"{name}: the image is too large ({e}); expected a non-empty image of at most "
                         f"{MAX_PIXELS} pixels") from None
    except _decode_errors() as e:
        raise ImageError(f"{name}: not a readable image ({type(e).__name__}: {e})") from None
    return grey, alpha


def read_png(path: PathLike) -> np.ndarray:
    """Read a PNG (or any picture Pillow reads) -> uint8 (H, W) grey or (H, W, C) with C = 2
    (grey+alpha), 3 (RGB) or 4 (RGBA), as stored (palette pictures become RGB or RGBA)."""
    Image = _pillow()
    name = os.fspath(path)
    refuse_special(path, "an image file", ImageError)
    try:
        with Image.open(path) as im:
            if im.size[0] * im.size[1] > MAX_PIXELS:
                raise ImageError(f"{name}: the image is {im.size[0]}x{im.size[1]}; at most {MAX_PIXELS} pixels")
            if im.mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif im.mode not in ("L", "LA", "RGB", "RGBA"):
                im = im.convert("RGBA" if "A" in im.mode else "L")
            return np.asarray(im).copy()
    except ImageError:
        raise
    except _decode_errors() as e:
        raise ImageError(f"{name}: not a readable image ({type(e).__name__}: {e})") from None


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of ``image``: uint8 (H, W) grey, (H, W, 2) grey+alpha, (H, W, 3) RGB or
    (H, W, 4) RGBA; float arrays with values in [0, 1] are scaled to 0..255 first."""
    image = _to_uint8(np.asarray(image), "encode_png")
    if not (image.ndim == 2 or image.ndim == 3 and image.shape[2] in (2, 3, 4)) or 0 in image.shape:
        raise ValueError(f"encode_png: expected a non-empty (H, W) or (H, W, C) image with C in "
                         f"{{2, 3, 4}}, got shape {image.shape}")
    buf = io.BytesIO()
    _pillow().fromarray(np.ascontiguousarray(image)).save(buf, "PNG")  # L, LA, RGB or RGBA by the shape
    return buf.getvalue()


def write_png(path: PathLike, image: np.ndarray) -> None:
    """Write ``image`` (see ``encode_png`` for shapes and dtypes) to ``path`` as a PNG file,
    atomically (``files.atomic_file``)."""
    data = encode_png(image)
    with atomic_file(path, "wb", suffix=".png") as f:
        f.write(data)


def _to_uint8(image: np.ndarray, who: str) -> np.ndarray:
    """uint8 as is; other integers must lie in 0..255; floats must lie in [0, 1] (scaled by 255)."""
    if image.dtype == np.uint8:
        return image
    if image.dtype.kind in "iu":
        if image.size and (image.min() < 0 or image.max() > 255):
            raise ValueError(f"{who}: integer pixels must lie in 0..255, got {image.min()}..{image.max()}")
        return image.astype(np.uint8)
    if image.dtype.kind == "f":
        if image.size and not (np.isfinite(image).all() and image.min() >= 0.0 and image.max() <= 1.0):
            raise ValueError(f"{who}: float pixels must be finite and lie in [0, 1]")
        return np.rint(image * 255.0).astype(np.uint8)
    raise ValueError(f"{who}: expected a numeric image array, got dtype {image.dtype}")



# ------------------------------------------------------------------ PGM
def _pgm_tokens(data: bytes, count: int, name: str) -> Tuple[list, int]:
    """The first ``count`` whitespace-separated header tokens (skipping # comments) and the
    offset just past the single whitespace byte that ends the last one."""
    tokens, pos = [], 2
    while len(tokens) < count:
        while pos < len(data) and (data[pos:pos + 1].isspace() or data[pos:pos + 1] == b"#"):
            if data[pos:pos + 1] == b"#":
                end = data.find(b"\n", pos)
                pos = len(data) if end < 0 else end + 1
            else:
                pos += 1
        start = pos
        while pos < len(data) and not data[pos:pos + 1].isspace() and data[pos:pos + 1] != b"#":
            pos += 1
        if start == pos:
            raise ImageError(f"{name}: PGM header ends early; expected width, height and maxval")
        tokens.append(data[start:pos])
    return tokens, pos + 1


def decode_pgm(data: bytes, name: str = "<pgm>") -> np.ndarray:
    """Decode a PGM image (binary P5 or ASCII P2; maxval up to 65535) -> uint8 (H, W),
    scaled to 0..255 when maxval is not 255."""
    magic = data[:2]
    if magic not in (b"P5", b"P2") or (len(data) > 2 and not data[2:3].isspace()):
        raise ImageError(f"{name}: not a PGM file (expected the magic 'P5' or 'P2')")
    tokens, pos = _pgm_tokens(data, 3, name)
    try:
        width, height, maxval = (int(t) for t in tokens)
    except ValueError:
        raise ImageError(f"{name}: PGM header {b' '.join(tokens)!r} is not three integers "
                         "(width height maxval)") from None
    if width < 1 or height < 1 or width * height > MAX_PIXELS or not 1 <= maxval <= 65535:
        raise ImageError(f"{name}: PGM header says {width}x{height}, maxval {maxval}; expected a "
                         f"non-empty image of at most {MAX_PIXELS} pixels and maxval 1..65535")
    n = width * height
    if magic == b"P5":
        dtype = np.dtype(">u2") if maxval > 255 else np.dtype(np.uint8)
        body = data[pos:]
        if len(body) < n * dtype.itemsize:
            raise ImageError(f"{name}: PGM holds {len(body)} pixel bytes, a {width}x{height} image "
                             f"needs {n * dtype.itemsize} (file truncated?)")
        pixels = np.frombuffer(body, dtype=dtype, count=n).astype(np.int64)
    else:
        try:
            values = [int(t) for t in data[pos - 1:].split()]
        except ValueError:
            raise ImageError(f"{name}: P2 (ASCII) PGM has a pixel value that is not an integer") from None
        if len(values) != n:
            raise ImageError(f"{name}: P2 PGM holds {len(values)} pixel values, a {width}x{height} "
                             f"image needs {n}")
        bad = next((v for v in values if v < 0 or v > maxval), None)  # before int64 can overflow
        if bad is not None:
            why = "is negative" if bad < 0 else f"exceeds its maxval {maxval}"
            raise ImageError(f"{name}: PGM pixel value {bad} {why}")
        pixels = np.array(values, dtype=np.int64)
    if pixels.size and pixels.max() > maxval:
        raise ImageError(f"{name}: PGM pixel value {pixels.max()} exceeds its maxval {maxval}")
    if maxval != 255:
        pixels = (pixels * 255 + maxval // 2) // maxval
    return pixels.astype(np.uint8).reshape(height, width)


def read_pgm(path: PathLike) -> np.ndarray:
    """Read a PGM file (P5 or P2) -> uint8 (H, W)."""
    with open(path, "rb") as f:
        return decode_pgm(f.read(), os.fspath(path))


def write_pgm(path: PathLike, image: np.ndarray) -> None:
    """Write a greyscale image (uint8 (H, W), or floats in [0, 1]) as a binary P5 PGM."""
    image = _to_uint8(np.asarray(image), "write_pgm")
    if image.ndim != 2 or 0 in image.shape:
        raise ValueError(f"write_pgm: expected a non-empty greyscale (H, W) image, got shape {image.shape}")
    with open(path, "wb") as f:
        f.write(b"P5\n%d %d\n255\n" % (image.shape[1], image.shape[0]) + image.tobytes())


def _npy_digit(path: PathLike, name: str) -> np.ndarray:
    # Memory-mapped: the header's shape is checked against the file's size before anything is
    # read, so a header claiming 10**12 pixels allocates nothing. A garbled header can make
    # NumPy's parser raise SyntaxError or tokenize.TokenError instead of ValueError.
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, SyntaxError, tokenize.TokenError) as e:
        why = " ".join(str(e).split())  # NumPy quotes a garbled header whole: up to 64 kB
        raise ImageError(f"{name}: not a readable .npy array ({why[:200]}{'...' if len(why) > 200 else ''})") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
        raise ImageError(f"{name}: expected a numeric .npy array, got {getattr(arr, 'dtype', type(arr))}")
    if arr.shape not in (DIGIT_SHAPE, (784,)):
        raise ImageError(f"{name}: .npy array has shape {arr.shape}; expected (28, 28) or (784,)")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ImageError(f"{name}: float pixels must be finite; the array holds NaN or Inf")
        if arr.min() < 0.0 or arr.max() > 1.0:
            raise ImageError(f"{name}: float pixels must lie in [0, 1] (divide 0..255 values by 255 "
                             f"first); got {arr.min():g}..{arr.max():g}")
        return arr.astype(np.float32).reshape(DIGIT_SHAPE)
    if arr.min() < 0 or arr.max() > 255:
        raise ImageError(f"{name}: integer pixels must lie in 0..255, got {arr.min()}..{arr.max()}")
    return arr.astype(np.float32).reshape(DIGIT_SHAPE) / 255.0


# ------------------------------------------------------------------ any format -> a digit
def _read(path: PathLike) -> Tuple[np.ndarray, bool]:
    """(the picture as ``read_image`` gives it, whether it was a .npy network input)."""
    name = os.fspath(path)
    refuse_special(path, "an image file", ImageError)
    with open(path, "rb") as f:
        head = f.read(8)
        if head.startswith(NPY_MAGIC):
            return _npy_digit(path, name), True
        if head[:2] in (b"P5", b"P2"):
            return read_pgm(path).astype(np.float32) / 255.0, False
        f.seek(0)
        grey, alpha = _open_pixels(f, name)
    return composite(grey, alpha), False


def read_image(path: PathLike) -> np.ndarray:
    """Read a picture (told apart by content, not name) -> float32 (H, W) in [0, 1], as seen on
    screen: transparency flattened onto the background its ink needs (``prepare.composite``).

    Formats: whatever Pillow reads (PNG, JPEG, BMP, GIF, TIFF, WebP, ...), PGM (P2/P5), and
    ``.npy`` arrays of shape (28, 28) or (784,) with integers in 0..255 or floats in [0, 1].
    Raises ImageError for anything else, OSError if the file cannot be opened.
    """
    return _read(path)[0]


def load_digit(path: PathLike, invert: bool = False, background: str = "auto") -> np.ndarray:
    """One digit picture as the network's input: float32 (784,) in [0, 1], white on black.

    Any picture (see ``read_image``) is prepared the way MNIST was made (``prepare.prepare``):
    ``background`` "auto" tells a light background from a dark one by the picture's border,
    "light" means dark ink on light paper, "dark" light ink on a dark ground; ``invert=True``
    is "light" (the old switch). A ``.npy`` array is already a network input: it is used as it
    is (``invert`` and "light" give 1 - x). Raises ImageError naming the file, also when the
    picture shows no digit (blank or nearly so).
    """
    if background not in BACKGROUNDS:
        raise ValueError(f"load_digit: background must be one of {', '.join(BACKGROUNDS)}, got {background!r}")
    if invert:
        background = "light"
    image, is_input = _read(path)
    if is_input:
        x = image.reshape(784)
        return 1.0 - x if background == "light" else x
    try:
        return prepare(image, background).reshape(784)
    except BlankImage as e:
        raise ImageError(f"{os.fspath(path)}: {e}") from None
