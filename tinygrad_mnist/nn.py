"""Layers built on Tensor: Module, Linear, activations, Sequential, MLP; initialisers; and
``predict_proba``. Re-exports the model file format (``save``, ``load``, ``ModelFileError``,
``ARCH_KEY``: ``serialize.py``) and ``atomic_file`` (``_files.py``), so ``nn.save`` keeps working.

Weights are in the textbook's and PyTorch's orientation, W (n_out, n_in), so a layer computes
``x @ W.T + b`` on a batch x (B, n_in). Leaves out: losses (``losses.py``), training (``train.py``).
"""
from __future__ import annotations

import os
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import ops
from ._files import atomic_file
from .errors import ShapeError
# serialize imports nothing from nn at import time (its docstring says why), so importing it here is safe
from .serialize import ARCH_KEY, ModelFileError, load, save
from .tensor import DEFAULT_DTYPE, Tensor, no_grad

__all__ = ["Module", "Linear", "Sigmoid", "Tanh", "ReLU", "Softmax", "Sequential", "MLP", "INITS",
           "ACTIVATIONS", "predict_proba", "save", "load", "ModelFileError", "ARCH_KEY", "atomic_file"]

RngLike = Union[None, int, np.random.Generator]


# ------------------------------------------------------------------ initialisers
def _init(name: str, n_in: int, n_out: int, rng: np.random.Generator, dtype) -> Tuple[np.ndarray, np.ndarray]:
    """Initial (W (n_out, n_in), b (n_out,)) for the named scheme; see ``INITS``."""
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
class Module:
    """Base class: a callable holding parameters (Tensors) and sub-modules as attributes.

    Subclasses define ``forward(x)`` and ``config()`` (the JSON-able arguments that rebuild
    them, used by ``save``/``load``).
    """

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

    def parameters(self) -> List[Tensor]:
        """Every parameter tensor, in a fixed order (what an optimizer takes)."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Forget every parameter's gradient."""
        for p in self.parameters():
            p.grad = None

    def config(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must define config() to be saved")

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write weights and architecture to ``path`` (.npz), atomically: a crash mid-save
        leaves any previous file at ``path`` intact."""
        save(self, path)


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
            raise ShapeError(f"{self!r} got input of shape {ops._fmt(x.shape)}; expected (B,{self.n_in}) "
                             f"(a batch of rows with {self.n_in} features each)")
        return Tensor.apply(ops.linear, x, self.weight, self.bias)

    def config(self) -> dict:
        return {"type": "Linear", "n_in": self.n_in, "n_out": self.n_out}

    def __repr__(self) -> str:
        return f"Linear({self.n_in}->{self.n_out})"


class _Activation(Module):
    """An elementwise function with no parameters."""

    def config(self) -> dict:
        return {"type": type(self).__name__}

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

    def __repr__(self) -> str:
        out = f", output={self.output!r}" if self.output else ""
        return f"MLP({'-'.join(map(str, self.sizes))}, activation={self.activation!r}{out})"


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
