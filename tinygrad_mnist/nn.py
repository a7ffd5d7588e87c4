"""Layers built on Tensor: Module, Linear, activations, Sequential, MLP; initialisers; save/load
(atomic writes via ``atomic_file``; ``load`` treats every file as hostile).

Weights are in the textbook's and PyTorch's orientation, W (n_out, n_in), so a layer computes
``x @ W.T + b`` on a batch x (B, n_in). Leaves out: losses (``losses.py``), training (``train.py``).
"""
from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
import tokenize
import zipfile
import zlib
from contextlib import contextmanager
from typing import IO, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import ops
from .errors import ShapeError
from .tensor import DEFAULT_DTYPE, Tensor, no_grad

RngLike = Union[None, int, np.random.Generator]


class ModelFileError(ValueError):
    """A saved model file is unreadable, incomplete, or does not match its architecture."""


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


# ------------------------------------------------------------------ save / load
def _build(config: dict, path: str) -> Module:
    """Rebuild a module from its config (weights set afterwards), naming the bad field if any."""
    if not isinstance(config, dict) or "type" not in config:
        raise ModelFileError(f"{path}: architecture must be a JSON object with a 'type' field")
    kind = config["type"]
    try:
        if kind == "MLP":
            return MLP(config["sizes"], activation=config.get("activation", "sigmoid"),
                       output=config.get("output"), seed=0)
        if kind == "Linear":
            return Linear(config["n_in"], config["n_out"], rng=0)
        if kind == "Sequential":
            return Sequential(*[_build(c, path) for c in config["layers"]])
        if kind in {cls.__name__ for cls in ACTIVATIONS.values()}:
            return next(cls for cls in ACTIVATIONS.values() if cls.__name__ == kind)()
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{path}: architecture field of {kind!r} is invalid: {e}") from None
    raise ModelFileError(f"{path}: unknown layer type {kind!r} in the architecture")


ARCH_KEY = "__architecture__"


@contextmanager
def atomic_file(path: Union[str, os.PathLike], mode: str = "wb", suffix: str = "") -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; when the ``with`` body finishes, the
    file is flushed to disk and renamed over ``path`` (atomic, being in the same directory).

    On any failure, Ctrl-C included, the temporary file is removed and ``path`` is untouched:
    an interrupted write never destroys the previous file. The new file gets the permissions
    any new file would (``0o666`` less the umask), not ``mkstemp``'s private ``0o600``.
    """
    path = os.fspath(path)
    if os.path.lexists(path) and not (os.path.isfile(path) or os.path.isdir(path)):
        # renaming over /dev/null or a pipe would replace it, not write into it
        raise FileExistsError(errno.EEXIST, "exists and is not a regular file; refusing to replace it", path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-", suffix=suffix)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0o022)  # the umask can only be read by setting it
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def save(model: Module, path: Union[str, os.PathLike]) -> None:
    """Write ``model``'s parameters (by dotted name) and its architecture (JSON) to a .npz file.

    Atomic (``atomic_file``): the archive is written to a temporary file in the same directory
    and renamed over ``path``, so an interrupted save never destroys a previous model.
    """
    arrays = {name: p.data for name, p in model.named_parameters()}
    arrays[ARCH_KEY] = np.array(json.dumps(model.config()))
    with atomic_file(path, "wb", suffix=".npz") as f:
        np.savez(f, **arrays)


# Limits that only stop hostile files: a saved 784-128-128-10 float32 model is 0.5 MB, 4 layers
# and one level of nesting.
MAX_MODEL_BYTES = 1 << 30
MAX_LAYERS = 10_000
MAX_NESTING = 100


def _count_params(config, path: str) -> int:
    """How many numbers the architecture in ``config`` holds, computed without building it.

    Walks nested Sequentials with an explicit stack (a hostile file may nest thousands deep)
    and refuses more than MAX_LAYERS layers or nesting deeper than MAX_NESTING.
    """
    def sizes(*values):
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
            raise ModelFileError(f"{path}: architecture sizes must be positive integers, got {list(values)}")
        return values
    total, layers, stack = 0, 0, [(config, 0)]
    while stack:
        config, depth = stack.pop()
        kind = config.get("type") if isinstance(config, dict) else None
        children = config.get("layers") if kind == "Sequential" else None
        mlp_sizes = config.get("sizes") if kind == "MLP" else None
        layers += 1 + (len(children) if isinstance(children, list) else 0) \
            + (len(mlp_sizes) if isinstance(mlp_sizes, list) else 0)
        if layers > MAX_LAYERS or depth > MAX_NESTING:
            raise ModelFileError(f"{path}: the architecture has more than {MAX_LAYERS} layers or nests "
                                 f"deeper than {MAX_NESTING}; refusing to build it")
        if isinstance(mlp_sizes, list) and len(mlp_sizes) >= 2:
            s = sizes(*mlp_sizes)
            total += sum(n_in * n_out + n_out for n_in, n_out in zip(s[:-1], s[1:]))
        elif kind == "Linear":
            n_in, n_out = sizes(config.get("n_in"), config.get("n_out"))
            total += n_in * n_out + n_out
        elif isinstance(children, list):
            stack.extend((c, depth + 1) for c in children)
    return total  # activations hold nothing; anything malformed is reported by _build


# What reading a zip archive can raise besides OSError/ValueError: a bad CRC, corrupt deflate
# data, a stream cut short, an unsupported compression method, an encrypted entry; and
# NumPy's .npy header parser lets a garbled header escape as a SyntaxError or TokenError.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
               SyntaxError, tokenize.TokenError)


def _check_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> None:
    """Read one entry's .npy header (not its data) and refuse what np.load should never see:
    something other than an array, Python objects (pickle), or a shape the entry cannot hold
    (a hostile header claiming 10**12 numbers would make NumPy allocate them up front)."""
    name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
    if not info.filename.endswith(".npy"):
        raise ModelFileError(f"{path}: entry {info.filename!r} is not a .npy array")
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ModelFileError(f"{path}: array {name!r} uses .npy format {version}, expected 1.0 or 2.0")
        header = f.tell()
    if dtype.hasobject:
        raise ModelFileError(f"{path}: array {name!r} holds Python objects (dtype {dtype}), which "
                             f"cannot be read without pickle; refusing it")
    needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if needed != info.file_size - header:
        raise ModelFileError(f"{path}: array {name!r} claims shape {shape} ({needed} bytes) but the "
                             f"archive holds {info.file_size - header} bytes of it")


def load(path: Union[str, os.PathLike]) -> Module:
    """Read a model written by ``save``: checks the archive, rebuilds the architecture, sets the weights.

    Arrays are read with ``allow_pickle=False``. A file that is not a .npz archive, an entry
    whose .npy header claims Python objects or more bytes than it holds, an architecture that
    claims more numbers than the file holds or absurd nesting (all checked before anything is
    allocated), a missing, extra, mis-shaped, non-float or non-finite array, raise
    ModelFileError. A missing path raises FileNotFoundError, a directory IsADirectoryError.
    """
    path = os.fspath(path)
    mode = os.stat(path).st_mode  # FileNotFoundError passes through as itself
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # a directory: open() says so below
        raise ModelFileError(f"{path}: not a regular file (a pipe or a device?); expected a .npz model file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ModelFileError(f"{path}: not a readable .npz model file (no zip archive signature)")
    try:
        with zipfile.ZipFile(path) as zf:
            claimed = sum(info.file_size for info in zf.infolist())
            if claimed > MAX_MODEL_BYTES:
                raise ModelFileError(f"{path}: the archive unpacks to {claimed} bytes, more than the "
                                     f"{MAX_MODEL_BYTES} a model may hold")
            for info in zf.infolist():
                _check_entry(zf, info, path)
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) + _ZIP_ERRORS as e:
        if isinstance(e, ModelFileError):
            raise
        raise ModelFileError(f"{path}: not a readable .npz model file ({e})") from None
    with archive:
        names = set(archive.files)
        if ARCH_KEY not in names:
            raise ModelFileError(f"{path}: no {ARCH_KEY} entry; was it written by tinygrad_mnist's save()?")
        try:
            config = json.loads(str(archive[ARCH_KEY]))
        except RecursionError:
            raise ModelFileError(f"{path}: {ARCH_KEY} nests too deeply to be an architecture") from None
        except (ValueError, TypeError) + _ZIP_ERRORS as e:
            raise ModelFileError(f"{path}: {ARCH_KEY} is not valid JSON ({e})") from None
        arrays = {}
        for name in names - {ARCH_KEY}:
            try:
                arrays[name] = archive[name]
            except (ValueError, OSError) + _ZIP_ERRORS as e:
                raise ModelFileError(f"{path}: array {name!r} cannot be read ({e})") from None
    # Building allocates what the architecture claims: refuse claims far beyond what the file
    # holds (a hostile [100000, 100000] would be 40 GB); near misses get the precise checks below.
    held = sum(a.size for a in arrays.values())
    claimed = _count_params(config, path)
    if claimed > max(4 * held, 1 << 20):
        raise ModelFileError(f"{path}: the architecture needs {claimed} numbers but the file holds {held}; "
                             f"was it saved by a different architecture?")
    model = _build(config, path)
    expected = dict(model.named_parameters())
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        raise ModelFileError(f"{path}: arrays do not match the architecture: missing {missing or 'none'}, "
                             f"unexpected {extra or 'none'}")
    for name, param in expected.items():
        arr = arrays[name]
        if arr.shape != param.shape:
            raise ModelFileError(f"{path}: array {name!r} has shape {arr.shape}, the architecture "
                                 f"needs {param.shape}")
        if arr.dtype.kind != "f":
            raise ModelFileError(f"{path}: array {name!r} has dtype {arr.dtype}, expected floats")
        if not np.isfinite(arr).all():
            raise ModelFileError(f"{path}: array {name!r} contains NaN or Inf; the model was saved "
                                 f"after its training diverged")
        param.data = arr.copy()
    return model


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
