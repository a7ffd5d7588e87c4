"""The learner's weights and biases inside their own objects: a Nielsen ``Network`` (lists
``weights``, ``biases``), StackOverflow ``Layer`` objects (``layers[i].weights``), attributes
``W1``, ``b1``, or a plain list of arrays, found by name and shape, read and written in the
learner's own layout. Leaves out: what is done with them (``learner.py``).
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

_WEIGHT_NAME = re.compile(r"(?i)^w(\d+|_\w+)?$|weight|kernel|^w(ih|ho|hh)$|^theta\d*$")
_BIAS_NAME = re.compile(r"(?i)^b(\d+|_\w+)?$|bias")
_NOT_A_PARAMETER = re.compile(r"(?i)input|output|activation|delta|error|grad|nabla|^[zaxy]\d*$|cache|data")
_MAX_LIST = 64     # longer lists hold data, not layers
_MAX_DEPTH = 4     # network -> layers -> layer -> weights is 3


# ------------------------------------------------------------------ the learner's parameters
@dataclass(frozen=True)
class Slot:
    """Where one parameter lives in the learner's object: a path of attribute names, keys and
    list indices from the object, e.g. ("layers", 0, "weights") for ``net.layers[0].weights``."""
    path: Tuple

    @property
    def name(self) -> str:
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else f".{part}"
        return out.lstrip(".") or "the array"


@dataclass
class Parameters:
    """The learner's weights and biases: one ``Slot`` of each per layer, first layer first,
    read from (and written to) ``root`` afresh each time, so code that rebinds its lists
    (``self.weights = [...]``) is followed. ``rows``: weights stored (n_in, n_out)."""
    root: object
    weights: List[Slot]
    biases: List[Slot]
    rows: bool

    def get(self, slot: Slot) -> np.ndarray:
        obj = self.root
        for part in slot.path:
            obj = obj[part] if isinstance(part, int) or isinstance(obj, dict) else getattr(obj, part)
        return obj

    def read(self) -> Tuple[List[np.ndarray], List[np.ndarray]]:
        """Float64 copies of the weights and biases, in the learner's layout."""
        try:
            return ([np.array(self.get(s), dtype=np.float64) for s in self.weights],
                    [np.array(self.get(s), dtype=np.float64) for s in self.biases])
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as e:
            raise ValueError(f"the learner's parameters moved: {e}") from None

    def write(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> None:
        """Set the parameters (learner's layout), in place where the array allows it, so any
        other reference the learner's code keeps to it sees the new values too."""
        for slot, value in zip(self.weights + self.biases, list(weights) + list(biases)):
            current = self.get(slot)
            value = np.asarray(value, dtype=np.float64).reshape(np.shape(current))
            if isinstance(current, np.ndarray) and current.flags.writeable and current.dtype.kind == "f":
                current[...] = value
                continue
            container = self.root
            for part in slot.path[:-1]:
                container = container[part] if isinstance(part, int) or isinstance(container, dict) \
                    else getattr(container, part)
            key = slot.path[-1] if slot.path else None
            if key is None:
                raise ValueError("the parameter arrays must be writable float arrays to be set in place")
            if isinstance(container, (list, dict)):
                container[key] = value.copy()
            elif isinstance(container, tuple):
                raise ValueError(f"{slot.name} sits in a tuple and is not a writable float array: cannot set it")
            else:
                setattr(container, key, value.copy())

    def from_engine(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> None:
        """Set the parameters to the engine's (column form W (n_out, n_in), b (n_out,))."""
        self.write([W.T if self.rows else W for W in weights], biases)

    def describe(self) -> str:
        shapes = [f"{s.name} {tuple(np.shape(self.get(s)))}" for s in self.weights + self.biases]
        return ", ".join(shapes)


def find_parameters(obj, sizes: Sequence[int]) -> Parameters:
    """The weights and biases of a ``sizes`` network (e.g. [784, 30, 10]) inside ``obj``: a
    network object (attributes, lists of layers, layer objects, dicts), or a list of arrays.

    A weight of layer l is a float matrix (n_out, n_in) or (n_in, n_out); a bias holds n_out
    numbers as (n,), (n,1) or (1,n). Arrays named like them (weights, W1, w_ih, biases, b1, ...)
    are taken first, in the order they are found; unnamed ones (a plain list) only when the
    named ones do not cover every layer, and never a cached input, output or delta. Raises
    ValueError saying what was found when a layer has no weight or bias.
    """
    found = _arrays(obj)
    layers = list(zip(sizes[:-1], sizes[1:]))
    for named_only in (True, False):
        used, weights, biases = set(), [], []
        for n_in, n_out in layers:
            w = _pick(found, used, named_only, _WEIGHT_NAME, _BIAS_NAME,
                      lambda a: a.ndim == 2 and a.shape in ((n_out, n_in), (n_in, n_out)))
            b = _pick(found, used, named_only, _BIAS_NAME, _WEIGHT_NAME,
                      lambda a: a.ndim <= 2 and a.size == n_out and sum(d != 1 for d in a.shape) <= 1)
            if w is None or b is None:
                break
            weights.append(w)
            biases.append(b)
        else:
            rows = _orientation(obj, weights, layers)
            return Parameters(obj, weights, biases, rows)
    seen = ", ".join(f"{Slot(p).name} {tuple(a.shape)}" for p, a in found[:12]) or "no float arrays"
    need = ", ".join(f"({o},{i}) or ({i},{o}) and {o} biases" for i, o in layers)
    raise ValueError(f"could not find the weights and biases of a {'-'.join(map(str, sizes))} network in "
                     f"{type(obj).__name__}: each layer needs a weight {need.split(', ')[0]}, ...; "
                     f"found {seen}. Name them weights/biases (or W1, b1, ...), or pass the sizes "
                     f"your network has")


def _arrays(obj) -> List[Tuple[Tuple, np.ndarray]]:
    """(path, array) for every float array reachable from ``obj``, breadth first."""
    out, seen = [], set()
    todo = [((), obj)]
    while todo:
        path, value = todo.pop(0)
        if id(value) in seen or len(path) > _MAX_DEPTH:
            continue
        seen.add(id(value))
        if isinstance(value, np.ndarray):
            if value.dtype.kind == "f" and value.ndim in (1, 2):
                out.append((path, value))
        elif isinstance(value, (list, tuple)):
            if len(value) <= _MAX_LIST:
                todo.extend((path + (i,), item) for i, item in enumerate(value))
        elif isinstance(value, dict):
            todo.extend((path + (k,), v) for k, v in value.items() if isinstance(k, str))
        elif hasattr(value, "__dict__") and not (inspect.ismodule(value) or inspect.isclass(value)
                                                  or inspect.isroutine(value)):
            todo.extend((path + (k,), v) for k, v in vars(value).items())
    return out


def _name(path: Tuple) -> str:
    return next((p for p in reversed(path) if isinstance(p, str)), "")


def _pick(found, used, named_only, want, other, fits) -> Optional[Slot]:
    for path, array in found:
        name = _name(path)
        if path in used or not fits(array) or other.search(name) and not want.search(name):
            continue
        if want.search(name) or (not named_only and not _NOT_A_PARAMETER.search(name)):
            used.add(path)
            return Slot(path)
    return None


def _orientation(obj, weights: List[Slot], layers) -> bool:
    probe = Parameters(obj, weights, [], False)
    votes = {probe.get(s).shape == (n_in, n_out) for s, (n_in, n_out) in zip(weights, layers) if n_in != n_out}
    if len(votes) > 1:
        raise ValueError("the weights are stored in both orientations, some (n_out, n_in) and some (n_in, n_out); "
                         "store them all one way")
    return votes == {True}   # all square: read as (n_out, n_in), the book's way
