"""A picture of one digit made into what an MNIST network expects, the way MNIST itself was made:
ink found against a light or dark background and made white on black, uneven light and noise
taken out, the digit cropped to its bounding box, scaled to fit 20x20 keeping its aspect
ratio, and centred in 28x28 by its centre of mass. NumPy and Pillow (resizing) only.
Leaves out: reading files (``digits.py``), deskewing, pictures of several digits.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

__all__ = ["prepare", "ink", "composite", "BlankImage", "BACKGROUNDS"]

BACKGROUNDS = ("auto", "dark", "light")
WORK_SIDE = 640           # larger pictures are area-averaged down to this long side first
SAMPLE = 1 << 16          # statistics (levels, noise) are taken over at most this many pixels
BOX = 20                  # MNIST: the digit fits a 20x20 box ...
SIDE = 28                 # ... centred by its centre of mass in 28x28
CENTRE = (14.0, 14.0)     # where MNIST's centres of mass lie (row, column): 13.99, 14.01 on average
                          # over its 10,000 test digits
MID = 80                  # strokes are measured and evened out with the digit scaled to fit 80x80 ...
STROKE = 7.4              # ... where MNIST's strokes are 7.4 px wide (``_stroke_width``, median over
                          # its first 2,000 test digits; 10% are under 5.5, 10% over 10.3)
MIN_CONTRAST = 0.1        # ink must stand this far (on a 0..1 scale) above the background
MIN_INK = 10              # pixels of clear ink, at least, for a digit
INK_SHARE = 0.1           # marks weaker than this share of the ink's core are background (a shadow)
GAP = 0.01                # marks this share of the picture's long side apart are separate ...
PART = 0.05               # ... and left out of the digit's box when they hold less than this share
                          # of the ink (specks of noise)


class BlankImage(ValueError):
    """No digit found: the picture is blank, or its marks are too faint or too few."""


def composite(grey: np.ndarray, alpha: Optional[np.ndarray]) -> np.ndarray:
    """Flatten a transparent picture onto the background its ink needs (what a viewer shows).

    ``grey`` and ``alpha`` are float (H, W) in [0, 1]. Where a picture has transparent pixels
    the opaque ones are the ink; the colour under the transparent ones is arbitrary (often
    black, even for black ink), so the background is made the opposite of the ink: white for
    dark ink, black for light ink.
    """
    if alpha is None or alpha.min() >= 0.999:
        return grey
    opaque = grey[alpha > 0.5]
    background = 1.0 if opaque.size == 0 or np.median(opaque) < 0.5 else 0.0
    return (alpha * grey + (1.0 - alpha) * background).astype(np.float32)


def _resize(x: np.ndarray, width: int, height: int) -> np.ndarray:
    """float32 (H, W) -> (height, width): area averaging to shrink, bilinear to enlarge."""
    from PIL import Image
    shrink = width <= x.shape[1] and height <= x.shape[0]
    method = Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR
    return np.array(Image.fromarray(np.ascontiguousarray(x, np.float32)).resize((width, height), method))


def _sample(x: np.ndarray) -> np.ndarray:
    """At most SAMPLE of ``x``'s values, evenly strided: enough for a percentile, and fast."""
    flat = x.ravel()
    return flat[::-(-flat.size // SAMPLE)]


def _light_background(x: np.ndarray) -> bool:
    """True when the picture's border (where a digit seldom is) is nearer its lightest value than
    its darkest; scale-free, so a dim photo of white paper still counts as light, and the ink
    may be a tiny share of the pixels (a fine pen on a large canvas)."""
    level = float(np.median(np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])))
    return level - float(x.min()) > float(x.max()) - level


def _background(x: np.ndarray) -> np.ndarray:
    """The background under the ink (after inversion: the dark level), estimated on a 4x4 grid
    of blocks as the 10th percentile of each, cleaned of blocks that ink fills by a 3x3 median
    over the grid, and spread back smoothly: takes out uneven light of any smooth shape."""
    h, w = x.shape
    b = max(8, -(-max(h, w) // 4))
    gh, gw = -(-h // b), -(-w // b)
    padded = np.pad(x, ((0, gh * b - h), (0, gw * b - w)), mode="edge")
    blocks = padded.reshape(gh, b, gw, b).transpose(0, 2, 1, 3).reshape(gh, gw, b * b)
    grid = np.percentile(blocks[..., ::-(-b * b // 4096)], 10, axis=2).astype(np.float32)
    if min(gh, gw) >= 3:
        grid = _median3(grid)
    return _resize(grid, w, h) if grid.size > 1 else np.full_like(x, grid.item())


# Devillard's median-of-9 network ("Fast median search", 1998): 19 compare-and-swaps leave the
# median in slot 4; on whole shifted images at once it is several times faster than np.median
_MEDIAN9 = ((1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8), (0, 3), (5, 8), (4, 7),
            (3, 6), (1, 4), (2, 5), (4, 7), (4, 2), (6, 4), (4, 2))


def _median3(x: np.ndarray) -> np.ndarray:
    """3x3 median filter (edges repeated): removes isolated noisy pixels, keeps strokes."""
    h, w = x.shape
    p = np.pad(x, 1, mode="edge")
    v = [p[i:i + h, j:j + w] for i in range(3) for j in range(3)]
    for a, b in _MEDIAN9:
        v[a], v[b] = np.minimum(v[a], v[b]), np.maximum(v[a], v[b])
    return v[4]


def _noise(r: np.ndarray) -> float:
    """The background's noise (a robust standard deviation) from the pixels below its level 0,
    where no ink is."""
    r = _sample(r)
    below = r[r <= 0]
    return float(1.4826 * np.median(-below)) if below.size else 0.0


def _stroke_width(x: np.ndarray) -> float:
    """Mean stroke width of a picture's ink: 2 * area / perimeter of the pixels above 0.5 (a
    stroke of length L and width w has area L w and perimeter about 2 L)."""
    b = np.pad(x > 0.5, 1)  # a crop's ink touches its edges: count those sides too
    perimeter = np.count_nonzero(b[1:] != b[:-1]) + np.count_nonzero(b[:, 1:] != b[:, :-1])
    return 2.0 * np.count_nonzero(b) / max(perimeter, 1)


def _even_strokes(x: np.ndarray) -> np.ndarray:
    """A marker's fat strokes thinned and a fine pen's thin ones thickened toward MNIST's width;
    strokes within MNIST's own range are left alone. Each step takes the maximum (to thicken)
    or minimum (to thin) over a 3x3 square and a 3-pixel cross in turn, which changes a stroke's
    width by 2 in every direction alike (an octagon, nearly a round pen tip)."""
    width = _stroke_width(x)
    if STROKE / 1.6 <= width <= STROKE * 1.6 or width == 0:
        return x
    pick = np.max if width < STROKE else np.min
    h, w = x.shape
    for step in range(int(round(abs(STROKE - width) / 2))):
        p = np.pad(x, 1, mode="edge")
        near = [p[1:h + 1, 1:w + 1], p[:h, 1:w + 1], p[2:, 1:w + 1], p[1:h + 1, :w], p[1:h + 1, 2:]]
        if step % 2 == 0:
            near += [p[:h, :w], p[:h, 2:], p[2:, :w], p[2:, 2:]]
        x = pick(np.stack(near), axis=0)
    return x


def _span(mass: np.ndarray, gap: int) -> Tuple[int, int]:
    """[first, last] index of a profile's ink without specks: its non-empty entries split into
    runs where more than ``gap`` empty entries lie between, and the runs holding at least
    PART of the mass kept (a digit's detached stroke does, a speck of noise does not)."""
    filled = np.flatnonzero(mass > 0)
    runs = np.split(filled, np.flatnonzero(np.diff(filled) > gap + 1) + 1)
    total = mass.sum()
    kept = [run for run in runs if mass[run].sum() >= PART * total]
    return int(kept[0][0]), int(kept[-1][-1])


def ink(image: np.ndarray, background: str = "auto") -> np.ndarray:
    """Where the ink is: float32 in [0, 1] (1 = the ink's core), the picture's size (or
    WORK_SIDE on its long side). ``prepare``'s first half; see there. Raises BlankImage."""
    if background not in BACKGROUNDS:
        raise ValueError(f"prepare: background must be one of {', '.join(BACKGROUNDS)}, got {background!r}")
    x = np.asarray(image, dtype=np.float32)
    if x.ndim != 2 or min(x.shape) < 1:
        raise ValueError(f"prepare: expected a grey (H, W) image, got shape {x.shape}")
    if max(x.shape) > WORK_SIDE:
        scale = WORK_SIDE / max(x.shape)
        x = _resize(x, max(1, round(x.shape[1] * scale)), max(1, round(x.shape[0] * scale)))
    light = _light_background(x) if background == "auto" else background == "light"
    if light:
        x = 1.0 - x
    r = x - _background(x)
    r -= np.median(_sample(r))  # the background at 0 (ink covers less than half of a picture)
    noise = _noise(r)
    if noise > 0.02:  # visible noise (a photo): a 3x3 median takes out the specks, keeps strokes
        r = _median3(r)
        r -= np.median(_sample(r))
        noise = _noise(r)
    floor = max(4 * noise, 0.03)
    sample = _sample(r)
    candidates = sample[sample > floor]
    peak = float(np.percentile(candidates, 95)) if candidates.size else 0.0
    if peak < max(MIN_CONTRAST, 6 * noise) or np.count_nonzero(r > (floor + peak) / 2) < MIN_INK:
        raise BlankImage(f"no digit found: the image is blank or nearly so (the strongest marks stand "
                         f"{max(peak, 0.0):.2f} above the background on a 0..1 scale; a digit needs "
                         f"{max(MIN_CONTRAST, 6 * noise):.2f} and at least {MIN_INK} clear pixels)")
    threshold = max(3 * noise, INK_SHARE * peak)
    return np.clip((r - threshold) / (peak - threshold), 0.0, 1.0)


def prepare(image: np.ndarray, background: str = "auto") -> np.ndarray:
    """One digit picture -> float32 (28, 28) in [0, 1], white strokes on black, as in MNIST.

    ``image``: float (H, W) grey levels in [0, 1] of any size (transparency already flattened,
    see ``composite``). ``background``: "auto" (light or dark, told from the border), "light"
    (dark ink on light paper) or "dark" (light ink on a dark ground, as MNIST).
    Steps (``ink``): invert if the background is light; subtract a smooth background (uneven
    light); measure the noise and, when it is high, median-filter; keep what stands out above
    the noise, scaled so that the ink's core is 1. Then: crop to the ink's bounding box; bring
    strokes far thinner or fatter than MNIST's toward its width; scale the digit to fit 20x20
    keeping the aspect ratio; centre its centre of mass in 28x28.
    Raises BlankImage when no digit stands out.
    """
    marks = ink(image, background)
    clear = marks > 0.5  # the box is the clear ink's: faint fringes and shadows do not stretch it
    gap = max(3, int(GAP * max(marks.shape)))
    top, bottom = _span(clear.sum(axis=1), gap)
    left, right = _span(clear[top:bottom + 1].sum(axis=0), gap)
    crop = marks[top:bottom + 1, left:right + 1]
    h, w = crop.shape
    scale = MID / max(h, w)
    mid = np.clip(_resize(crop, max(1, round(w * scale)), max(1, round(h * scale))), 0.0, None)
    # a fine pen's lines come out faint once a large crop is shrunk: the ink's core back to 1
    mid = _even_strokes(np.clip(mid / np.percentile(mid[mid > 0.05 * mid.max()], 90), 0.0, 1.0))
    h, w = mid.shape
    digit = np.clip(_resize(mid, max(1, round(w * BOX / MID)), max(1, round(h * BOX / MID))), 0.0, None)
    if digit.max() <= 0:  # cannot happen for ink that passed the checks above; kept as a guard
        raise BlankImage("no digit found: nothing is left of the marks once they are scaled to 20x20")
    digit /= digit.max()
    rows, cols = np.indices(digit.shape)
    mass = digit.sum()
    cy, cx = (rows * digit).sum() / mass, (cols * digit).sum() / mass
    dh, dw = digit.shape
    oy = int(np.clip(round(CENTRE[0] - cy), 0, SIDE - dh))
    ox = int(np.clip(round(CENTRE[1] - cx), 0, SIDE - dw))
    out = np.zeros((SIDE, SIDE), np.float32)
    out[oy:oy + dh, ox:ox + dw] = digit
    return out
