"""Dense networks: the initialisers (``INITS``), Linear, the activations, MLP, and
``predict_proba``. Weights are in the textbook's and PyTorch's orientation, W (n_out, n_in), so
a layer computes ``x @ W.T + b`` on a batch x (B, n_in). Leaves out: convolutions (``conv.py``).
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from .. import ops
from ..errors import ShapeError, fmt_shape
from ..tensor import DEFAULT_DTYPE, Tensor, no_grad
from .module import Module, RngLike, Sequential, _NoParameters, _positive_ints, training_mode


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
        shape = x.data.shape
        if not shape or shape[-1] != self.n_in:
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


# ------------------------------------------------------------------ inference
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
