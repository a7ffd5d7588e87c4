"""Networks from a line of text: ``build_arch("conv(6,5) relu maxpool(2) flatten linear(10)")``,
the layer-list grammar behind ``tinygrad-mnist train --arch``, and its named presets (``lenet``).
Input sizes are never written: each layer's is read off the output of the layers before it by a
dry forward pass of one zero sample. Leaves out: the layers themselves (``nn``) and training.

The grammar: layers separated by spaces, each a word with optional arguments in parentheses,
positional or ``name=value``; the arguments in brackets below may be left out.

    conv(channels, kernel[, stride, padding])   nn.Conv2d (its input channels are inferred)
    maxpool(kernel[, stride])                   nn.MaxPool2d (stride defaults to the kernel)
    avgpool(kernel[, stride])                   nn.AvgPool2d
    flatten                                     nn.Flatten(): (B, C, H, W) -> (B, C*H*W)
    linear(n_out)                               nn.Linear (its n_in is inferred)
    relu | sigmoid | tanh                       activations
    dropout(p)                                  nn.Dropout(p)
    reshape(C, H, W)                            nn.Unflatten(1, (C, H, W))

When the first layer needs images (conv, maxpool, avgpool) and the data are flat rows of a
square number of pixels (784 = 28x28), ``reshape(1, 28, 28)`` is put in front: an explicit
``Unflatten`` layer, shown in the model and saved with it.
"""
from __future__ import annotations

import math
import re
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .errors import ShapeError, fmt_shape
from .nn import (ACTIVATIONS, AvgPool2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, Module, Sequential,
                 Unflatten, training_mode)
from .tensor import DEFAULT_DTYPE, Tensor, no_grad

__all__ = ["build_arch", "parse_arch", "ArchError", "PRESETS", "WORDS", "Token"]

# LeNet-5 (LeCun et al. 1998) as it is usually written for 28x28 MNIST: the first convolution
# pads by 2, which gives the 32x32 input of the original, and ReLU and max-pooling replace its
# scaled tanh and trainable subsampling. 61,706 parameters.
PRESETS: Dict[str, str] = {
    "lenet": "conv(6,5,padding=2) relu maxpool(2) conv(16,5) relu maxpool(2) flatten "
             "linear(120) relu linear(84) relu linear(10)",
}


class ArchError(ValueError):
    """A layer list that cannot be parsed or built; the message names the token and its number."""


class Token(NamedTuple):
    """One layer of a spec: ``word`` ("conv"), ``args`` (positional values), ``kwargs``,
    ``text`` as written and ``index`` (1-based position in the spec)."""
    word: str
    args: tuple
    kwargs: dict
    text: str
    index: int


class _Word(NamedTuple):
    params: Tuple[str, ...]      # argument names, in positional order
    required: int                # how many of them must be given
    kinds: Tuple[type, ...]      # int or float, per argument
    needs: str                   # "images", "rows" or "any": what input the layer takes
    make: Callable               # (input shape without B, arguments dict, init, rng, dtype) -> Module


def _activation(name: str) -> _Word:
    return _Word((), 0, (), "any", lambda shape, a, init, rng, dtype: ACTIVATIONS[name]())


WORDS: Dict[str, _Word] = {
    "conv": _Word(("channels", "kernel", "stride", "padding"), 2, (int, int, int, int), "images",
                  lambda shape, a, init, rng, dtype: Conv2d(shape[0], a["channels"], a["kernel"],
                                                            stride=a.get("stride", 1),
                                                            padding=a.get("padding", 0),
                                                            init=init, rng=rng, dtype=dtype)),
    "maxpool": _Word(("kernel", "stride"), 1, (int, int), "images",
                     lambda shape, a, init, rng, dtype: MaxPool2d(a["kernel"], a.get("stride"))),
    "avgpool": _Word(("kernel", "stride"), 1, (int, int), "images",
                     lambda shape, a, init, rng, dtype: AvgPool2d(a["kernel"], a.get("stride"))),
    "flatten": _Word((), 0, (), "any", lambda shape, a, init, rng, dtype: Flatten()),
    "linear": _Word(("n_out",), 1, (int,), "rows",
                    lambda shape, a, init, rng, dtype: Linear(shape[0], a["n_out"], init=init, rng=rng,
                                                              dtype=dtype)),
    "dropout": _Word(("p",), 1, (float,), "any", lambda shape, a, init, rng, dtype: Dropout(a["p"], rng=rng)),
    "reshape": _Word(("channels", "height", "width"), 3, (int, int, int), "any",
                     lambda shape, a, init, rng, dtype: Unflatten(1, (a["channels"], a["height"], a["width"]))),
    "relu": _activation("relu"),
    "sigmoid": _activation("sigmoid"),
    "tanh": _activation("tanh"),
}

_TOKEN = re.compile(r"([A-Za-z_]\w*)(?:\(([^()]*)\))?(?=\s|$)")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _fail(token: Token, why: str) -> ArchError:
    return ArchError(f"layer {token.index} {token.text!r}: {why}")


def _value(text: str, kind: type, token: Token, name: str):
    if not _NUMBER.fullmatch(text):
        raise _fail(token, f"{name} must be a number, got {text!r}")
    if kind is int:
        if not re.fullmatch(r"[+-]?\d+", text):
            raise _fail(token, f"{name} must be a whole number, got {text!r}")
        return int(text)
    return float(text)


def parse_arch(spec: str) -> List[Token]:
    """The tokens of a layer list (see the module docstring), each checked against ``WORDS``:
    a known word, the right number and kind of arguments. A preset name is expanded first.
    Raises ArchError naming the token (its text and its 1-based position)."""
    if not isinstance(spec, str) or not spec.strip():
        raise ArchError("the layer list is empty; give layers such as 'conv(6,5) relu maxpool(2) flatten "
                        "linear(10)' or a preset (" + ", ".join(PRESETS) + ")")
    spec = PRESETS.get(spec.strip().lower(), spec)
    tokens: List[Token] = []
    pos = 0
    while True:
        while pos < len(spec) and spec[pos].isspace():
            pos += 1
        if pos == len(spec):
            break
        index = len(tokens) + 1
        m = _TOKEN.match(spec, pos)
        if m is None:
            rest = spec[pos:].split()[0]
            raise ArchError(f"layer {index} {rest!r}: expected a layer such as conv(6,5), relu or linear(10) "
                            f"(a word, then its arguments in parentheses, then a space)")
        pos = m.end()
        word, inner = m.group(1).lower(), m.group(2)
        token = Token(word, (), {}, m.group(0), index)
        if word not in WORDS:
            raise _fail(token, f"unknown layer {m.group(1)!r}; known: {', '.join(WORDS)} (or a preset: "
                               f"{', '.join(PRESETS)})")
        w = WORDS[word]
        parts = [p.strip() for p in inner.split(",")] if inner is not None and inner.strip() else []
        usage = f"{word}({', '.join(w.params[:w.required])}" + \
            "".join(f"[, {p}]" for p in w.params[w.required:]) + ")" if w.params else word
        if not w.params and inner is not None:
            raise _fail(token, f"{word} takes no arguments; write {word}")
        args, kwargs = [], {}
        for part in parts:
            name, eq, value = part.partition("=")
            if eq:
                name = name.strip()
                if name not in w.params:
                    raise _fail(token, f"{word} has no argument {name!r}; it takes {usage}")
                if name in kwargs or w.params.index(name) < len(args):
                    raise _fail(token, f"{name} is given twice")
                kwargs[name] = _value(value.strip(), w.kinds[w.params.index(name)], token, name)
            else:
                if kwargs:
                    raise _fail(token, f"positional argument {part!r} after a name=value one")
                if len(args) == len(w.params):
                    raise _fail(token, f"too many arguments; {word} takes {usage}")
                args.append(_value(part, w.kinds[len(args)], token, w.params[len(args)]))
        missing = [p for p in w.params[len(args):w.required] if p not in kwargs]
        if missing:
            raise _fail(token, f"missing {', '.join(missing)}; {word} takes {usage}")
        tokens.append(token._replace(args=tuple(args), kwargs=kwargs))
    return tokens


def _count(token: Token, shape: tuple, a: dict) -> Tuple[int, int]:
    """(parameters, values per sample of its output) of the token's layer, before allocating
    either; 0 where the layer's own checks will refuse the arguments, or it cannot grow."""
    if token.word == "conv" and a["kernel"] > 0 and a.get("stride", 1) > 0 and a.get("padding", 0) >= 0:
        k, s, p = a["kernel"], a.get("stride", 1), a.get("padding", 0)
        side = [max((n + 2 * p - k) // s + 1, 0) for n in shape[1:]]
        return a["channels"] * (shape[0] * k * k + 1), a["channels"] * side[0] * side[1]
    if token.word == "linear":
        return a["n_out"] * (int(np.prod(shape)) + 1), a["n_out"]
    return 0, 0


def build_arch(spec: str, input_shape: Sequence[int] = (784,), *, init: Optional[str] = None,
               seed=0, dtype=DEFAULT_DTYPE, max_parameters: Optional[int] = None,
               max_values: Optional[int] = None) -> Sequential:
    """The ``Sequential`` a layer list (or a preset name such as "lenet") describes, for
    samples of ``input_shape`` (without the batch axis: (784,) for MNIST rows, (1, 28, 28)
    for images). ``init``: one of ``nn.INITS`` for every Conv2d and Linear (None: "he", for
    ReLU networks); ``seed``: an int or numpy Generator for the weights and dropout masks.

    Each layer's input size comes from a dry forward pass of one zero sample through the
    layers before it. Raises ArchError naming the token for anything wrong: unknown words, bad
    arguments, a layer whose input does not fit (linear after conv without flatten, a kernel
    larger than what is left of the image), more than ``max_parameters`` parameters, or a layer
    whose output holds more than ``max_values`` numbers per sample (both checked before
    anything is allocated).
    """
    tokens = parse_arch(spec)
    rng = np.random.default_rng(seed)
    init = "he" if init is None else init
    shape = tuple(int(n) for n in input_shape)
    layers: List[Module] = []
    first = WORDS[tokens[0].word]
    if first.needs == "images" and len(shape) == 1:
        side = math.isqrt(shape[0])
        if side * side != shape[0]:
            raise _fail(tokens[0], f"needs images, but the samples are rows of {shape[0]} values, not a square "
                                   f"number of pixels; start the list with reshape(C,H,W)")
        layers.append(Unflatten(1, (1, side, side)))
        shape = (1, side, side)
    total = 0
    for token in tokens:
        w = WORDS[token.word]
        if w.needs == "images" and len(shape) != 3:
            raise _fail(token, f"needs images (C,H,W) but gets {_shape(shape)}; "
                               + ("put reshape(C,H,W) before it" if len(shape) == 1 else "check the layers before it"))
        if w.needs == "rows" and len(shape) != 1:
            raise _fail(token, f"needs flat rows but gets {_shape(shape)}; put flatten before it")
        a = dict(zip(w.params, token.args), **token.kwargs)
        params, values = _count(token, shape, a)
        total += params
        if max_parameters is not None and total > max_parameters:
            raise _fail(token, f"the network would have {total:,} parameters or more, more than the "
                               f"{max_parameters:,} allowed")
        if max_values is not None and values > max_values:
            raise _fail(token, f"would output {values:,} numbers per sample, more than the {max_values:,} "
                               f"allowed; use fewer channels or a larger stride")
        try:
            layer = w.make(shape, a, init, rng, dtype)
            with no_grad(), training_mode(layer, False):
                out = layer(Tensor(np.zeros((1,) + shape, dtype=dtype)))
        except (ShapeError, ValueError) as e:
            raise _fail(token, f"on input {_shape(shape)}: {e}") from None
        layers.append(layer)
        shape = out.shape[1:]
    return Sequential(*layers)


def _shape(shape: tuple) -> str:
    """A per-sample shape as text, with the batch axis: (B,16,4,4)."""
    return fmt_shape(("B",) + tuple(shape))
