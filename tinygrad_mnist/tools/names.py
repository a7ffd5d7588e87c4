"""Names for the tensors of a recorded graph, shared by the ledger (``explain``) and the drawings
(``graphviz``): parameters (W1, b1 or layers.0.weight), layer outputs z1, a1, ..., the input x,
the loss L; and the Linear layers of a model. Reads only the public node view
(``Tensor.node``); the graph itself is walked by ``autograd.walk``. Leaves out: formulas, drawing.
"""
from __future__ import annotations

import inspect
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from .. import ops
from ..autograd import forward_order, walk
from ..nn import Linear, Module, Sequential, Sigmoid
from ..tensor import Tensor


def traced_walk(tensor: Tensor, grad=None):
    """The backward pass of ``tensor`` run read-only (``autograd.walk`` with a trace, nothing
    freed, no ``.grad`` set): (visits in backward order, {leaf that requires grad: gradient},
    every tensor of the graph inputs first). ``grad`` is dL/d(tensor), ones by default."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"expected a Tensor, got {type(tensor).__name__}")
    if not tensor.requires_grad or tensor.is_leaf:
        raise ValueError("nothing to walk: this tensor was not computed by recorded ops from a tensor "
                         "with requires_grad=True (was it made under no_grad, or is it a leaf?)")
    if tensor.node.freed:
        raise RuntimeError(f"the graph through '{tensor.node.name}' was freed by backward(); explain the "
                           f"loss before calling loss.backward() (or call backward(retain_graph=True))")
    seed = np.ones(tensor.shape, dtype=tensor.dtype) if grad is None else np.asarray(grad, dtype=tensor.dtype)
    if seed.shape != tensor.shape:
        raise ValueError(f"grad has shape {seed.shape}, the tensor has {tensor.shape}")
    visits = []
    try:
        grads = walk(tensor, seed, trace=visits)
    except RuntimeError as e:  # freed deeper down: say what to do in a tool's words
        raise RuntimeError(f"{e}; explain the loss before calling loss.backward()") from None
    leaf_grads = {t: g for t, g in grads.items() if t.is_leaf}
    return visits, leaf_grads, forward_order(visits)


# ------------------------------------------------------------------ naming
def parameter_names(model: Optional[Module] = None, names=None, style: str = "textbook"
                    ) -> Tuple[Dict[Tensor, str], Dict[str, str]]:
    """({parameter tensor: display name}, {display name: module name}) for the ledger and graph.

    ``names``: a mapping name -> Tensor (``dict(model.named_parameters())``) or Tensor -> name;
    used as given. ``model``: its ``named_parameters()``; with style "textbook" the Linear
    layers' weights and biases are called W1, b1, W2, b2, ... in order (the module names go in
    the legend), with style "module" they keep their module names (``layers.0.weight``).
    """
    if style not in ("textbook", "module"):
        raise ValueError(f"style must be 'textbook' or 'module', got {style!r}")
    display: Dict[Tensor, str] = {}
    legend: Dict[str, str] = {}
    if names is not None:
        for k, v in dict(names).items():
            tensor, name = (v, k) if isinstance(v, Tensor) else (k, v)
            if not isinstance(tensor, Tensor) or not isinstance(name, str):
                raise TypeError("names must map str -> Tensor (or Tensor -> str), "
                                f"got {type(k).__name__} -> {type(v).__name__}")
            display[tensor] = name
    if model is not None:
        if not isinstance(model, Module):
            raise TypeError(f"model must be a tinygrad_mnist Module, got {type(model).__name__}")
        module_names = {p: n for n, p in model.named_parameters()}
        linears = _linear_layers(model)
        textbook = {}
        if style == "textbook" and linears:
            for l, layer in enumerate(linears, 1):
                textbook[layer.weight] = f"W{l}"
                textbook[layer.bias] = f"b{l}"
        for p, module_name in module_names.items():
            if p in display:
                continue
            name = textbook.get(p, module_name)
            display[p] = name
            legend[name] = module_name
    return display, legend


def _linear_layers(model: Module) -> List[Linear]:
    """The Linear layers of a model, first to last."""
    return [m for m in model.modules() if isinstance(m, Linear)]


def tensor_names(tensors: List[Tensor], params: Dict[Tensor, str], root: Tensor) -> Dict[Tensor, str]:
    """Names for every tensor of the graph: parameters as given; z1, a1, z2, ... for layer
    outputs and their activations; x for the network input; L for the root; else .name or t1, t2."""
    names: Dict[Tensor, str] = dict(params)
    taken = set(names.values())
    layer = 0
    for t in tensors:  # inputs first, so layers are numbered in forward order
        if t in names or t.is_leaf:
            continue
        parents = [p for p in t.node.inputs or () if p is not None]
        bias = [names.get(p, "") for p in parents if p in params]
        op = t.node.op
        if op is ops.linear or (op is ops.add and any(n.startswith("b") and n[1:].isdigit() for n in bias)):
            layer += 1
            for p in parents[:1] if layer == 1 else ():
                if p.is_leaf and p not in names and not p.requires_grad:
                    names[p] = p.name or "x"
            names[t] = t.name or _fresh(f"z{layer}", taken)
        elif getattr(op, "role", None) == "activation" and parents and names.get(parents[0], "").startswith("z"):
            names[t] = t.name or _fresh("a" + names[parents[0]][1:], taken)
        taken.add(names.get(t, ""))
    inputs = [t for t in tensors if t.is_leaf and not t.requires_grad and t not in names]
    if len(inputs) == 1 and "x" not in taken and "x" not in names.values():
        names[inputs[0]] = inputs[0].name or "x"
    if root not in names:
        names[root] = root.name or _fresh("L", taken)
        taken.add(names[root])
    k = 0
    for t in tensors:
        if t not in names:
            if t.name:
                names[t] = t.name
            else:
                k += 1
                while f"t{k}" in taken:
                    k += 1
                names[t] = f"t{k}"
            taken.add(names[t])
    return names


def _fresh(name: str, taken: set) -> str:
    if name not in taken:
        return name
    k = 2
    while f"{name}_{k}" in taken:
        k += 1
    return f"{name}_{k}"


# ------------------------------------------------------------------ ops
def constant_name(argname: str) -> str:
    """How a constant input (an array, not a Tensor) is shown: a loss's target as y, else const."""
    return "y" if argname == "target" else "const"


def input_names(fn: Optional[Callable], n: int) -> List[str]:
    """The names of ``fn``'s first ``n`` positional parameters (``linear`` -> x, W, b)."""
    if fn is None:
        return []
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return []
    return [p.name for p in params[:n] if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


# ------------------------------------------------------------------ models
def mlp_linears(model: Module, cost: str) -> List[Linear]:
    """The Linear layers of a sigmoid MLP that ``manual`` can recompute for ``cost``
    ("quadratic", "mse": sigmoid outputs; "cross_entropy": logits), or ValueError saying why not."""
    layers = model.layers if isinstance(model, Sequential) else [model]
    kinds = ["L" if isinstance(m, Linear) else "s" if isinstance(m, Sigmoid) else type(m).__name__ for m in layers]
    n = sum(k == "L" for k in kinds)
    expected = ["L", "s"] * (n - 1) + ["L"] + (["s"] if cost != "cross_entropy" else [])
    if kinds != expected:
        want = "sigmoid outputs (MLP(..., output='sigmoid'))" if cost != "cross_entropy" else \
            "raw logits (MLP(..., output=None))"
        other = sorted({k for k in kinds if k not in ("L", "s")})
        none = f": manual has no formula for {' or '.join(other)} layers, so there is nothing to check " \
               f"against" if other else ""
        raise ValueError(f"the hand-derived reference (tinygrad_mnist.manual) covers Linear layers with "
                         f"sigmoid hidden activations and, for this loss, {want}; got {model!r}{none}")
    return [m for m in layers if isinstance(m, Linear)]
