"""Convolutional layers on NCHW image batches (B, C, H, W): Conv2d (kernel (C_out, C_in, kH, kW)),
MaxPool2d, AvgPool2d, Flatten, Unflatten (rows of pixels to images) and Dropout, each a thin
layer over an op of ``ops/conv.py``. Leaves out: the maths (the ops), dense layers (``dense.py``).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import numpy as np

from .. import ops
from ..errors import ShapeError, fmt_shape
from ..tensor import DEFAULT_DTYPE, Tensor
from .dense import _init
from .module import Module, RngLike, _NoParameters, _positive_ints


# ------------------------------------------------------------------ convolutional layers
def _pair(value, what: str, layer: str, low: int = 1) -> Tuple[int, int]:
    """An int n -> (n, n); a pair of ints -> (a, b); anything else (or below ``low``) -> ValueError."""
    items = [value, value] if isinstance(value, (int, np.integer)) else value
    if (not isinstance(items, (list, tuple)) or len(items) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= low for v in items)):
        kind = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ValueError(f"{layer}: {what} must be {kind} or a pair of them, got {value!r}")
    return int(items[0]), int(items[1])


def _square_or_pair(pair: Tuple[int, int]):
    """(5, 5) -> 5, (3, 5) -> [3, 5]: how config() writes kernel, stride and padding."""
    return pair[0] if pair[0] == pair[1] else list(pair)


def _setting(pair: Tuple[int, int]):
    """(5, 5) -> 5, (3, 5) -> (3, 5): how a pair is passed to the ops."""
    return pair[0] if pair[0] == pair[1] else pair


def _pair_text(pair: Tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"({pair[0]},{pair[1]})"


def _image_hint(x: Tensor, channels: int) -> str:
    """What to add in front of a layer that needs images but got flat rows (B, n)."""
    if x.ndim == 2 and x.shape[1] % channels == 0:
        side = math.isqrt(x.shape[1] // channels)
        if side * side * channels == x.shape[1]:
            return (f"; flat rows of {x.shape[1]} = {channels}x{side}x{side} values need "
                    f"Unflatten(1, ({channels}, {side}, {side})) in front of it")
    return ""


def _check_images(layer: Module, x: Tensor, kernel: Tuple[int, int], padding: Tuple[int, int],
                  channels: Optional[int] = None) -> None:
    """Refuse anything but an NCHW batch the kernel fits in, naming the layer and the shapes."""
    c = "C" if channels is None else str(channels)
    if x.ndim != 4 or (channels is not None and x.shape[1] != channels):
        raise ShapeError(f"{layer!r} got input of shape {fmt_shape(x.shape)}; expected images (B,{c},H,W) "
                         f"(NCHW: batch, channels, height, width){_image_hint(x, channels or 1)}")
    H, W = x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1]
    if H < kernel[0] or W < kernel[1]:
        raise ShapeError(f"{layer!r} got input of shape {fmt_shape(x.shape)}: its {kernel[0]}x{kernel[1]} "
                         f"window does not fit in the {H}x{W} image (padding included)")


class Conv2d(Module):
    """A 2-D convolution (cross-correlation, as in PyTorch): x (B, c_in, H, W) -> y (B, c_out, H', W'),
    H' = (H + 2*padding - kH) // stride + 1 (W' likewise), y[n, o] = b[o] + sum_c W[o, c] (*) x[n, c].

    ``weight`` W has shape (c_out, c_in, kH, kW), ``bias`` b has (c_out,). ``kernel``,
    ``stride`` and ``padding`` are an int or an (height, width) pair. ``init`` is one of
    ``INITS`` applied to W as the (c_out, c_in*kH*kW) matrix it is in im2col form, so its fan-in
    is c_in*kH*kW; the default "he" (He et al. 2015: W ~ N(0, 2/fan_in), b = 0) suits ReLU
    networks. (PyTorch's own default is U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for W and b.)
    ``rng`` a numpy Generator or seed. Computed by ``ops.conv2d`` (im2col + one matmul).
    """

    def __init__(self, c_in: int, c_out: int, kernel, stride=1, padding=0, init: str = "he",
                 rng: RngLike = None, dtype=DEFAULT_DTYPE):
        if isinstance(c_in, bool) or isinstance(c_out, bool) or int(c_in) < 1 or int(c_out) < 1:
            raise ValueError(f"Conv2d: channel counts must be positive, got c_in={c_in}, c_out={c_out}")
        self.c_in, self.c_out, self.init = int(c_in), int(c_out), init
        self.kernel = _pair(kernel, "kernel", "Conv2d")
        self.stride = _pair(stride, "stride", "Conv2d")
        self.padding = _pair(padding, "padding", "Conv2d", low=0)
        kH, kW = self.kernel
        W, b = _init(init, self.c_in * kH * kW, self.c_out, np.random.default_rng(rng), dtype)
        self.weight = Tensor(W.reshape(self.c_out, self.c_in, kH, kW), requires_grad=True)
        self.bias = Tensor(b, requires_grad=True)

    def forward(self, x: Tensor) -> Tensor:
        _check_images(self, x, self.kernel, self.padding, self.c_in)
        return Tensor.apply(ops.conv2d, x, self.weight, self.bias, stride=_setting(self.stride),
                            padding=_setting(self.padding))

    def config(self) -> dict:
        return {"type": "Conv2d", "c_in": self.c_in, "c_out": self.c_out, "kernel": _square_or_pair(self.kernel),
                "stride": _square_or_pair(self.stride), "padding": _square_or_pair(self.padding)}

    @classmethod
    def from_config(cls, config: dict) -> "Conv2d":
        return cls(config["c_in"], config["c_out"], config["kernel"], stride=config.get("stride", 1),
                   padding=config.get("padding", 0), rng=0)

    @classmethod
    def count_parameters(cls, config: dict) -> int:
        c_in, c_out = _positive_ints(config.get("c_in"), config.get("c_out"))
        kH, kW = _pair(config.get("kernel"), "kernel", "Conv2d")
        return c_out * c_in * kH * kW + c_out

    def __repr__(self) -> str:
        extra = "".join(f", {name}={_pair_text(v)}" for name, v, default in
                        (("stride", self.stride, (1, 1)), ("padding", self.padding, (0, 0))) if v != default)
        return f"Conv2d({self.c_in}->{self.c_out}, {self.kernel[0]}x{self.kernel[1]}{extra})"


class _Pool2d(_NoParameters):
    """A pooling window slid over each channel of (B, C, H, W): ``kernel`` an int or (kH, kW),
    ``stride`` likewise (None: the kernel, so windows tile the image without overlap)."""

    def __init__(self, kernel, stride=None):
        name = type(self).__name__
        self.kernel = _pair(kernel, "kernel", name)
        self.stride = self.kernel if stride is None else _pair(stride, "stride", name)

    def _pool(self, op, x: Tensor) -> Tensor:
        _check_images(self, x, self.kernel, (0, 0))
        return Tensor.apply(op, x, kernel=_setting(self.kernel), stride=_setting(self.stride))

    def config(self) -> dict:
        return {"type": type(self).__name__, "kernel": _square_or_pair(self.kernel),
                "stride": _square_or_pair(self.stride)}

    def __repr__(self) -> str:
        stride = "" if self.stride == self.kernel else f", stride={_pair_text(self.stride)}"
        return f"{type(self).__name__}({_pair_text(self.kernel)}{stride})"


class MaxPool2d(_Pool2d):
    """The largest value of each window: (B, C, H, W) -> (B, C, H', W'), H' = (H - kH) // stride + 1.
    The gradient goes to one maximum of each window (ties: one of them, as in PyTorch)."""

    def forward(self, x: Tensor) -> Tensor:
        return self._pool(ops.max_pool2d, x)


class AvgPool2d(_Pool2d):
    """The mean of each window: (B, C, H, W) -> (B, C, H', W'), H' = (H - kH) // stride + 1."""

    def forward(self, x: Tensor) -> Tensor:
        return self._pool(ops.avg_pool2d, x)


class Flatten(_NoParameters):
    """Dimensions ``start_dim``..``end_dim`` merged into one (PyTorch's nn.Flatten): with the
    defaults, (B, C, H, W) -> (B, C*H*W), what a Linear layer after convolutions takes."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x: Tensor) -> Tensor:
        try:
            return x.flatten(self.start_dim, self.end_dim)
        except ShapeError as e:
            raise ShapeError(f"{self!r} got input of shape {fmt_shape(x.shape)}: {e}") from None

    def __repr__(self) -> str:
        return "Flatten()" if (self.start_dim, self.end_dim) == (1, -1) else \
            f"Flatten({self.start_dim}, {self.end_dim})"


class Unflatten(_NoParameters):
    """Dimension ``dim`` split into ``unflattened_size`` (PyTorch's nn.Unflatten):
    ``Unflatten(1, (1, 28, 28))`` turns MNIST rows (B, 784) into images (B, 1, 28, 28), which is
    how a convolutional network takes the same (B, 784) data as an MLP."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]):
        sizes = list(unflattened_size) if isinstance(unflattened_size, (list, tuple)) else [unflattened_size]
        if not sizes or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0
                                for n in sizes):
            raise ValueError(f"Unflatten: unflattened_size must be positive integers, got {unflattened_size!r}")
        self.dim, self.unflattened_size = int(dim), tuple(int(n) for n in sizes)

    def forward(self, x: Tensor) -> Tensor:
        n = int(np.prod(self.unflattened_size))
        if not -x.ndim <= self.dim < x.ndim or x.shape[self.dim] != n:
            raise ShapeError(f"{self!r} got input of shape {fmt_shape(x.shape)}; dimension {self.dim} must "
                             f"hold {n} = {'x'.join(map(str, self.unflattened_size))} values")
        d = self.dim % x.ndim
        return x.reshape(x.shape[:d] + self.unflattened_size + x.shape[d + 1:])

    def config(self) -> dict:
        return {"type": "Unflatten", "dim": self.dim, "unflattened_size": list(self.unflattened_size)}

    def __repr__(self) -> str:
        return f"Unflatten({self.dim}, {self.unflattened_size})"


class Dropout(_NoParameters):
    """Inverted dropout (PyTorch's nn.Dropout): in train mode each entry is zeroed with
    probability ``p`` and the survivors are scaled by 1/(1-p), so the expected output equals
    the input; in eval mode (``model.eval()``, and always inside ``evaluate``/``predict``) it
    is the identity. Any shape. The masks come from ``rng`` (a numpy Generator or seed), so
    seeded runs repeat exactly; a loaded model draws from a fresh unseeded generator.
    """

    def __init__(self, p: float = 0.5, rng: RngLike = None):
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"Dropout: p is the probability of zeroing an entry, in [0, 1]; got {p!r}")
        self.p = float(p)
        self.rng = np.random.default_rng(rng)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = self.rng.random(x.shape) >= self.p
        scale = 0.0 if self.p == 1.0 else 1.0 / (1.0 - self.p)
        mask = np.where(keep, scale, 0.0).astype(x.dtype if x.dtype.kind == "f" else DEFAULT_DTYPE)
        return x * mask

    def config(self) -> dict:
        return {"type": "Dropout", "p": self.p}

    @classmethod
    def from_config(cls, config: dict) -> "Dropout":
        return cls(config["p"])

    def __repr__(self) -> str:
        return f"Dropout(p={self.p:g})"
