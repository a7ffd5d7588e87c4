"""Reading a recorded graph: the backward pass walked read-only (``walk``), its tensors in
forward order, and their names (parameters W1, b1 or layers.0.weight; z1, a1, ... for layer
outputs; x; L), shared by the ledger (``explain``) and the drawings (``graph``).
Leaves out: formulas and rendering.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from heapq import heappop, heappush
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np

from . import ops
from .nn import Linear, Module, Sequential, Sigmoid
from .tensor import Tensor

# Ops whose output is called a^l when their input is z^l (an activation of a layer).
ACTIVATION_OPS = ("sigmoid", "tanh", "relu", "softmax", "log_softmax")


# ------------------------------------------------------------------ the backward walk
@dataclass
class Edge:
    """One VJP applied during the walk: the gradient ``node`` sends to its input ``index``."""
    index: int
    parent: Tensor
    raw_shape: tuple          # shape the VJP returned
    grad: np.ndarray          # after the engine's unbroadcast and dtype cast: parent's shape
    summed_axes: tuple        # axes unbroadcast summed (empty when the shapes already matched)


@dataclass
class Visit:
    """One op in backward order: the tensor it made, the gradient arriving, the VJPs it applied."""
    node: Tensor
    grad: np.ndarray
    edges: List[Edge]


def _broadcast_axes(raw_shape: tuple, shape: tuple) -> tuple:
    """The axes ``ops.unbroadcast`` sums to take a gradient of ``raw_shape`` to ``shape``."""
    extra = len(raw_shape) - len(shape)
    return tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape)
                                       if n == 1 and raw_shape[extra + i] != 1)


def walk(tensor: Tensor, grad=None) -> Tuple[List[Visit], Dict[Tensor, np.ndarray]]:
    """The backward pass of ``tensor``, computed without touching ``.grad`` or freeing the graph.

    Same order and arithmetic as ``Tensor.backward`` (deepest tensor first; each VJP's result
    summed back to its input's shape by ``ops.unbroadcast``, cast to its dtype, accumulated),
    so the gradients equal backward's. ``grad`` is dL/d(tensor), ones by default.
    Returns (visits in backward order, {leaf that requires grad: its gradient}).
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"expected a Tensor, got {type(tensor).__name__}")
    if not tensor.requires_grad or tensor.is_leaf:
        raise ValueError("nothing to walk: this tensor was not computed by recorded ops from a tensor "
                         "with requires_grad=True (was it made under no_grad, or is it a leaf?)")
    seed = np.ones(tensor.shape, dtype=tensor.dtype) if grad is None else np.asarray(grad, dtype=tensor.dtype)
    if seed.shape != tensor.shape:
        raise ValueError(f"grad has shape {seed.shape}, the tensor has {tensor.shape}")
    grads = {tensor: seed}
    leaf_grads: Dict[Tensor, np.ndarray] = {}
    heap, tiebreak, visits = [(-tensor._depth, 0, tensor)], 0, []
    while heap:
        node = heappop(heap)[2]
        if node._vjps is None:
            raise RuntimeError(f"the graph through '{node._op}' was freed by backward(); explain the loss "
                               f"before calling loss.backward() (or call backward(retain_graph=True))")
        g = grads.pop(node)
        edges = []
        for i, (parent, vjp) in enumerate(zip(node._parents, node._vjps)):
            if parent is None or vjp is None or not parent.requires_grad:
                continue
            r = np.asarray(vjp(g))
            raw, axes = r.shape, ()
            if r.shape != parent.shape:
                axes = _broadcast_axes(r.shape, parent.shape)
                r = ops.unbroadcast(r, parent.shape)
            r = r.astype(parent.dtype, copy=False)
            edges.append(Edge(i, parent, raw, r, axes))
            if parent.is_leaf:
                leaf_grads[parent] = r if parent not in leaf_grads else leaf_grads[parent] + r
            elif parent in grads:
                grads[parent] = grads[parent] + r
            else:
                grads[parent] = r
                tiebreak += 1
                heappush(heap, (-parent._depth, tiebreak, parent))
        visits.append(Visit(node, g, edges))
    return visits, leaf_grads


def graph_tensors(tensor: Tensor) -> List[Tensor]:
    """Every tensor of ``tensor``'s recorded graph (itself, ops' outputs, leaves), inputs first."""
    seen, order, stack = {tensor}, [], [(tensor, False)]
    while stack:  # iterative post-order: each tensor after its inputs, inputs in argument order
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
            continue
        stack.append((t, True))
        for p in reversed(t._parents or ()):
            if p is not None and p not in seen:
                seen.add(p)
                stack.append((p, False))
    return order


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
    """The Linear layers of a Linear or a (nested) Sequential, first to last."""
    if isinstance(model, Linear):
        return [model]
    out, stack = [], [model]
    while stack:
        m = stack.pop()
        if isinstance(m, Linear):
            out.append(m)
        elif isinstance(m, Sequential):
            stack.extend(reversed(m.layers))
    return out


def tensor_names(tensors: List[Tensor], params: Dict[Tensor, str], root: Tensor) -> Dict[Tensor, str]:
    """Names for every tensor of the graph: parameters as given; z1, a1, z2, ... for layer
    outputs and their activations; x for the network input; L for the root; else .name or t1, t2."""
    names: Dict[Tensor, str] = dict(params)
    taken = set(names.values())
    layer = 0
    for t in tensors:  # inputs first, so layers are numbered in forward order
        if t in names or t.is_leaf:
            continue
        parents = [p for p in t._parents or () if p is not None]
        bias = [names.get(p, "") for p in parents if p in params]
        if t._op == "linear" or (t._op == "add" and any(n.startswith("b") and n[1:].isdigit() for n in bias)):
            layer += 1
            for p in parents[:1] if layer == 1 else ():
                if p.is_leaf and p not in names and not p.requires_grad:
                    names[p] = p.name or "x"
            names[t] = t.name or _fresh(f"z{layer}", taken)
        elif t._op in ACTIVATION_OPS and parents and names.get(parents[0], "").startswith("z"):
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


# ------------------------------------------------------------------ ops by name
def constant_name(argname: str) -> str:
    """How a constant input (an array, not a Tensor) is shown: a loss's target as y, else const."""
    return "y" if argname == "target" else "const"


def op_function(name: str, extra: Mapping[str, Callable]) -> Optional[Callable]:
    """The op function a graph node names (nodes keep only the name): from ``extra`` (a user's
    ops by name), else ``tinygrad_mnist.ops``; None when unknown."""
    fn = extra.get(name)
    if fn is None:
        candidate = getattr(ops, name, None)
        fn = candidate if inspect.isfunction(candidate) and candidate.__name__ == name else None
    return fn


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
    ("quadratic": sigmoid outputs; "cross_entropy": logits), or ValueError saying why not."""
    layers = model.layers if isinstance(model, Sequential) else [model]
    kinds = ["L" if isinstance(m, Linear) else "s" if isinstance(m, Sigmoid) else type(m).__name__ for m in layers]
    n = sum(k == "L" for k in kinds)
    expected = ["L", "s"] * (n - 1) + ["L"] + (["s"] if cost == "quadratic" else [])
    if kinds != expected:
        want = "sigmoid outputs (MLP(..., output='sigmoid'))" if cost == "quadratic" else \
            "raw logits (MLP(..., output=None))"
        raise ValueError(f"the hand-derived reference (tinygrad_mnist.manual) covers Linear layers with "
                         f"sigmoid hidden activations and, for this loss, {want}; got {model!r}")
    return [m for m in layers if isinstance(m, Linear)]
