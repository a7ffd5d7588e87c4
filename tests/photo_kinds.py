"""Drawings and photos of digits, made from real MNIST test digits, for testing ``predict`` on
the pictures learners bring (test_photos.py; benchmarks/photos_accuracy.py measures a larger
set). Each kind changes one thing about how the digit was put on paper and is saved in its own
file format, so the formats are covered too:

    thick         a marker: strokes about twice MNIST's, white on black  PNG, 8-bit grey
    thin          a 1- or 3-pixel pen on a 300x300 canvas, white on black  GIF (palette)
    off-centre    a small digit near a corner of a 240x160 canvas        BMP, RGB
    large         a digit somewhere on a 900x700 canvas                  PNG, 16-bit grey
    black-on-white  dark ink on white paper                              JPEG, grey
    transparent   black ink on a transparent background (RGB all 0)     PNG, RGBA
    photo         dark ink on grey paper, uneven light, noise, blur      JPEG, colour

A digit's shape is its 28x28 image cropped, enlarged and cut at half intensity: the same
strokes, drawn as a pen would. Randomness comes from one seed per digit and kind.
"""
from __future__ import annotations

import io
from typing import Callable, Dict, Tuple

import numpy as np
from PIL import Image, ImageFilter


def shape(digit: np.ndarray, scale: float) -> np.ndarray:
    """bool mask of the digit (28x28 floats in [0, 1]) cropped to its box and enlarged ``scale``x."""
    rows, cols = np.flatnonzero(digit.max(1) > 0.1), np.flatnonzero(digit.max(0) > 0.1)
    crop = digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.float32)
    h, w = crop.shape
    big = Image.fromarray(crop).resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                                  Image.Resampling.BICUBIC)
    return np.asarray(big) > 0.5


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning: the 1-pixel skeleton of a bool mask."""
    m = np.pad(mask, 1).astype(np.uint8)
    while True:
        changed = False
        for step in (0, 1):
            p = [np.roll(np.roll(m, -dy, 0), -dx, 1) for dy, dx in
                 ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))]  # P2..P9
            b = sum(p)
            a = sum(((p[i] == 0) & (p[(i + 1) % 8] == 1)).astype(np.uint8) for i in range(8))
            if step == 0:
                c = (p[0] * p[2] * p[4] == 0) & (p[2] * p[4] * p[6] == 0)
            else:
                c = (p[0] * p[2] * p[6] == 0) & (p[0] * p[4] * p[6] == 0)
            remove = (m == 1) & (b >= 2) & (b <= 6) & (a == 1) & c
            if remove.any():
                m[remove] = 0
                changed = True
        if not changed:
            return m[1:-1, 1:-1].astype(bool)


def grow(mask: np.ndarray, size: int) -> np.ndarray:
    """Strokes widened by ``size - 1`` pixels (a size x size maximum filter; size odd)."""
    im = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(size))
    return np.asarray(im) > 127


def soften(mask: np.ndarray, radius: float = 1.0) -> np.ndarray:
    """Anti-aliased ink in [0, 1] from a bool mask, as a drawing program paints it."""
    im = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(im, np.float32) / 255.0


def place(ink: np.ndarray, height: int, width: int, top: int, left: int) -> np.ndarray:
    canvas = np.zeros((height, width), np.float32)
    h, w = ink.shape
    canvas[top:top + h, left:left + w] = ink
    return canvas


def centred(ink: np.ndarray, height: int, width: int, rng: np.random.Generator, jitter: int = 0) -> np.ndarray:
    h, w = ink.shape
    top = (height - h) // 2 + int(rng.integers(-jitter, jitter + 1))
    left = (width - w) // 2 + int(rng.integers(-jitter, jitter + 1))
    return place(ink, height, width, max(0, min(top, height - h)), max(0, min(left, width - w)))


def save(im: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def grey8(x: np.ndarray) -> Image.Image:
    return Image.fromarray(np.rint(np.clip(x, 0, 1) * 255).astype(np.uint8))


# ------------------------------------------------------------------ the kinds: digit, rng -> file bytes
def thick(d, rng):
    ink = soften(grow(shape(d, 6), 13))
    return save(grey8(centred(ink, 180, 180, rng, jitter=8)), "PNG")


def thin_pen(d, rng):
    line = thin(shape(d, 9))
    ink = line if rng.random() < 0.5 else grow(line, 3)
    canvas = centred(ink.astype(np.float32), 300, 300, rng, jitter=20)
    return save(grey8(canvas).convert("P"), "GIF")


def off_centre(d, rng):
    ink = soften(shape(d, 3))
    h, w = ink.shape
    top, left = int(rng.integers(0, 12)), int(rng.integers(0, 12))
    if rng.random() < 0.5:  # the other corner
        top, left = 160 - h - top, 240 - w - left
    canvas = place(ink, 160, 240, top, left)
    return save(grey8(canvas).convert("RGB"), "BMP")


def large(d, rng):
    ink = soften(shape(d, 8), 1.5)
    h, w = ink.shape
    canvas = place(ink, 700, 900, int(rng.integers(0, 700 - h)), int(rng.integers(0, 900 - w)))
    return save(Image.fromarray(np.rint(canvas * 65535).astype(np.uint16)), "PNG")


def black_on_white(d, rng):
    ink = soften(shape(d, 5))
    paper, dark = 0.97, 0.08
    canvas = paper + (dark - paper) * centred(ink, 140, 140, rng, jitter=10)
    return save(grey8(canvas), "JPEG", quality=90)


def transparent(d, rng):
    ink = centred(soften(shape(d, 5)), 140, 140, rng, jitter=10)
    rgba = np.zeros((140, 140, 4), np.uint8)
    rgba[..., 3] = np.rint(ink * 255)  # black ink: colour 0, only alpha says where the ink is
    return save(Image.fromarray(rgba), "PNG")


def photo(d, rng):
    h, w = 240, 320
    ink = centred(soften(grow(shape(d, 6), 5), 1.5), h, w, rng, jitter=25)
    paper, dark = 0.82, 0.18
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    angle = rng.uniform(0, 2 * np.pi)
    light = 0.55 + 0.45 * np.clip(0.5 + (np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5)), 0, 1)
    light *= 1.0 - 0.35 * ((xx - 0.5) ** 2 + (yy - 0.4) ** 2)  # vignette
    grey = (paper + (dark - paper) * ink) * light
    grey = np.asarray(grey8(grey).filter(ImageFilter.GaussianBlur(1.0)), np.float32) / 255.0
    grey = grey + rng.normal(0.0, 0.04, grey.shape)
    tint = np.array([1.0, 0.95, 0.85])  # warm indoor light
    rgb = np.rint(np.clip(grey[..., None] * tint, 0, 1) * 255).astype(np.uint8)
    return save(Image.fromarray(rgb), "JPEG", quality=80)


KINDS: Dict[str, Tuple[Callable, str]] = {
    "thick": (thick, "png"), "thin": (thin_pen, "gif"), "off-centre": (off_centre, "bmp"),
    "large": (large, "png"), "black-on-white": (black_on_white, "jpg"), "transparent": (transparent, "png"),
    "photo": (photo, "jpg"),
}


def make(kind: str, digit: np.ndarray, seed: int) -> bytes:
    """The file bytes of ``digit`` (28x28 floats in [0, 1]) drawn as ``kind``."""
    fn, _ = KINDS[kind]
    return fn(digit, np.random.default_rng(seed))
