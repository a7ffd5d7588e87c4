"""Layers built on Tensor: Module, Linear, activations, Sequential, MLP; initialisers;
``predict_proba``; and ``LAYERS``, the registry of layer types (name -> class) that model
files are built from: every Module subclass registers itself, so a new layer is saveable.

Weights are in the textbook's and PyTorch's orientation, W (n_out, n_in), so a layer computes
``x @ W.T + b`` on a batch x (B, n_in). Leaves out: losses (``losses.py``), training
(``train.py``), the file format (``serialize.py``, which builds models through ``LAYERS``).
"""
from __future__ import annotations

import inspect
from collections import OrderedDict
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Type, Union

import numpy as np

from . import ops
from .errors import ShapeError, fmt_shape
from .tensor import DEFAULT_DTYPE, Tensor, no_grad, updatable

__all__ = ["Module", "Linear", "Sigmoid", "Tanh", "ReLU", "Softmax", "Sequential", "MLP", "INITS", "LoadedKeys",
           "ACTIVATIONS", "LAYERS", "build", "predict_proba"]

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
    """

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
        """This module and every sub-module, depth first, in attribute order (PyTorch's meaning):
        ``[m for m in model.modules() if isinstance(m, Linear)]`` finds the dense layers."""
        stack = [self]
        while stack:  # explicit stack: a file may describe deeply nested Sequentials
            m = stack.pop()
            yield m
            children = []
            for value in vars(m).values():
                if isinstance(value, Module):
                    children.append(value)
                elif isinstance(value, (list, tuple)):
                    children.extend(item for item in value if isinstance(item, Module))
            stack.extend(reversed(children))

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


class _Activation(Module):
    """An elementwise function with no parameters."""

    @classmethod
    def count_parameters(cls, config: dict) -> int:
        return 0

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


# ------------------------------------------------------------------ inference
def predict_proba(model: Module, X: np.ndarray) -> np.ndarray:
    """Class probabilities (B, C) for inputs X (B, n_in), without recording a graph.

    Softmax of the outputs, unless the model already ends in Softmax or Sigmoid (then the
    outputs are normalised to sum to 1 per row, which is what a sigmoid network's argmax means).
    """
    with no_grad():
        out = model(Tensor(X)).data
    last = model.layers[-1] if isinstance(model, Sequential) and model.layers else None
    if isinstance(last, (Softmax, Sigmoid)):
        total = out.sum(axis=1, keepdims=True)
        return out / np.where(total > 0, total, 1)
    e = np.exp(out - out.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
