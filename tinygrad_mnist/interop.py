"""PyTorch interop: ``to_torch(model)`` builds the equivalent ``torch.nn.Sequential`` holding the
same weights, ``from_torch(module)`` the engine's model of a torch one, so a learner who
outgrows the engine carries a trained network to PyTorch (and back) and gets the same outputs
and gradients. The weights travel through ``state_dict``, whose keys and layouts are PyTorch's.
torch is imported only when these are called: it is not a dependency (``pip install torch``,
or the ``torch`` extra). Leaves out: optimizer state, and layers with no counterpart on the
other side (the error names the layer and lists the ones that convert).
"""
from __future__ import annotations

from typing import Callable, Dict, List, Tuple

import numpy as np

from .nn import (AvgPool2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential, Sigmoid,
                 Softmax, Tanh, Unflatten)

__all__ = ["to_torch", "from_torch"]

_FLOATS = ("float32", "float64")


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("interop needs PyTorch, which tinygrad_mnist does not install by itself: "
                          "pip install torch (a CPU build: add --index-url "
                          "https://download.pytorch.org/whl/cpu), or the torch extra") from None
    return torch


# ------------------------------------------------------------------ engine -> torch
def _linear_to_torch(torch, layer: Linear, where: str):
    dtype = getattr(torch, str(layer.weight.dtype))
    return torch.nn.Linear(layer.n_in, layer.n_out, bias=True, dtype=dtype)


def _conv_to_torch(torch, layer: Conv2d, where: str):
    dtype = getattr(torch, str(layer.weight.dtype))
    return torch.nn.Conv2d(layer.c_in, layer.c_out, layer.kernel, stride=layer.stride, padding=layer.padding,
                           bias=True, dtype=dtype)


def _sequential_to_torch(torch, layer: Sequential, where: str):
    return torch.nn.Sequential(*[_to_torch(torch, child, f"{where}{i}.") for i, child in enumerate(layer.layers)])


# engine layer type -> builder of the torch layer (weights are loaded afterwards, by state_dict);
# a subclass (MLP is a Sequential) converts as its base
_TO_TORCH: Dict[type, Callable] = {
    Sequential: _sequential_to_torch,
    Linear: _linear_to_torch,
    Sigmoid: lambda torch, layer, where: torch.nn.Sigmoid(),
    Tanh: lambda torch, layer, where: torch.nn.Tanh(),
    ReLU: lambda torch, layer, where: torch.nn.ReLU(),
    Softmax: lambda torch, layer, where: torch.nn.Softmax(dim=-1),
    Conv2d: _conv_to_torch,
    MaxPool2d: lambda torch, layer, where: torch.nn.MaxPool2d(layer.kernel, stride=layer.stride),
    AvgPool2d: lambda torch, layer, where: torch.nn.AvgPool2d(layer.kernel, stride=layer.stride),
    Flatten: lambda torch, layer, where: torch.nn.Flatten(layer.start_dim, layer.end_dim),
    Unflatten: lambda torch, layer, where: torch.nn.Unflatten(layer.dim, layer.unflattened_size),
    Dropout: lambda torch, layer, where: torch.nn.Dropout(layer.p),
}


def _to_torch(torch, layer: Module, where: str):
    for kind in type(layer).__mro__:
        if kind in _TO_TORCH:
            return _TO_TORCH[kind](torch, layer, where)
    raise TypeError(f"to_torch: layer {where.rstrip('.') or 'model'} ({layer!r}, a {type(layer).__name__}) "
                    f"has no PyTorch counterpart here; these convert: "
                    f"{', '.join(k.__name__ for k in _TO_TORCH)}")


def to_torch(model: Module):
    """The ``torch.nn.Module`` that computes what ``model`` computes, with copies of its weights.

    A Sequential (an MLP too) becomes a ``torch.nn.Sequential`` of the same layers at the same
    indices: Linear -> ``torch.nn.Linear`` (weight (n_out, n_in), bias (n_out,), the dtype of
    the engine's weights), Conv2d (weight (c_out, c_in, kH, kW), the same stride and padding),
    MaxPool2d, AvgPool2d, Flatten, Unflatten, Dropout, Sigmoid, Tanh, ReLU -> their torch
    namesakes, Softmax -> ``torch.nn.Softmax(dim=-1)``. The module is in the model's mode
    (``training``: Dropout active or not). So ``to_torch(model).state_dict()`` has the keys of
    ``model.state_dict()`` (``0.weight``, ``0.bias``, ``2.weight``, ...). Raises TypeError naming
    the first layer that has no counterpart, ImportError when torch is not installed.
    """
    torch = _torch()
    module = _to_torch(torch, model, "")
    state = model.state_dict()
    module.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    return module.train(getattr(model, "training", True))


# ------------------------------------------------------------------ torch -> engine
def _from_linear(torch, layer, where: str) -> Module:
    if layer.bias is None:
        raise TypeError(f"from_torch: layer {where} ({layer!r}) has no bias; the engine's Linear always "
                        f"has one (add a zero bias: torch.nn.Linear(..., bias=True) with bias.data.zero_())")
    dtype = str(layer.weight.dtype).replace("torch.", "")
    if dtype not in _FLOATS:
        raise TypeError(f"from_torch: layer {where} ({layer!r}) holds {dtype} weights; convert the model "
                        f"with .float() (float32) or .double() first")
    return Linear(layer.in_features, layer.out_features, rng=0, dtype=np.dtype(dtype))


def _from_conv(torch, layer, where: str) -> Module:
    unsupported = [f"{name}={value}" for name, value, plain in (
        ("bias", layer.bias is None, False), ("dilation", layer.dilation, (1, 1)), ("groups", layer.groups, 1),
        ("padding_mode", layer.padding_mode, "zeros")) if value != plain]
    if unsupported or isinstance(layer.padding, str):
        raise TypeError(f"from_torch: layer {where} ({layer!r}) uses {', '.join(unsupported) or 'string padding'}; "
                        f"the engine's Conv2d has a bias, no dilation or groups, and zero padding of given sizes")
    return Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride,
                  padding=layer.padding, rng=0, dtype=np.dtype(str(layer.weight.dtype).replace("torch.", "")))


def _from_pool(cls):
    def build(torch, layer, where: str) -> Module:
        extras = [name for name in ("padding", "dilation", "ceil_mode") if getattr(layer, name, 0) not in (0, 1, False)]
        if extras or getattr(layer, "count_include_pad", True) is False:
            raise TypeError(f"from_torch: layer {where} ({layer!r}) uses {', '.join(extras) or 'count_include_pad'}; "
                            f"the engine's {cls.__name__} pools without padding, dilation or ceil_mode")
        return cls(layer.kernel_size, stride=layer.stride)
    return build


def _from_softmax(torch, layer, where: str) -> Module:
    if layer.dim not in (-1, 1):
        raise TypeError(f"from_torch: layer {where} ({layer!r}) normalises over dim {layer.dim}; the engine's "
                        f"Softmax works over the last axis of a (B, C) batch (dim=-1 or dim=1)")
    return Softmax()


def _from_torch_table(torch) -> List[Tuple[type, Callable]]:
    nn = torch.nn
    return [
        (nn.Sequential, lambda torch, m, where: Sequential(
            *[_from_torch(torch, child, f"{where}.{i}" if where else str(i)) for i, child in enumerate(m)])),
        (nn.Linear, _from_linear),
        (nn.Sigmoid, lambda torch, m, where: Sigmoid()),
        (nn.Tanh, lambda torch, m, where: Tanh()),
        (nn.ReLU, lambda torch, m, where: ReLU()),
        (nn.Softmax, _from_softmax),
        (nn.Conv2d, _from_conv),
        (nn.MaxPool2d, _from_pool(MaxPool2d)),
        (nn.AvgPool2d, _from_pool(AvgPool2d)),
        (nn.Flatten, lambda torch, m, where: Flatten(m.start_dim, m.end_dim)),
        (nn.Unflatten, lambda torch, m, where: Unflatten(m.dim, tuple(m.unflattened_size))),
        (nn.Dropout, lambda torch, m, where: Dropout(m.p)),
    ]


def _from_torch(torch, module, where: str) -> Module:
    table = _from_torch_table(torch)
    for kind, build in table:
        if type(module) is kind:
            return build(torch, module, where)
    raise TypeError(f"from_torch: layer {where or 'model'} ({module!r}, a torch.nn.{type(module).__name__}) has "
                    f"no tinygrad_mnist equivalent; these convert: "
                    f"{', '.join(kind.__name__ for kind, _ in table)}")


def from_torch(module) -> Module:
    """The engine's model of a ``torch.nn.Module`` built from the layers ``to_torch`` makes:
    ``torch.nn.Sequential`` (nested ones too) -> ``Sequential``, ``torch.nn.Linear`` (with a
    bias, float32 or float64) -> ``Linear``, ``Conv2d`` (with a bias, zero padding, no dilation
    or groups), MaxPool2d, AvgPool2d, Flatten, Unflatten, Dropout, Sigmoid, Tanh, ReLU,
    ``Softmax(dim=-1)``; the weights are copied through ``state_dict``. Raises TypeError naming
    the first layer that has no equivalent (a BatchNorm, a custom module: convert what you can
    by hand).
    """
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch: expected a torch.nn.Module, got {type(module).__name__}")
    model = _from_torch(torch, module, "")
    model.load_state_dict(module.state_dict(), strict=True)
    return model
