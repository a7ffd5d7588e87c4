"""Single digit images for ``predict``: a small PNG reader and writer (stdlib zlib, no Pillow),
PGM (P2/P5) read and write, ``.npy`` arrays, and ``load_digit`` that turns any of them into the
784 floats in [0, 1] a network takes. MNIST digits are WHITE strokes on a BLACK background
(0 = black); a dark-on-light scan must be inverted (``invert=True``). Leaves out: resizing,
centring and deskewing a photo (the image must already be 28x28), palette and interlaced PNGs.
"""
from __future__ import annotations

import os
import struct
import tokenize
import zlib
from typing import Optional, Tuple, Union

import numpy as np

from .files import refuse_special
from .limits import MAX_IMAGE_PIXELS

PathLike = Union[str, "os.PathLike[str]"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NPY_MAGIC = b"\x93NUMPY"
DIGIT_SHAPE = (28, 28)
MAX_PIXELS = MAX_IMAGE_PIXELS  # refuse larger images before inflating them (decompression bombs)
_HEAD = 4096  # bytes read to find an image's size: PNG's IHDR is in the first 33, a PGM header is short

# PNG colour type -> (name, channels); 3 (palette) is not supported.
_COLOUR_TYPES = {0: ("greyscale", 1), 2: ("RGB", 3), 4: ("greyscale+alpha", 2), 6: ("RGBA", 4)}
_CHANNELS_TO_COLOUR = {channels: ct for ct, (_, channels) in _COLOUR_TYPES.items()}


class ImageError(ValueError):
    """An image file is unreadable, in an unsupported variant, or not a 28x28 digit.

    The message names the file and what is wrong, e.g.
    ``digit.png: PNG colour type 3 (palette) is not supported; save it as greyscale or RGB``.
    """


# ------------------------------------------------------------------ PNG
def _paeth(a: int, b: int, c: int) -> int:
    """The PNG spec's Paeth predictor: whichever of left, up, upper-left is closest to a + b - c."""
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(raw: bytes, height: int, stride: int, bpp: int, name: str) -> np.ndarray:
    """Undo the per-row filters (None, Sub, Up, Average, Paeth) -> uint8 (height, stride).

    None/Sub/Up are vectorised; Average and Paeth depend on the byte just reconstructed to
    their left, so they run byte by byte (fine for digit-sized images).
    """
    out = np.zeros((height, stride), dtype=np.uint8)
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, stride + 1)
    prev = np.zeros(stride, dtype=np.uint8)
    for r in range(height):
        ftype, line = int(rows[r, 0]), rows[r, 1:]
        if ftype == 0:
            cur = line.copy()
        elif ftype == 1:    # Sub: each byte adds the byte bpp to its left (a running sum per channel)
            cur = np.empty(stride, dtype=np.uint8)
            for k in range(bpp):
                cur[k::bpp] = np.cumsum(line[k::bpp], dtype=np.uint64) % 256
        elif ftype == 2:    # Up: adds the byte above (uint8 arithmetic wraps mod 256, as PNG wants)
            cur = line + prev
        elif ftype in (3, 4):
            cur = bytearray(stride)
            up = prev.tolist()
            for i, x in enumerate(line.tolist()):
                left = cur[i - bpp] if i >= bpp else 0
                if ftype == 3:
                    cur[i] = (x + ((left + up[i]) >> 1)) & 0xFF
                else:
                    upleft = up[i - bpp] if i >= bpp else 0
                    cur[i] = (x + _paeth(left, up[i], upleft)) & 0xFF
            cur = np.frombuffer(bytes(cur), dtype=np.uint8)
        else:
            raise ImageError(f"{name}: PNG row {r} has filter type {ftype}; valid types are 0-4 "
                             "(the file is corrupt)")
        out[r] = cur
        prev = out[r]
    return out


def _chunks(data: bytes, name: str):
    """Yield (type, body) for each chunk after the signature, checking lengths and CRCs."""
    pos = len(PNG_SIGNATURE)
    while pos < len(data):
        if pos + 8 > len(data):
            raise ImageError(f"{name}: PNG ends inside a chunk header (file truncated?)")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 8 + length
        if end + 4 > len(data):
            raise ImageError(f"{name}: PNG chunk {kind!r} claims {length} bytes but the file ends "
                             "first (file truncated?)")
        body = data[pos + 8:end]
        (crc,) = struct.unpack(">I", data[end:end + 4])
        if zlib.crc32(kind + body) != crc:
            raise ImageError(f"{name}: PNG chunk {kind.decode('latin1')!r} fails its CRC check "
                             "(the file is corrupt)")
        yield kind, body
        pos = end + 4


def decode_png(data: bytes, name: str = "<png>") -> np.ndarray:
    """Decode PNG bytes -> uint8 (H, W) for greyscale, else (H, W, C): C = 2 (grey+alpha),
    3 (RGB) or 4 (RGBA).

    Supported: bit depth 8, colour types 0/2/4/6, no interlacing, all five filter types.
    Anything else (palette, 1/2/4/16-bit, Adam7) raises ImageError saying what to convert to.
    """
    if not data.startswith(PNG_SIGNATURE):
        raise ImageError(f"{name}: not a PNG file (no PNG signature)")
    header, idat, ended = None, [], False
    for kind, body in _chunks(data, name):
        if header is None and kind != b"IHDR":
            raise ImageError(f"{name}: PNG must start with an IHDR chunk, found {kind!r}")
        if kind == b"IHDR":
            if len(body) != 13:
                raise ImageError(f"{name}: PNG IHDR chunk has {len(body)} bytes, expected 13")
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            ended = True
            break
        elif kind == b"PLTE":
            pass  # allowed (a suggested palette) for colour types 2 and 6; type 3 is refused below
        elif kind[0] & 0x20 == 0:  # a lowercase first letter marks a chunk as safe to skip
            raise ImageError(f"{name}: PNG has an unknown critical chunk {kind!r}")
    if header is None:
        raise ImageError(f"{name}: PNG has no IHDR chunk")
    width, height, depth, colour, compression, filtering, interlace = header
    if colour not in _COLOUR_TYPES:
        what = "palette" if colour == 3 else "invalid"
        raise ImageError(f"{name}: PNG colour type {colour} ({what}) is not supported; save it as "
                         "8-bit greyscale, grey+alpha, RGB or RGBA")
    if depth != 8:
        raise ImageError(f"{name}: PNG bit depth {depth} is not supported; save it with 8 bits "
                         "per channel")
    if interlace != 0:
        raise ImageError(f"{name}: interlaced (Adam7) PNG is not supported; save it without "
                         "interlacing")
    if compression != 0 or filtering != 0:
        raise ImageError(f"{name}: PNG compression method {compression} / filter method "
                         f"{filtering} is not part of the PNG standard (both must be 0)")
    if width == 0 or height == 0 or width * height > MAX_PIXELS:
        raise ImageError(f"{name}: PNG is {width}x{height}; expected a non-empty image of at "
                         f"most {MAX_PIXELS} pixels")
    if not ended:
        raise ImageError(f"{name}: PNG has no IEND chunk (file truncated?)")
    if not idat:
        raise ImageError(f"{name}: PNG has no image data (IDAT chunk)")
    channels = _COLOUR_TYPES[colour][1]
    stride = width * channels
    expected = height * (stride + 1)
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(b"".join(idat), expected + 1)
    except zlib.error as e:
        raise ImageError(f"{name}: PNG image data does not decompress ({e})") from None
    if len(raw) != expected:
        raise ImageError(f"{name}: PNG image data holds {len(raw)}{'+' if len(raw) > expected else ''} "
                         f"bytes, a {width}x{height} {_COLOUR_TYPES[colour][0]} image needs {expected}")
    pixels = _unfilter(raw, height, stride, channels, name)
    return pixels.reshape(height, width) if channels == 1 else pixels.reshape(height, width, channels)


def _filter_row(ftype: int, line: np.ndarray, prev: np.ndarray, bpp: int) -> bytes:
    """Apply one PNG filter to a row (the inverse of ``_unfilter``), returning type byte + row."""
    x = line.astype(np.int64)
    up = prev.astype(np.int64)
    left = np.concatenate([np.zeros(bpp, np.int64), x[:-bpp]])
    upleft = np.concatenate([np.zeros(bpp, np.int64), up[:-bpp]])
    if ftype == 0:
        pred = np.zeros_like(x)
    elif ftype == 1:
        pred = left
    elif ftype == 2:
        pred = up
    elif ftype == 3:
        pred = (left + up) >> 1
    else:
        p = left + up - upleft
        pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - upleft)
        pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
    return bytes([ftype]) + ((x - pred) % 256).astype(np.uint8).tobytes()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def encode_png(image: np.ndarray, filter_type: int = 0) -> bytes:
    """Encode an image as PNG bytes: uint8 (H, W) greyscale, (H, W, 2) grey+alpha, (H, W, 3) RGB
    or (H, W, 4) RGBA; float arrays with values in [0, 1] are scaled to 0..255 first.

    ``filter_type`` (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth) is used for every row; the
    output is always a valid PNG, the choice only changes its size.
    """
    image = _to_uint8(np.asarray(image), "encode_png")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in _CHANNELS_TO_COLOUR or 0 in image.shape:
        raise ValueError(f"encode_png: expected a non-empty (H, W) or (H, W, C) image with C in "
                         f"{{1, 2, 3, 4}}, got shape {image.shape}")
    if filter_type not in range(5):
        raise ValueError(f"encode_png: filter_type must be 0-4, got {filter_type!r}")
    height, width, channels = image.shape
    rows = image.reshape(height, width * channels)
    prev = np.zeros(width * channels, dtype=np.uint8)
    raw = []
    for line in rows:
        raw.append(_filter_row(filter_type, line, prev, channels))
        prev = line
    ihdr = struct.pack(">IIBBBBB", width, height, 8, _CHANNELS_TO_COLOUR[channels], 0, 0, 0)
    return (PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"".join(raw), 9))
            + _chunk(b"IEND", b""))


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


def write_png(path: PathLike, image: np.ndarray, filter_type: int = 0) -> None:
    """Write ``image`` (see ``encode_png`` for shapes and dtypes) to ``path`` as a PNG file."""
    data = encode_png(image, filter_type)
    with open(path, "wb") as f:
        f.write(data)


def read_png(path: PathLike) -> np.ndarray:
    """Read a PNG file -> uint8 (H, W) or (H, W, C); see ``decode_png`` for what is supported."""
    with open(path, "rb") as f:
        return decode_png(f.read(), os.fspath(path))


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


# ------------------------------------------------------------------ any format -> a digit
def to_grey(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W[, C]) -> float32 (H, W) in [0, 1].

    RGB uses the ITU-R BT.601 luma weights (0.299, 0.587, 0.114); an alpha channel is
    composited onto BLACK, so a transparent background reads as MNIST's background.
    """
    x = image.astype(np.float32) / 255.0
    if x.ndim == 2:
        return x
    colour, alpha = (x[..., :-1], x[..., -1]) if x.shape[2] in (2, 4) else (x, None)
    grey = colour[..., 0] if colour.shape[2] == 1 else colour @ np.array([0.299, 0.587, 0.114], np.float32)
    return grey if alpha is None else grey * alpha


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


def _declared_size(head: bytes, name: str) -> Optional[Tuple[int, int]]:
    """(width, height) as a PNG's IHDR or a PGM's header states it, from the file's first
    bytes, before anything is decoded; None if the header is not (all) there."""
    if head.startswith(PNG_SIGNATURE) and head[12:16] == b"IHDR" and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return width, height
    if head[:2] in (b"P5", b"P2"):
        try:
            tokens, end = _pgm_tokens(head, 2, name)
            # a token that runs to the end of ``head`` may go on in the file: not known yet
            return (int(tokens[0]), int(tokens[1])) if end <= len(head) else None
        except (ImageError, ValueError):
            return None
    return None


def read_image(path: PathLike, size: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Read a PNG, PGM or .npy file (told apart by content, not name) -> float32 (H, W) in [0, 1].

    PNG and PGM pixels 0..255 map to [0, 1] (colour becomes grey, see ``to_grey``). A ``.npy``
    array must have shape (28, 28) or (784,) with integers in 0..255 or floats in [0, 1].
    ``size`` (width, height): refuse a PNG or PGM whose header states another size, before
    decoding anything. Raises ImageError for anything else, OSError if the file cannot be opened.
    """
    name = os.fspath(path)
    refuse_special(path, "an image file", ImageError)
    with open(path, "rb") as f:
        head = f.read(_HEAD)
    declared = _declared_size(head, name)
    if size is not None and declared is not None and declared != tuple(size):
        raise ImageError(f"{name}: image is {declared[0]}x{declared[1]}; expected {size[0]}x{size[1]} "
                         "like MNIST (resize and centre the digit first)")
    if head.startswith(NPY_MAGIC):
        return _npy_digit(path, name)
    if head.startswith(PNG_SIGNATURE):
        return to_grey(read_png(path))
    if head[:2] in (b"P5", b"P2"):
        return read_pgm(path).astype(np.float32) / 255.0
    raise ImageError(f"{name}: not a PNG, PGM (P2/P5) or .npy file (starts with {head[:8]!r})")


def load_digit(path: PathLike, invert: bool = False) -> np.ndarray:
    """One digit image as the network's input: float32 (784,) in [0, 1], white on black.

    ``path``: a 28x28 PNG or PGM, or a .npy of shape (28, 28) or (784,) (see ``read_image``).
    ``invert=True`` maps x -> 1 - x, for dark digits on a light background.
    """
    image = read_image(path, size=(DIGIT_SHAPE[1], DIGIT_SHAPE[0]))
    if image.shape != DIGIT_SHAPE:
        raise ImageError(f"{os.fspath(path)}: image is {image.shape[1]}x{image.shape[0]}; expected "
                         "28x28 like MNIST (resize and centre the digit first)")
    x = image.reshape(784)
    return 1.0 - x if invert else x
