"""Tensor: a NumPy array that records the ops applied to it, and backward() over that record.

Every op, built-in or a user's, goes through one public door, ``Tensor.apply(op, *inputs)``
(see ``tinygrad_mnist.ops`` for the op contract). Recording leaves an ``autograd.Node`` on the
result (``t.node``, the public read-only view tools use); ``backward`` runs ``autograd.walk``.
Leaves out: layers, losses as modules, optimizers (``nn.py``, ``optim.py``).
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from . import ops
from .autograd import (Node, bad_values, detect_anomaly, is_grad_enabled, mode, no_grad, user_site,
                       walk)
from .errors import AnomalyError, ShapeError, fmt_shape as _fmt

__all__ = ["Tensor", "no_grad", "is_grad_enabled", "detect_anomaly", "AnomalyError", "DEFAULT_DTYPE"]

DEFAULT_DTYPE = np.float32

# The seed dL/dL = 1 of a 0-d loss, shared and read-only: a fresh np.ones per backward is a
# visible part of the engine's own overhead for a small MLP. Safe because VJPs never mutate g
# and a leaf's .grad is copied when it would alias g.
_ONE = {}
for _t in (np.float32, np.float64):
    _ONE[np.dtype(_t)] = np.ones((), dtype=_t)
    _ONE[np.dtype(_t)].flags.writeable = False


class _Version:
    """How many in-place writes an array (and every view of it) has had."""
    __slots__ = ("count",)

    def __init__(self):
        self.count = 0


class TrackedArray(np.ndarray):
    """The ndarray behind a parameter (a leaf tensor that requires grad) once an op has used
    it: counts in-place writes (``w.data -= ...``, ``w.data[0] = ...``, ``out=``, ``fill``)
    in ``_version``, shared with its views, so backward can tell when an op's saved input was
    changed after the op used it. Computations on it give plain ndarrays; ops are handed the
    plain array (``_plain``), so the hot path pays nothing.
    """

    def __array_finalize__(self, obj):
        # a view shares the counter (writing through it changes the same memory); a copy owns
        # its memory (base None) and counts nothing
        self._version = getattr(obj, "_version", None) if self.base is not None else None
        self._plain = None

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        # (the hand-written update ``w.data -= lr * w.grad`` comes through here: kept lean)
        args = [_untracked(a) if isinstance(a, TrackedArray) else a for a in inputs]
        call = ufunc if method == "__call__" else getattr(ufunc, method)
        if out is None:
            return call(*args, **kwargs)
        plain_out = []
        for o in out:
            if isinstance(o, TrackedArray):
                if o._version is not None:
                    o._version.count += 1
                o = _untracked(o)
            plain_out.append(o)
        call(*args, out=tuple(plain_out), **kwargs)
        return out[0] if len(out) == 1 else out  # `w.data -= g` must rebind to the same array

    def __setitem__(self, index, value):
        if self._version is not None:
            self._version.count += 1
        self.view(np.ndarray)[index] = value

    def fill(self, value):
        if self._version is not None:
            self._version.count += 1
        self.view(np.ndarray).fill(value)


def _untracked(a: TrackedArray) -> np.ndarray:
    """The same memory as a plain ndarray (the cached one of a parameter's own array)."""
    plain = a._plain
    return plain if plain is not None else a.view(np.ndarray)


def _track(t: "Tensor") -> TrackedArray:
    """Give parameter ``t`` a version-counted array (the same memory): at creation, or when an
    op first uses a parameter whose ``.data`` was replaced or that was made one later."""
    d = t.data
    tracked = d.view(TrackedArray)
    tracked._version, tracked._plain = _Version(), d
    t.data = tracked
    return tracked


def updatable(t: "Tensor") -> np.ndarray:
    """``t.data`` as a plain ndarray to update in place, the write counted as one in-place
    change (what optimizers use: it skips TrackedArray's per-call dispatch)."""
    d = t.data
    if isinstance(d, TrackedArray):
        if d._version is not None:
            d._version.count += 1
        return d._plain if d._plain is not None else d.view(np.ndarray)
    return d


def _describe(a) -> str:
    """'float32 (10,784)' for an array, the type's name for anything else."""
    if isinstance(a, (np.ndarray, np.generic)):
        return f"{a.dtype} {_fmt(a.shape)}"
    return type(a).__name__


def _as_array(data, requires_grad: bool) -> np.ndarray:
    """Python numbers and lists -> DEFAULT_DTYPE; NumPy arrays keep their dtype."""
    if isinstance(data, np.ndarray):
        arr = np.array(data) if requires_grad else data  # np.array copies into a plain ndarray
    else:
        arr = np.asarray(data)
        if arr.dtype.kind in "biuf" and not isinstance(data, np.generic):
            arr = arr.astype(DEFAULT_DTYPE)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Tensor: expected numbers (a bool, int or float array), got dtype {arr.dtype} "
                        f"from {type(data).__name__}")
    if requires_grad and arr.dtype.kind != "f":
        raise TypeError(f"Tensor: only floating-point tensors can require grad, got dtype {arr.dtype}")
    return arr


class Tensor:
    """An n-dimensional array (``.data``, a NumPy ndarray) that can record a graph for backprop.

    ``Tensor(data, requires_grad=False)``: a float64 array stays float64, float32 stays float32,
    integer arrays stay integer (labels); Python numbers and lists become float32. An array is
    wrapped without copying, except when ``requires_grad`` is set: then the tensor owns a copy,
    so optimizer updates never write into the caller's array.

    After ``loss.backward()``, every leaf tensor with ``requires_grad=True`` that the loss depends
    on has ``.grad``: an ndarray of its ``.data``'s shape and dtype (accumulated over calls until
    ``zero_grad()``). Intermediate tensors keep no ``.grad`` unless ``retain_grad()`` was called.

    ``t.node`` is the record of the op that made the tensor (an ``autograd.Node``: ``op``,
    ``inputs``, ``vjps``), None for a leaf: the public, read-only view tools walk.

    In-place rule (PyTorch's): a parameter's ``.data`` may be changed in place (``w.data -= lr *
    w.grad``, ``w.data[0] = 0``) at any time, but not between an op that used it and the
    backward through that op: the op's VJP saved the old values, so the gradient would be
    wrong. Each parameter's array counts its in-place writes (``TrackedArray``) and backward
    raises, naming the op and the tensor, instead of returning that wrong gradient. Optimizer
    steps come after backward, so they are always allowed; the next forward records anew.
    Assigning a new array (``w.data = arr``) is not an in-place change.
    """

    __slots__ = ("data", "grad", "requires_grad", "name", "node")
    __array_ufunc__ = None  # make ndarray (op) Tensor defer to Tensor's reflected operators

    def __init__(self, data, requires_grad: bool = False, name: Optional[str] = None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = _as_array(data, requires_grad)
        self.grad: Optional[np.ndarray] = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self.node: Optional[Node] = None
        if requires_grad:  # a parameter: count in-place writes from the start (see the class doc)
            _track(self)

    # ------------------------------------------------------------ the op door
    @staticmethod
    def apply(op: Callable, *inputs, **settings) -> "Tensor":
        """Run ``op`` on the inputs' arrays and record it for backward when needed.

        ``op(*arrays, **settings) -> (out, vjps)`` as described in ``tinygrad_mnist.ops``.
        Inputs may be Tensors or plain values (numbers, arrays: constants, no gradient).
        Returns a Tensor that requires grad iff some input Tensor does and grad mode is on.

        A new op in a few lines, with broadcasting, ``no_grad`` and accumulation for free::

            def softplus(x):
                y = np.logaddexp(0.0, x)                      # log(1 + e^x), stable
                return y, (lambda g: g / (1.0 + np.exp(-x)),)  # dL/dx = g * sigmoid(x)

            y = Tensor.apply(softplus, t)
            gradcheck(lambda t: Tensor.apply(softplus, t), np.random.randn(3, 4))
        """
        arrays = []
        parents = inputs  # becomes a list with None for each constant, if there is one
        record = False
        depth = 0
        versions = None
        for i, x in enumerate(inputs):
            if isinstance(x, Tensor):
                d = x.data
                if x.requires_grad:
                    record = True
                    node = x.node
                    if node is not None:
                        if node.depth >= depth:
                            depth = node.depth + 1
                    elif mode.grad:  # a parameter: remember how often it was written so far
                        if type(d) is not TrackedArray:
                            d = _track(x)
                        counter = d._version
                        if counter is not None:
                            if versions is None:
                                versions = [(i, counter, counter.count)]
                            else:
                                versions.append((i, counter, counter.count))
                if type(d) is TrackedArray:
                    d = d._plain if d._plain is not None else d.view(np.ndarray)
                arrays.append(d)
            else:
                arrays.append(x)
                if parents is inputs:
                    parents = list(inputs)
                parents[i] = None
        try:
            result = op(*arrays, **settings)
        except ValueError as e:
            name = getattr(op, "__name__", "op")
            if isinstance(e, ShapeError) or str(e).startswith(name + ":"):
                raise  # the op's own check already names it
            # NumPy's own errors ("operands could not be broadcast...") do not name our op
            shapes = [np.shape(a) for a in arrays]
            if len(shapes) == 2 and "could not be broadcast" in str(e):
                raise ShapeError(ops.broadcast_message(name, *shapes)) from e
            raise ShapeError(f"{name}: {' and '.join(map(_fmt, shapes))}: {e}") from e
        except TypeError as e:
            name = getattr(op, "__name__", "op")
            if str(e).startswith(name + ":"):
                raise
            # e.g. a string constant: "ufunc 'add' did not contain a loop..." names no op
            kinds = " and ".join(_describe(a) for a in arrays)
            raise TypeError(f"{name}: {kinds}: {e}") from e
        if type(result) is not tuple or len(result) != 2:
            name = getattr(op, "__name__", "op")
            raise TypeError(f"{name}: an op must return (output, vjps), got {type(result).__name__}")
        out, vjps = result
        t = Tensor.__new__(Tensor)
        t.data = out if type(out) is np.ndarray else np.asarray(out)
        t.grad = t.name = t.node = None
        t.requires_grad = False
        site = None
        if mode.anomaly:
            site = user_site()
            bad = bad_values(t.data)
            if bad:
                name = getattr(op, "__name__", "op")
                shapes = ", ".join(_fmt(np.shape(a)) for a in arrays)
                raise AnomalyError(name, "forward", f"{name}: forward output {_fmt(t.data.shape)} "
                                   f"contains {bad} (inputs {shapes})", site)
        if record and mode.grad:
            if type(vjps) is not tuple or len(vjps) != len(inputs):
                name = getattr(op, "__name__", "op")
                got = f"{len(vjps)} VJPs" if isinstance(vjps, tuple) else f"a {type(vjps).__name__}"
                raise TypeError(f"{name}: returned {got} for {len(inputs)} inputs; an op returns a tuple "
                                f"with one VJP per input (None where there is no gradient)")
            t.requires_grad = True
            t.node = Node(op, parents if parents is inputs else tuple(parents), vjps, depth, site, versions)
        # else nothing recorded: a leaf, like PyTorch's results under no_grad, so setting
        # requires_grad on it later makes a proper parameter
        return t

    # ------------------------------------------------------------ backward
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Fill ``.grad`` of every leaf that requires grad with dL/d(leaf), L being this tensor.

        ``grad``: dL/d(self), needed unless self has exactly one element (a loss), where it is 1.
        The graph's saved arrays are released afterwards unless ``retain_graph=True``.
        The order and arithmetic are ``autograd.walk``'s, the one walk every tool shares.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad; no input that made it "
                               "had requires_grad=True (or it was computed under no_grad)")
        if grad is None:
            if self.data.size != 1:
                raise ValueError(f"backward: grad can be implied only for a scalar; this tensor has shape "
                                 f"{_fmt(self.shape)}. Reduce it to a loss first (e.g. .mean()), or pass grad=")
            grad = _ONE.get(self.data.dtype) if self.data.ndim == 0 else None
            if grad is None:
                grad = np.ones(self.data.shape, dtype=self.data.dtype)
        else:
            grad = np.array(grad.data if isinstance(grad, Tensor) else grad, dtype=self.data.dtype)
            if grad.shape != self.data.shape:
                raise ShapeError(f"backward: grad has shape {_fmt(grad.shape)}, tensor has {_fmt(self.shape)}")
        if self.node is None:  # a leaf (or a result recorded without grad): nothing to walk
            self.grad = grad.copy() if self.grad is None else self.grad + grad  # grad may be _ONE
            return
        for t, g in walk(self, grad, free=not retain_graph).items():
            if t.grad is None:
                t.grad = g if t.node is None else g.copy()  # a retained g may be shared with a VJP
            else:
                t.grad = t.grad + g

    def retain_grad(self) -> "Tensor":
        """Keep ``.grad`` on this intermediate tensor at the next backward (e.g. to see delta = dL/dz)."""
        if self.node is not None:
            self.node.retain = True
        return self

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``.grad = None``)."""
        self.grad = None

    def detach(self) -> "Tensor":
        """A tensor sharing this one's data, outside any graph."""
        return Tensor(self.data)

    # ------------------------------------------------------------ array-like
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def op(self) -> Optional[str]:
        """The name of the op that made this tensor, None for a leaf (``node.op`` is the function)."""
        return None if self.node is None else self.node.name

    @property
    def is_leaf(self) -> bool:
        """True unless an op made this tensor while recording a graph (PyTorch's meaning)."""
        return self.node is None

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def item(self) -> float:
        """The single element as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element tensor has an item, this one has shape {_fmt(self.shape)}")
        return self.data.item()

    def __float__(self) -> float:
        """``float(t)`` of a one-element tensor (e.g. a loss), as in PyTorch."""
        return float(self._scalar("float"))

    def __int__(self) -> int:
        """``int(t)`` of a one-element tensor, truncated toward zero like ``int(2.7)``."""
        return int(self._scalar("int"))

    def __bool__(self) -> bool:
        """``if t:`` for a one-element tensor; more elements are ambiguous (use ``.any()`` or
        ``.all()`` on ``t.data``), as in PyTorch."""
        if self.data.size != 1:
            raise ValueError(f"bool: the truth value of a tensor of shape {_fmt(self.shape)} is ambiguous; "
                             f"only a one-element tensor has one (use (t > 0).data.any() or .all())")
        return bool(self.data.item())

    def _scalar(self, what: str):
        if self.data.size != 1:
            raise ValueError(f"{what}: only a one-element tensor converts to a Python number, this one has "
                             f"shape {_fmt(self.shape)}")
        return self.data.item()

    # Comparisons give bool tensors that record nothing (no gradient flows through them), as in
    # PyTorch: ``(t > 0).data.mean()``, ``t[t.data > 0]``. ``==`` compares values too, so hashing
    # stays by identity (graphs keep tensors in dicts and sets).
    def _compare(self, other, fn) -> "Tensor":
        return Tensor(fn(self.data, other.data if isinstance(other, Tensor) else other))

    def __lt__(self, other): return self._compare(other, np.less)
    def __le__(self, other): return self._compare(other, np.less_equal)
    def __gt__(self, other): return self._compare(other, np.greater)
    def __ge__(self, other): return self._compare(other, np.greater_equal)
    def __eq__(self, other): return self._compare(other, np.equal)  # type: ignore[override]
    def __ne__(self, other): return self._compare(other, np.not_equal)  # type: ignore[override]
    __hash__ = object.__hash__

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, threshold=20, edgeitems=2, separator=", ")
        extra = [f"shape={_fmt(self.shape)}", f"dtype={self.dtype}"]
        if self.name:
            extra.append(f"name={self.name!r}")
        if self.node is not None:
            extra.append(f"op={self.node.name}")
        if self.requires_grad and self.is_leaf:
            extra.append("requires_grad=True")
        return f"Tensor({body}, {', '.join(extra)})"

    def _repr_html_(self) -> str:
        """What Jupyter shows for a tensor: shape, dtype, the op that made it, its gradient's
        state, and the values, abridged as ``repr`` abridges them."""
        import html
        facts = [f"<b>Tensor</b> {_fmt(self.shape)} {self.dtype}"]
        if self.name:
            facts.append(f"name <code>{html.escape(self.name)}</code>")
        if self.node is not None:
            facts.append(f"made by <code>{html.escape(self.node.name)}</code>")
        elif self.requires_grad:
            facts.append("parameter (requires grad)")
        if self.grad is not None:
            facts.append(f"grad {_fmt(self.grad.shape)}, |grad| max {float(np.abs(self.grad).max(initial=0)):.3g}")
        body = np.array2string(self.data, precision=4, threshold=60, edgeitems=3, separator=", ")
        return (f"<div>{' &middot; '.join(facts)}"
                f"<pre style=\"margin:0.3em 0\">{html.escape(body)}</pre></div>")

    # ------------------------------------------------------------ constructors
    @staticmethod
    def zeros(*shape, dtype=DEFAULT_DTYPE, requires_grad: bool = False) -> "Tensor":
        """A tensor of zeros of the given shape."""
        return Tensor(np.zeros(_shape_arg(shape), dtype=dtype), requires_grad=requires_grad)

    @staticmethod
    def randn(*shape, rng=None, dtype=DEFAULT_DTYPE, requires_grad: bool = False) -> "Tensor":
        """Standard-normal entries from ``rng`` (a numpy Generator or seed)."""
        gen = np.random.default_rng(rng)
        return Tensor(gen.standard_normal(_shape_arg(shape)).astype(dtype), requires_grad=requires_grad)

    # ------------------------------------------------------------ arithmetic
    def __add__(self, other): return Tensor.apply(ops.add, self, other)
    def __radd__(self, other): return Tensor.apply(ops.add, other, self)
    def __sub__(self, other): return Tensor.apply(ops.sub, self, other)
    def __rsub__(self, other): return Tensor.apply(ops.sub, other, self)
    def __mul__(self, other): return Tensor.apply(ops.mul, self, other)
    def __rmul__(self, other): return Tensor.apply(ops.mul, other, self)
    def __truediv__(self, other): return Tensor.apply(ops.div, self, other)
    def __rtruediv__(self, other): return Tensor.apply(ops.div, other, self)
    def __neg__(self): return Tensor.apply(ops.neg, self)
    def __matmul__(self, other): return Tensor.apply(ops.matmul, self, other)
    def __rmatmul__(self, other): return Tensor.apply(ops.matmul, other, self)

    def __pow__(self, p):
        """``t ** 2`` (a scalar exponent: ``ops.power``) or ``t ** e`` (a Tensor or array
        exponent, which gets a gradient too: ``ops.pow``)."""
        if isinstance(p, (Tensor, np.ndarray)):
            return Tensor.apply(ops.pow, self, p)
        return Tensor.apply(ops.power, self, p=p)

    def __rpow__(self, base):
        """``2 ** t``: a number or array raised to this tensor (``ops.pow``)."""
        return Tensor.apply(ops.pow, base, self)

    def pow(self, p) -> "Tensor":
        """self ** p, p a number or a Tensor (PyTorch's ``t.pow``)."""
        return self ** p

    def __abs__(self): return Tensor.apply(ops.abs, self)

    def abs(self) -> "Tensor":
        """|self|, elementwise; the gradient at 0 is 0 (PyTorch's choice)."""
        return Tensor.apply(ops.abs, self)

    def sqrt(self) -> "Tensor":
        """The square root, elementwise."""
        return Tensor.apply(ops.sqrt, self)

    def matmul(self, other) -> "Tensor":
        """self @ other (see ``ops.matmul`` for shapes)."""
        return Tensor.apply(ops.matmul, self, other)

    def exp(self) -> "Tensor":
        return Tensor.apply(ops.exp, self)

    def log(self) -> "Tensor":
        return Tensor.apply(ops.log, self)

    def sigmoid(self) -> "Tensor":
        return Tensor.apply(ops.sigmoid, self)

    def tanh(self) -> "Tensor":
        return Tensor.apply(ops.tanh, self)

    def relu(self) -> "Tensor":
        return Tensor.apply(ops.relu, self)

    def astype(self, dtype) -> "Tensor":
        """This tensor converted to ``dtype`` (differentiable)."""
        return Tensor.apply(ops.astype, self, dtype=np.dtype(dtype))

    # ------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Sum over ``axis`` (int, tuple, or None for all)."""
        return Tensor.apply(ops.sum, self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Mean over ``axis``: the sum times 1/n (two recorded ops)."""
        try:
            total = self.sum(axis=axis, keepdims=keepdims)  # first: it checks the axis
        except ShapeError as e:
            raise ShapeError("mean: " + str(e).partition(": ")[2]) from None
        axes = range(self.ndim) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
        n = int(np.prod([self.shape[a] for a in axes])) if self.ndim else 1
        return total * (1.0 / max(n, 1))

    def max(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Largest entry over ``axis``; the gradient goes to the maxima (split among ties)."""
        return Tensor.apply(ops.max, self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None) -> np.ndarray:
        """Index of the largest entry over ``axis`` (a plain int64 array: not differentiable)."""
        return self.data.argmax(axis=axis)

    def softmax(self, axis: int = -1) -> "Tensor":
        return Tensor.apply(ops.softmax, self, axis=axis)

    def log_softmax(self, axis: int = -1) -> "Tensor":
        return Tensor.apply(ops.log_softmax, self, axis=axis)

    # ------------------------------------------------------------ shape
    def reshape(self, *shape) -> "Tensor":
        """The same entries in a new shape: ``t.reshape(2, 3)`` or ``t.reshape((2, 3))``."""
        return Tensor.apply(ops.reshape, self, shape=_shape_arg(shape))

    def transpose(self, *axes) -> "Tensor":
        """Axes permuted; no arguments reverses them (``t.T``)."""
        return Tensor.apply(ops.transpose, self, axes=_shape_arg(axes) if axes else None)

    @property
    def T(self) -> "Tensor":
        return self.transpose()

    def __getitem__(self, idx) -> "Tensor":
        if isinstance(idx, Tensor):
            idx = idx.data
        elif isinstance(idx, tuple):
            idx = tuple(i.data if isinstance(i, Tensor) else i for i in idx)
        return Tensor.apply(ops.getitem, self, idx=idx)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        """Axes start_dim..end_dim merged into one, as a reshape (PyTorch's meaning: everything
        by default; ``nn.Flatten`` and ``t.flatten(1)`` keep the batch axis): (B,16,4,4) -> (B,256)."""
        n = max(self.ndim, 1)
        start, end = start_dim % n, end_dim % n
        if not (-n <= start_dim < n and -n <= end_dim < n) or start > end:
            raise ShapeError(f"flatten: start_dim {start_dim} and end_dim {end_dim} do not name axes "
                             f"start <= end of a tensor of shape {_fmt(self.shape)}")
        if self.ndim == 0:
            return self.reshape(1)
        merged = int(np.prod(self.shape[start:end + 1]))
        return self.reshape(self.shape[:start] + (merged,) + self.shape[end + 1:])

    # ------------------------------------------------------------ convolution and pooling
    def conv2d(self, W, b=None, stride=1, padding=0) -> "Tensor":
        """2-D convolution of this NCHW batch (B,C_in,H,W) with W (C_out,C_in,kH,kW) and bias b
        (C_out,) or None -> (B,C_out,H_out,W_out); see ``ops.conv2d``."""
        if b is None:
            return Tensor.apply(ops.conv2d, self, W, stride=stride, padding=padding)
        return Tensor.apply(ops.conv2d, self, W, b, stride=stride, padding=padding)

    def max_pool2d(self, kernel, stride=None) -> "Tensor":
        """Largest entry of each kernel window of this NCHW batch (stride defaults to kernel);
        the gradient goes to each window's first maximum. See ``ops.max_pool2d``."""
        return Tensor.apply(ops.max_pool2d, self, kernel=kernel, stride=stride)

    def avg_pool2d(self, kernel, stride=None) -> "Tensor":
        """Mean of each kernel window of this NCHW batch (stride defaults to kernel). See ``ops.avg_pool2d``."""
        return Tensor.apply(ops.avg_pool2d, self, kernel=kernel, stride=stride)

    # ------------------------------------------------------------ losses
    def softmax_cross_entropy(self, target) -> "Tensor":
        """Mean cross-entropy of softmax(self) against ``target``: logits (B,C), target labels (B,) or (B,C)."""
        return Tensor.apply(ops.softmax_cross_entropy, self, _target(target))

    def quadratic_cost(self, target) -> "Tensor":
        """Mean over the batch of 1/2 sum_j (a_j - y_j)^2: self (B,C), target (B,C) or labels (B,)."""
        return Tensor.apply(ops.quadratic_cost, self, _target(target))

    def mse(self, target) -> "Tensor":
        """Mean over all elements of (self - target)^2 (PyTorch's MSELoss)."""
        return Tensor.apply(ops.mse, self, _target(target))

    def binary_cross_entropy(self, target) -> "Tensor":
        """Mean binary cross-entropy of probabilities self against ``target`` of the same shape."""
        return Tensor.apply(ops.binary_cross_entropy, self, _target(target))


def _target(target):
    """Targets may be Tensors, arrays or lists; integer lists stay integer (labels)."""
    if isinstance(target, Tensor):
        return target
    return target if isinstance(target, np.ndarray) else np.asarray(target)


def _shape_arg(shape: Sequence) -> tuple:
    """Accept f(2, 3) and f((2, 3)) alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)
