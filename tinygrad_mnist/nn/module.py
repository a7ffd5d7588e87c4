"""Module, the base of every layer: parameters, sub-modules, train/eval modes, state_dict; the
container Sequential; and ``LAYERS``, the registry of layer types (name -> class) that model
files are built from (``build``): every Module subclass registers itself, so a new layer is
saveable. Leaves out: the layers themselves (``dense.py``, ``conv.py``), the file format
(``serialize.py``).
"""
from __future__ import annotations

import contextlib
import inspect
from collections import OrderedDict
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple, Type, Union

import numpy as np

from ..errors import fmt_shape
from ..tensor import Tensor, updatable

RngLike = Union[None, int, np.random.Generator]


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


class _NoParameters(Module):
    """A layer without parameters: nothing to count, nothing saved but its config."""

    @classmethod
    def count_parameters(cls, config: dict) -> int:
        return 0


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
