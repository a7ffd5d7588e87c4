"""Layers built on Tensor: Module (with train/eval modes), Linear, activations, Sequential, MLP;
the convolutional layers Conv2d, MaxPool2d, AvgPool2d, Flatten, Unflatten and Dropout;
initialisers; ``predict_proba``; and ``LAYERS``, the registry of layer types (name -> class)
that model files are built from: every Module subclass registers itself, so a new layer is saveable.

Weights are in the textbook's and PyTorch's orientation, W (n_out, n_in), so a layer computes
``x @ W.T + b`` on a batch x (B, n_in); images are NCHW, (B, C, H, W), and a convolution's
kernel is (C_out, C_in, kH, kW). Leaves out: losses (``losses.py``), training (``train.py``),
the file format (``serialize.py``, which builds models through ``LAYERS``), layer lists from
text (``arch.py``).
"""
from __future__ import annotations

import contextlib
import inspect
import math
from collections import OrderedDict
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Type, Union

import numpy as np

from . import ops
from .errors import ShapeError, fmt_shape
from .tensor import DEFAULT_DTYPE, Tensor, no_grad, updatable

__all__ = ["Module", "Linear", "Sigmoid", "Tanh", "ReLU", "Softmax", "Sequential", "MLP", "Conv2d",
           "MaxPool2d", "AvgPool2d", "Flatten", "Unflatten", "Dropout", "INITS", "ACTIVATIONS", "LAYERS",
           "LoadedKeys", "build", "training_mode", "predict_proba"]

RngLike = Union[None, int, np.random.Generator]


# ------------------------------------------------------------------ initialisers
def _init(name: str, n_in: int, n_out: int, rng: np.random.Generator, dtype) -> Tuple[np.ndarray, np.ndarray]:
    """Initial (W (n_out, n_in), b (n_out,)) for the named scheme; see ``INITS``. Also "_zeros",
    private (every unit would stay alike in training): what ``from_config`` builds for ``load``
    to fill, drawing no random numbers (for 784-15000-10, 12M normals in float64 and their
    temporaries)."""
    if name == "_zeros":
        return np.zeros((n_out, n_in), dtype), np.zeros(n_out, dtype)
    if name == "normal":          # Nielsen's network.py: everything N(0, 1)
        W, b = rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out)
    elif name == "scaled_normal":  # Nielsen ch. 3: W ~ N(0, 1/n_in) keeps sigmoids out of saturation
        W, b = rng.standard_normal((n_out, n_in)) / np.sqrt(n_in), rng.standard_normal(n_out)
    elif name == "uniform":       # U(-1, 1), as in the classic StackOverflow 784-30-10 question
        W, b = rng.uniform(-1.0, 1.0, (n_out, n_in)), rng.uniform(-1.0, 1.0, n_out)
    elif name == "xavier":        # Glorot & Bengio 2010, uniform form
        limit = np.sqrt(6.0 / (n_in + n_out))
        W, b = rng.uniform(-limit, limit, (n_out, n_in)), np.zeros(n_out)
    elif name == "he":            # He et al. 2015, for ReLU
        W, b = rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in), np.zeros(n_out)
    else:
        raise ValueError(f"unknown init {name!r}; choose one of {', '.join(INITS)}")
    return W.astype(dtype), b.astype(dtype)


INITS = ("normal", "scaled_normal", "uniform", "xavier", "he")


# ------------------------------------------------------------------ modules
# Layer types by name, for model files: {"Linear": Linear, ...}. Every Module subclass adds
# itself when its class statement runs (Module.__init_subclass__); names starting with "_" are
# helpers, not layers.
LAYERS: Dict[str, Type["Module"]] = {}


class Module:
    """Base class: a callable holding parameters (Tensors) and sub-modules as attributes.

    Subclasses define ``forward(x)``. Defining the class registers it in ``LAYERS`` under its
    name, so ``serialize.save``/``load`` handle it with no other edit: ``config()`` (by default
    the ``__init__`` arguments, read back from same-named attributes, as scikit-learn does)
    describes it as JSON, and ``from_config(config)`` (by default ``cls(**arguments)``)
    rebuilds it; its parameters are then set from the file.

    ``training`` (True until ``eval()``) has PyTorch's meaning: layers that act differently
    while training (``Dropout``) read it; ``train()`` and ``eval()`` set it on the module and
    every sub-module. ``train.fit`` trains in train mode, ``evaluate``/``predict`` run in eval
    mode, and each restores the mode it found.
    """

    training = True  # a class default, so subclasses need not call Module.__init__

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__name__.startswith("_"):
            return
        known = LAYERS.get(cls.__name__)
        if known is not None and known.__module__ != cls.__module__:
            raise TypeError(f"a layer named {cls.__name__!r} is already registered (from "
                            f"{known.__module__}); give yours another class name so model files "
                            f"can tell them apart")
        LAYERS[cls.__name__] = cls  # same module: a re-definition (a reloaded notebook cell) wins

    def __call__(self, x) -> Tensor:
        return self.forward(x if isinstance(x, Tensor) else Tensor(x))

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define forward(x)")

    def named_parameters(self, prefix: str = "") -> Iterator[Tuple[str, Tensor]]:
        """(dotted name, tensor) for every parameter, e.g. ('layers.0.weight', W (30, 784))."""
        for attr, value in vars(self).items():
            name = f"{prefix}{attr}"
            if isinstance(value, Tensor) and value.requires_grad:
                yield name, value
            elif isinstance(value, Module):
                yield from value.named_parameters(name + ".")
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield from item.named_parameters(f"{name}.{i}.")

    def modules(self) -> Iterator["Module"]:
        """This module and every sub-module (attributes, and Modules in list/tuple attributes),
        depth first, each once (PyTorch's meaning):
        ``[m for m in model.modules() if isinstance(m, Linear)]`` finds the dense layers."""
        seen, stack = set(), [self]
        while stack:  # explicit stack: a file may describe deeply nested Sequentials
            m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield m
            children = []
            for value in vars(m).values():
                if isinstance(value, Module):
                    children.append(value)
                elif isinstance(value, (list, tuple)):
                    children.extend(item for item in value if isinstance(item, Module))
            stack.extend(reversed(children))

    def train(self, mode: bool = True) -> "Module":
        """Set ``training = mode`` on this module and every sub-module; returns self (PyTorch's
        ``Module.train``)."""
        for m in self.modules():
            m.training = bool(mode)
        return self

    def eval(self) -> "Module":
        """``train(False)``: Dropout becomes the identity. Returns self."""
        return self.train(False)

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Every parameter under PyTorch's key name, in ``parameters()`` order: a Sequential's
        (and an MLP's) layers by their index, ``0.weight``, ``0.bias``, ``2.weight``, ... as in
        ``torch.nn.Sequential``; other sub-modules by attribute name (a list of modules as a
        ``ModuleList``: ``blocks.0.weight``). Values are in PyTorch's layouts (Linear: weight
        (n_out, n_in), bias (n_out,)), so a ``torch.nn.Sequential`` of the same layers loads them
        as they are (``interop.to_torch`` does). Unlike PyTorch's, the arrays are copies."""
        return OrderedDict((name, np.array(p.data)) for name, p in self._state_items(""))

    def _state_items(self, prefix: str) -> Iterator[Tuple[str, Tensor]]:
        for attr, value in vars(self).items():
            if isinstance(value, Tensor) and value.requires_grad:
                yield prefix + attr, value
            elif isinstance(value, Module):
                yield from value._state_items(f"{prefix}{attr}.")
            elif isinstance(value, (list, tuple)):
                # torch.nn.Sequential names its layers "0", "1", ...; a list elsewhere is a ModuleList
                base = prefix if isinstance(self, Sequential) and attr == "layers" else f"{prefix}{attr}."
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield from item._state_items(f"{base}{i}.")

    def load_state_dict(self, state_dict, strict: bool = True) -> "LoadedKeys":
        """Copy the values of ``state_dict`` (key -> array, as ``state_dict()`` or PyTorch's
        ``module.state_dict()`` gives it: NumPy arrays, torch tensors, anything array-like) into
        this module's parameters, in place, converted to each parameter's dtype.

        ``strict`` (PyTorch's meaning): the keys must be exactly ``state_dict()``'s, else
        ValueError lists the missing and unexpected ones; with ``strict=False`` the keys that
        match are loaded. A shape that differs is a ValueError either way, and nothing is
        written unless everything fits. Returns ``LoadedKeys(missing_keys, unexpected_keys)``.
        """
        own = OrderedDict(self._state_items(""))
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            parts = [f"{what} key(s) in state_dict: {', '.join(map(repr, keys))}"
                     for what, keys in (("missing", missing), ("unexpected", unexpected)) if keys]
            raise ValueError(f"load_state_dict: {type(self).__name__}: {'; '.join(parts)} "
                             f"(this model's keys: {', '.join(own) or 'none'})")
        values = {}
        for key, param in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if hasattr(value, "detach"):  # a torch tensor: leave its graph and device
                value = value.detach().cpu().numpy()
            arr = np.asarray(value)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"load_state_dict: {key!r}: expected numbers, got dtype {arr.dtype}")
            if arr.shape != param.shape:
                raise ValueError(f"load_state_dict: {key!r}: the state_dict holds shape {fmt_shape(arr.shape)}, "
                                 f"the model's parameter has {fmt_shape(param.shape)}")
            values[key] = arr
        for key, arr in values.items():
            updatable(own[key])[...] = arr  # an in-place write, counted (see Tensor's in-place rule)
        return LoadedKeys(missing, unexpected)

    def parameters(self) -> List[Tensor]:
        """Every parameter tensor, in a fixed order (what an optimizer takes)."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Forget every parameter's gradient."""
        for p in self.parameters():
            p.grad = None

    def config(self) -> dict:
        """The JSON-able description that rebuilds this layer: {"type": class name, **arguments}.

        The default reads each ``__init__`` argument back from the attribute of the same name
        (``self.n = n``); a layer that stores its arguments otherwise overrides this."""
        config = {"type": type(self).__name__}
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if not hasattr(self, name):
                raise NotImplementedError(
                    f"{type(self).__name__}: cannot describe itself for saving: __init__ takes {name!r} "
                    f"but the layer has no attribute {name!r}; store it as self.{name} or define config()")
            config[name] = getattr(self, name)
        return config

    @classmethod
    def from_config(cls, config: dict) -> "Module":
        """A new layer from ``config()``'s output (weights are set afterwards by ``load``)."""
        return cls(**{k: v for k, v in config.items() if k != "type"})

    @classmethod
    def count_parameters(cls, config: dict) -> Optional[int]:
        """How many numbers a layer of this ``config`` holds, without building it, or None when
        unknown. ``load`` uses it to refuse files whose architecture claims far more numbers
        than they hold before allocating anything; layers without parameters return 0."""
        return None


class LoadedKeys(NamedTuple):
    """What ``Module.load_state_dict`` returns (PyTorch's ``_IncompatibleKeys``)."""
    missing_keys: List[str]
    unexpected_keys: List[str]


class Linear(Module):
    """A dense layer: y = x @ W.T + b, x (B, n_in) -> y (B, n_out).

    ``weight`` W has shape (n_out, n_in) (the textbook's 30x784), ``bias`` b has (n_out,).
    ``init`` is one of ``INITS``; ``rng`` a numpy Generator or seed for reproducible runs.
    """

    def __init__(self, n_in: int, n_out: int, init: str = "scaled_normal", rng: RngLike = None,
                 dtype=DEFAULT_DTYPE):
        if int(n_in) < 1 or int(n_out) < 1:
            raise ValueError(f"Linear: sizes must be positive, got n_in={n_in}, n_out={n_out}")
        self.n_in, self.n_out, self.init = int(n_in), int(n_out), init
        W, b = _init(init, self.n_in, self.n_out, np.random.default_rng(rng), dtype)
        self.weight = Tensor(W, requires_grad=True)
        self.bias = Tensor(b, requires_grad=True)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 0 or x.shape[-1] != self.n_in:
            raise ShapeError(f"{self!r} got input of shape {fmt_shape(x.shape)}; expected (B,{self.n_in}) "
                             f"(a batch of rows with {self.n_in} features each)")
        return Tensor.apply(ops.linear, x, self.weight, self.bias)

    def config(self) -> dict:
        return {"type": "Linear", "n_in": self.n_in, "n_out": self.n_out}

    @classmethod
    def from_config(cls, config: dict) -> "Linear":
        return cls(config["n_in"], config["n_out"], init="_zeros")

    @classmethod
    def count_parameters(cls, config: dict) -> int:
        n_in, n_out = _positive_ints(config.get("n_in"), config.get("n_out"))
        return n_in * n_out + n_out

    def __repr__(self) -> str:
        return f"Linear({self.n_in}->{self.n_out})"


class _NoParameters(Module):
    """A layer without parameters: nothing to count, nothing saved but its config."""

    @classmethod
    def count_parameters(cls, config: dict) -> int:
        return 0


class _Activation(_NoParameters):
    """An elementwise function with no parameters."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Sigmoid(_Activation):
    """y = 1 / (1 + exp(-x)), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class Tanh(_Activation):
    """y = tanh(x), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class ReLU(_Activation):
    """y = max(x, 0), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Softmax(_Activation):
    """y = softmax(x) over the last axis (probabilities; train on logits with softmax_cross_entropy)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.softmax(axis=-1)


ACTIVATIONS = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "softmax": Softmax}


class Sequential(Module):
    """Layers applied in order: ``Sequential(Linear(784, 30), Sigmoid(), Linear(30, 10))``."""

    def __init__(self, *layers: Module):
        for layer in layers:
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: expected Modules, got {type(layer).__name__}")
        self.layers = list(layers)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def config(self) -> dict:
        return {"type": "Sequential", "layers": [layer.config() for layer in self.layers]}

    @classmethod
    def from_config(cls, config: dict) -> "Sequential":
        return cls(*[build(c) for c in config["layers"]])

    @classmethod
    def count_parameters(cls, config: dict) -> int:
        return 0  # its layers are counted one by one (serialize walks them)

    def __repr__(self) -> str:
        return "Sequential(" + ", ".join(repr(layer) for layer in self.layers) + ")"


class MLP(Sequential):
    """A fully-connected network for any ``sizes``, e.g. [784, 30, 10].

    Hidden layers use ``activation``; the output layer uses ``output`` (None: raw logits, for
    softmax_cross_entropy; "sigmoid": the textbook's network, for the quadratic cost).
    ``init`` is one of ``INITS``; ``seed`` an int or numpy Generator, so runs are reproducible.
    Parameters are named ``layers.0.weight`` (30, 784), ``layers.0.bias`` (30,), ``layers.2.weight``
    (10, 30), ... (activations take the odd indices).
    """

    def __init__(self, sizes: Sequence[int], activation: str = "sigmoid", output: Optional[str] = None,
                 init: str = "scaled_normal", seed: RngLike = None, dtype=DEFAULT_DTYPE):
        sizes = [int(n) for n in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"MLP: sizes must list at least an input and an output size, all positive; got {sizes}")
        for name in (activation, output):
            if name is not None and name not in ACTIVATIONS:
                raise ValueError(f"MLP: unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
        rng = np.random.default_rng(seed)
        layers: List[Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(n_in, n_out, init=init, rng=rng, dtype=dtype))
            last = i == len(sizes) - 2
            act = output if last else activation
            if act is not None:
                layers.append(ACTIVATIONS[act]())
        super().__init__(*layers)
        self.sizes, self.activation, self.output, self.init = sizes, activation, output, init

    @property
    def linears(self) -> List[Linear]:
        """The Linear layers, first to last."""
        return [layer for layer in self.layers if isinstance(layer, Linear)]

    def config(self) -> dict:
        return {"type": "MLP", "sizes": self.sizes, "activation": self.activation, "output": self.output}

    @classmethod
    def from_config(cls, config: dict) -> "MLP":
        return cls(config["sizes"], activation=config.get("activation", "sigmoid"),
                   output=config.get("output"), init="_zeros")

    @classmethod
    def count_parameters(cls, config: dict) -> int:
        sizes = config.get("sizes")
        if not isinstance(sizes, list) or len(sizes) < 2:
            return 0  # malformed: from_config says why
        s = _positive_ints(*sizes)
        return sum(n_in * n_out + n_out for n_in, n_out in zip(s[:-1], s[1:]))

    def __repr__(self) -> str:
        out = f", output={self.output!r}" if self.output else ""
        return f"MLP({'-'.join(map(str, self.sizes))}, activation={self.activation!r}{out})"


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


def _positive_ints(*values) -> tuple:
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
        raise ValueError(f"sizes must be positive integers, got {list(values)}")
    return values


def build(config: dict) -> Module:
    """The layer ``config`` describes (``{"type": name, ...}`` as ``Module.config()`` gives it),
    built through ``LAYERS``. Raises KeyError for an unknown type, and whatever the layer's
    ``from_config`` raises (ValueError, TypeError) for bad fields."""
    kind = config["type"]
    if kind not in LAYERS:
        raise KeyError(f"unknown layer type {kind!r}; known: {', '.join(sorted(LAYERS))}")
    return LAYERS[kind].from_config(config)


# ------------------------------------------------------------------ modes and inference
@contextlib.contextmanager
def training_mode(model: Module, training: bool):
    """Run a block with ``model`` and all its sub-modules in train (True) or eval (False) mode;
    afterwards each module gets back the ``training`` flag it had, whatever happened inside."""
    before = [(m, m.training) for m in model.modules()]
    model.train(training)
    try:
        yield model
    finally:
        for m, flag in before:
            m.training = flag


def predict_proba(model: Module, X: np.ndarray) -> np.ndarray:
    """Class probabilities (B, C) for inputs X (B, n_in), in eval mode, without recording a graph.

    Softmax of the outputs, unless the model already ends in Softmax or Sigmoid (then the
    outputs are normalised to sum to 1 per row, which is what a sigmoid network's argmax means).
    """
    with no_grad(), training_mode(model, False):
        out = model(Tensor(X)).data
    last = model.layers[-1] if isinstance(model, Sequential) and model.layers else None
    if isinstance(last, (Softmax, Sigmoid)):
        total = out.sum(axis=1, keepdims=True)
        return out / np.where(total > 0, total, 1)
    e = np.exp(out - out.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
