"""Convolution and pooling primitives on NCHW batches: conv2d, max_pool2d, avg_pool2d.

conv2d's forward is im2col (a strided window view copied to columns) and one matmul; every
backward is a loop over the kH*kW kernel offsets, each adding one strided slice (col2im), never a
loop over the batch or the output pixels. Leaves out: flatten (``Tensor.flatten``, a reshape),
layers (``nn.py``) and the textbook loops these are checked against (``manual.py``).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import ShapeError, fmt_shape as _fmt


# ---------------------------------------------------------------- settings and shapes
def _pair(value, what: str, op: str, least: int) -> tuple:
    """An int or an (h, w) pair of ints >= ``least`` -> (h, w); else a TypeError/ValueError naming ``op``."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else value
    if (not isinstance(pair, (tuple, list)) or len(pair) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair)):
        raise TypeError(f"{op}: {what} must be an int or an (h, w) pair of ints, got {value!r}")
    if min(pair) < least:
        raise ValueError(f"{op}: {what} must be >= {least}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _out_size(op: str, x_shape: tuple, kernel: tuple, stride: tuple, padding: tuple = (0, 0)) -> tuple:
    """(H_out, W_out) = ((H + 2 p - k) // s + 1, ...) for an NCHW ``x_shape``; a ShapeError naming
    the op and the shapes when the kernel does not fit in the (padded) input."""
    H, W = x_shape[2] + 2 * padding[0], x_shape[3] + 2 * padding[1]
    if kernel[0] > H or kernel[1] > W:
        where = "padded input" if any(padding) else "input"
        pad = f", padding {padding}" if any(padding) else ""
        raise ShapeError(f"{op}: kernel {kernel[0]}x{kernel[1]} is larger than the {where} {H}x{W} "
                         f"(x {_fmt(x_shape)}{pad}); use a smaller kernel, more padding or a larger input")
    return (H - kernel[0]) // stride[0] + 1, (W - kernel[1]) // stride[1] + 1


def _offset(i: int, j: int, out_hw: tuple, stride: tuple) -> tuple:
    """The slice of an (N, C, H, W) array that kernel offset (i, j) meets, one entry per output
    pixel: rows i, i + s_h, ..., i + s_h (H_out - 1); columns likewise."""
    return (slice(i, i + stride[0] * (out_hw[0] - 1) + 1, stride[0]),
            slice(j, j + stride[1] * (out_hw[1] - 1) + 1, stride[1]))


def _check_nchw(op: str, x) -> None:
    if x.ndim != 4:
        extra = "; a batch of flat images (B,H*W) needs a reshape to (B,1,H,W) first" if x.ndim == 2 else ""
        raise ShapeError(f"{op}: x {_fmt(x.shape)} must be a 4-D NCHW batch (B,C,H,W){extra}")


def _batch_last(a, padding: tuple = (0, 0)):
    """(B, C, H, W) -> a new (C, H + 2 p_h, W + 2 p_w, B) array, zero-padded. The backward passes
    work in this layout: a kernel offset's slice then moves runs of W_out * B numbers instead of
    W_out, which made conv2d's col2im 1.5 ms instead of 2.0 ms at LeNet's second conv (batch 128)."""
    B, C, H, W = a.shape
    ph, pw = padding
    if not (ph or pw):
        return np.ascontiguousarray(a.transpose(1, 2, 3, 0))
    out = np.zeros((C, H + 2 * ph, W + 2 * pw, B), dtype=a.dtype)
    out[:, ph:ph + H, pw:pw + W] = a.transpose(1, 2, 3, 0)
    return out


# ---------------------------------------------------------------- conv2d
def conv2d(x, W, b=None, stride=1, padding=0):
    """y = the 2-D cross-correlation of x with the filters W, plus b (PyTorch's conv2d).

    x (B, C_in, H, W_in), W (C_out, C_in, kH, kW), b (C_out,) or None -> y (B, C_out, H_out, W_out)
    with H_out = (H + 2 p_h - kH) // s_h + 1 (W_out likewise); ``stride`` and ``padding`` are ints
    or (h, w) pairs, padding adds zeros. y[n, o, h, w] = b[o] + sum_{c,i,j} W[o, c, i, j] *
    x_pad[n, c, h s_h + i, w s_w + j].

    Forward: im2col copies every window into cols (B, C_in kH kW, H_out W_out), then one matmul
    W (C_out, C_in kH kW) @ cols. Backward, per kernel offset (i, j), with x_ij the strided slice
    of x_pad that offset meets (B, C_in, H_out, W_out):
    dL/dW[:, :, i, j] = g . x_ij summed over batch and pixels (a correlation of x with g);
    dL/dx_ij += W[:, :, i, j].T @ g (col2im: the full convolution of g with the flipped kernel);
    dL/db = g summed over axes (0, 2, 3). The VJPs keep x and W (both alive in the graph anyway),
    not the im2col buffer, which is 25x the size of x for a 5x5 kernel on one channel.
    """
    stride = _pair(stride, "stride", "conv2d", 1)
    padding = _pair(padding, "padding", "conv2d", 0)
    _check_nchw("conv2d", x)
    if W.ndim != 4 or 0 in W.shape[2:]:
        raise ShapeError(f"conv2d: W {_fmt(W.shape)} must be 4-D (C_out,C_in,kH,kW) with kH, kW >= 1")
    if x.shape[1] != W.shape[1]:
        raise ShapeError(f"conv2d: x {_fmt(x.shape)} has {x.shape[1]} channels, W {_fmt(W.shape)} "
                         f"expects {W.shape[1]}")
    if b is not None and b.shape != (W.shape[0],):
        raise ShapeError(f"conv2d: b {_fmt(b.shape)} must be ({W.shape[0]},): one bias per output "
                         f"channel of W {_fmt(W.shape)}")
    C_out, C_in, kh, kw = W.shape
    B = x.shape[0]
    Ho, Wo = out_hw = _out_size("conv2d", x.shape, (kh, kw), stride, padding)
    ph, pw = padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    # (B, C_in, H_out, W_out, kH, kW): a view, no copy; the reshape below is the im2col copy.
    # cols per sample as (C_in kH kW, H_out W_out) makes the product land in NCHW order (no
    # transpose after) and copies windows in runs of W_out: 0.9 ms for LeNet's first conv at
    # batch 128, against 2.6 ms for one row per pixel (B H_out W_out, C_in kH kW) (measured).
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride[0], ::stride[1]]
    cols = windows.transpose(0, 1, 4, 5, 2, 3).reshape(B, C_in * kh * kw, Ho * Wo)
    y = (W.reshape(C_out, -1) @ cols).reshape(B, C_out, Ho, Wo)
    del windows, cols, xp  # the VJPs below see only x and W
    if b is not None:
        if b.dtype == y.dtype:
            y += b[:, None, None]  # y is fresh from the matmul: in place is safe
        else:
            y = y + b[:, None, None]
    shared = {}  # g in the batch-last layout, made by the first VJP that needs it, used by both

    def g_batch_last(g, keep: bool):
        # the walk hands both VJPs the same g, x's first: transposing it once saves 0.4 ms per
        # backward of LeNet's second conv at batch 128 (measured); `is` keeps this exact
        if shared.get("g") is g:
            gt = shared["gt"]
        else:
            gt = _batch_last(g).reshape(C_out, -1)
        shared.clear()
        if keep:
            shared.update(g=g, gt=gt)
        return gt

    vjps = (lambda g: _conv_input_grad(g_batch_last(g, keep=True), W, x.shape, out_hw, stride, padding),
            lambda g: _conv_weight_grad(g_batch_last(g, keep=False), x, W.shape, out_hw, stride, padding))
    if b is None:
        return y, vjps
    return y, vjps + ((lambda g: g.sum(axis=(0, 2, 3))),)
conv2d.formulas = ("conv_transpose({g}, {W}) [col2im: {g.name} fully convolved with {W.name} flipped]",
                   "correlate({x}, {g}) summed over batch and pixels",
                   "{g} summed over batch and pixels, axes (0,2,3)")
conv2d.column_formulas = None


def _conv_input_grad(gt, W, x_shape: tuple, out_hw: tuple, stride: tuple, padding: tuple):
    """dL/dx (B, C_in, H, W) of conv2d from gt = dL/dy in the batch-last layout (C_out, H_out W_out B):
    for each kernel offset (i, j), W[:, :, i, j].T (C_in, C_out) @ gt lands on the strided slice
    of x_pad that the offset met (col2im)."""
    C_out, C_in, kh, kw = W.shape
    B, _, H, Wd = x_shape
    Wt = W.transpose(2, 3, 1, 0)                    # (kH, kW, C_in, C_out): Wt[i, j] = W[:, :, i, j].T
    ph, pw = padding
    dxt = np.zeros((C_in, H + 2 * ph, Wd + 2 * pw, B), dtype=np.result_type(gt, W))
    for i in range(kh):
        for j in range(kw):
            rows, cols = _offset(i, j, out_hw, stride)
            dxt[:, rows, cols] += (Wt[i, j] @ gt).reshape(C_in, *out_hw, B)
    return np.ascontiguousarray(dxt[:, ph:ph + H, pw:pw + Wd].transpose(3, 0, 1, 2))


def _conv_weight_grad(gt, x, W_shape: tuple, out_hw: tuple, stride: tuple, padding: tuple):
    """dL/dW (C_out, C_in, kH, kW) of conv2d from gt = dL/dy in the batch-last layout: for each
    kernel offset (i, j), gt (C_out, H_out W_out B) times the slice of x_pad the offset met,
    (H_out W_out B, C_in): a correlation of x with g.

    One product per offset rather than one over a full im2col copy: the same speed in total for
    LeNet's two convs (2.5 ms at batch 128, measured) without a temporary 25x the size of x."""
    C_out, C_in, kh, kw = W_shape
    xt = _batch_last(x, padding)                    # (C_in, H_pad, W_pad, B)
    dW = np.empty(W_shape, dtype=np.result_type(gt, x))
    for i in range(kh):
        for j in range(kw):
            rows, cols = _offset(i, j, out_hw, stride)
            dW[:, :, i, j] = gt @ xt[:, rows, cols].reshape(C_in, -1).T
    return dW


# ---------------------------------------------------------------- pooling
def _pool_settings(op: str, x, kernel, stride) -> tuple:
    kernel = _pair(kernel, "kernel", op, 1)
    stride = kernel if stride is None else _pair(stride, "stride", op, 1)
    _check_nchw(op, x)
    return kernel, stride, _out_size(op, x.shape, kernel, stride)


def max_pool2d(x, kernel, stride=None):
    """y = the largest entry of each kH x kW window of x (B, C, H, W), windows ``stride`` apart
    (default: ``kernel``, so they do not overlap) -> y (B, C, H_out, W_out), H_out = (H - kH) // s_h + 1.

    dL/dx: each window's g goes to ONE input, the window's first maximum in row-major order
    (PyTorch's rule; a NaN counts as the maximum), and adds up where windows overlap. The VJP
    keeps x and y, both alive in the graph anyway, and finds that maximum again: cheaper than
    recording argmax indices in the forward (forward + backward 1.2 ms instead of 3.6 ms for
    LeNet's first pool at batch 128, measured), and no index array to keep.
    """
    kernel, stride, out_hw = _pool_settings("max_pool2d", x, kernel, stride)
    offsets = [(i, j) for i in range(kernel[0]) for j in range(kernel[1])]  # row-major
    y = x[(slice(None), slice(None)) + _offset(0, 0, out_hw, stride)].copy()
    for i, j in offsets[1:]:
        np.maximum(y, x[(slice(None), slice(None)) + _offset(i, j, out_hw, stride)], out=y)

    def vjp(g):
        dx = np.zeros(x.shape, dtype=np.result_type(g, x))
        free = np.ones(y.shape, dtype=bool)       # windows whose maximum is not found yet
        nan = y.dtype.kind == "f" and bool(np.isnan(y).any())
        for i, j in offsets:
            where = (slice(None), slice(None)) + _offset(i, j, out_hw, stride)
            hit = x[where] == y
            if nan:
                hit |= np.isnan(x[where])
            hit &= free
            free &= ~hit
            dx[where] += hit * g
        return dx
    return y, (vjp,)
max_pool2d.formulas = ("{g} routed to the first maximum of each window of {x}",)
max_pool2d.column_formulas = None


def avg_pool2d(x, kernel, stride=None):
    """y = the mean of each kH x kW window of x (B, C, H, W), windows ``stride`` apart (default:
    ``kernel``) -> y (B, C, H_out, W_out). dL/dx: each window's g / (kH kW) to every entry of
    the window, added up where windows overlap. The VJP keeps only shapes."""
    kernel, stride, out_hw = _pool_settings("avg_pool2d", x, kernel, stride)
    offsets = [(i, j) for i in range(kernel[0]) for j in range(kernel[1])]
    scale = 1.0 / (kernel[0] * kernel[1])
    y = np.zeros(x.shape[:2] + out_hw, dtype=np.result_type(x, np.float32))
    for i, j in offsets:
        y += x[(slice(None), slice(None)) + _offset(i, j, out_hw, stride)]
    y *= scale
    shape = x.shape

    def vjp(g):
        share = g * scale
        dx = np.zeros(shape, dtype=share.dtype)
        for i, j in offsets:
            dx[(slice(None), slice(None)) + _offset(i, j, out_hw, stride)] += share
        return dx
    return y, (vjp,)
avg_pool2d.formulas = ("{g} / (kH*kW) spread over each window of {x}",)
avg_pool2d.column_formulas = None
