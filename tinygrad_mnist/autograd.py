"""The graph and its one walk: grad modes (``no_grad``, ``detect_anomaly``), ``Node`` (what an op
leaves behind for backward, and the public read-only view tools use), and ``walk``, the single
reverse-topological pass that ``Tensor.backward`` and every tool (ledger, drawings) run.
Leaves out: Tensor itself and the ops (``tensor.py``, ``ops/``).
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from heapq import heappop, heappush
from typing import Callable, Dict, List, Optional

import numpy as np

from .errors import AnomalyError, ShapeError, fmt_shape
from .ops import summed_axes, unbroadcast


class _Modes:
    """The package's only mutable state, two switches: whether ops record a graph (``no_grad``)
    and whether every op checks its results for NaN/Inf (``detect_anomaly``)."""
    grad = True
    anomaly = False


mode = _Modes()
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class _Switch(contextlib.ContextDecorator):
    """Set one switch of ``mode`` inside a ``with`` block or a decorated function.

    The previous values live on a stack, not in one slot: a decorated function that recurses,
    or nested ``with`` on the same object, re-enters it and must restore each level.
    """

    _name: str
    _value: bool

    def __init__(self):
        self._prev = []

    def __enter__(self):
        self._prev.append(getattr(mode, self._name))
        setattr(mode, self._name, self._value)
        return self

    def __exit__(self, *exc):
        setattr(mode, self._name, self._prev.pop())
        return False


class no_grad(_Switch):
    """Context manager and decorator: ops inside it record no graph (for evaluation, updates).

    >>> with no_grad():
    ...     y = model(x)          # y.requires_grad is False, nothing is kept for backward
    """

    _name, _value = "grad", False


class detect_anomaly(_Switch):
    """Context manager and decorator: stop at the first op that produces NaN or Inf.

    Inside it, every op's forward output and every gradient its VJPs return during backward
    are checked; the AnomalyError names the op and the line of user code that created it.
    Costs a scan of every array, so use it to debug, not to train.

    >>> with detect_anomaly():
    ...     loss = model(x).softmax_cross_entropy(y)   # raises here if an op gives NaN/Inf
    ...     loss.backward()                            # ... or here, naming the op
    """

    _name, _value = "anomaly", True


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad``."""
    return mode.grad


def user_site() -> str:
    """'file:line in function' of the innermost caller outside this package."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "an unknown place"
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"


def bad_values(a) -> Optional[str]:
    """'NaN' / 'Inf' if a floating array holds one, else None."""
    a = np.asarray(a)
    if a.dtype.kind not in "fc" or np.isfinite(a).all():
        return None
    return "NaN" if np.isnan(a).any() else "Inf"


class Node:
    """What recording an op leaves on its output tensor (``tensor.node``; None for a leaf).

    ``op``: the op function itself (so tools find its formulas and role on it); ``inputs``: the
    op's positional inputs, a Tensor or None (a constant) each; ``vjps``: one per input (None
    where no gradient flows); ``depth``: 1 + the deepest input (leaves are 0), which orders the
    walk; ``site``: where user code called the op (under ``detect_anomaly``); ``retain``: keep
    ``.grad`` on this intermediate (``retain_grad``); ``versions``: for each parameter input,
    (index, its write counter, the count when the op used it), so backward can refuse a
    gradient computed from values changed in place since (None: no parameter input). After a
    backward without ``retain_graph``, ``inputs`` and ``vjps`` are None (``freed``). Tools
    read, never write.
    """

    __slots__ = ("op", "inputs", "vjps", "depth", "site", "retain", "versions")

    def __init__(self, op: Callable, inputs: tuple, vjps: tuple, depth: int, site: Optional[str],
                 versions: Optional[list] = None):
        self.op, self.inputs, self.vjps, self.depth, self.site = op, inputs, vjps, depth, site
        self.retain = False
        self.versions = versions

    @property
    def name(self) -> str:
        """The op's name (its function's ``__name__``)."""
        return getattr(self.op, "__name__", "op")

    @property
    def freed(self) -> bool:
        """True once a backward released this node's saved arrays."""
        return self.vjps is None

    def __repr__(self) -> str:
        return f"Node({self.name}, depth={self.depth}{', freed' if self.freed else ''})"


@dataclass
class Edge:
    """One VJP applied during a traced walk: the gradient a node sends to its input ``index``."""
    index: int
    parent: object            # the input Tensor
    raw_shape: tuple          # shape the VJP returned
    grad: np.ndarray          # after unbroadcast and the dtype cast: the input's shape
    summed_axes: tuple        # axes unbroadcast summed (empty when the shapes already matched)


@dataclass
class Visit:
    """One op in backward order: the tensor it made, the gradient arriving, the VJPs it applied."""
    tensor: object
    grad: np.ndarray
    edges: List[Edge]


def _stale_parameter(node: Node, i: int, counter, count: int) -> RuntimeError:
    """The error for an op whose saved parameter (input i) was changed in place since it ran."""
    p = node.inputs[i]
    what = f"'{p.name}' " if getattr(p, "name", None) else ""
    return RuntimeError(
        f"backward: input {i} of '{node.name}', the parameter {what}{fmt_shape(p.data.shape)}, was "
        f"modified in place after '{node.name}' used it (its data was written {counter.count - count} "
        f"time(s) since), so the gradient would be wrong; change parameters only after backward "
        f"(optimizer.step()), or run the forward pass again")


def _fit(r: np.ndarray, parent, node: Node, index: int) -> np.ndarray:
    """Sum a VJP result back to its input's shape, or name the op whose VJP got it wrong."""
    try:
        return unbroadcast(r, parent.data.shape)
    except ShapeError:
        raise ShapeError(f"{node.name}: its VJP for input {index} returned a gradient of shape "
                         f"{fmt_shape(r.shape)}, but that input has shape {fmt_shape(parent.data.shape)}") from None


def _conform(r, parent, node: Node, index: int) -> np.ndarray:
    """A VJP's result as an ndarray of its input's shape (summed back where the op broadcast
    it) and dtype."""
    r = np.asarray(r)
    pdata = parent.data
    if r.shape != pdata.shape:
        r = _fit(r, parent, node, index)
    if r.dtype != pdata.dtype:
        r = r.astype(pdata.dtype)
    return r


def _instrumented(r, parent, node: Node, index: int, anomaly: bool, edges: Optional[list]) -> np.ndarray:
    """``_conform`` under detect_anomaly (refuse NaN/Inf, naming the op) or a trace (record the
    Edge): the walk's slow path, with the hot path's arithmetic."""
    if anomaly:
        bad = bad_values(r)
        if bad:
            raise AnomalyError(node.name, "backward", f"{node.name}: backward gave a gradient "
                               f"with {bad} for input {index} {fmt_shape(parent.data.shape)}",
                               node.site or "a place not recorded (created outside detect_anomaly)")
    raw = np.shape(r)
    r = _conform(r, parent, node, index)
    if edges is not None:
        shape = parent.data.shape
        edges.append(Edge(index, parent, raw, r, summed_axes(raw, shape) if raw != shape else ()))
    return r


def walk(root, seed: np.ndarray, *, free: bool = False, trace: Optional[List[Visit]] = None) -> Dict[object, np.ndarray]:
    """THE backward pass: send ``seed`` = dL/d(root) back through ``root``'s recorded graph.

    Returns {tensor: dL/d(tensor)} for every leaf that requires grad and every intermediate
    whose node has ``retain`` set. ``free=True`` releases each visited node's saved arrays
    (backward without ``retain_graph``); ``trace``, a list, receives one ``Visit`` per op in
    backward order with every ``Edge`` (what the ledger and drawings show). Nothing else is
    changed: no ``.grad`` is written here.

    Order: every node's depth is 1 + the largest depth of its inputs, so each tensor is deeper
    than all of its inputs. Popping the deepest pending tensor first from a heap therefore
    visits a tensor only after every tensor that used it has sent its gradient back: a
    topological order, found in the same single pass, iteratively (a 100,000-op chain is fine).
    """
    anomaly = mode.anomaly
    instrumented = anomaly or trace is not None
    grads = {root: seed}      # pending gradients of recorded (non-leaf) tensors
    done = {}                 # finished gradients of leaves (and retained intermediates)
    heap = [(-root.node.depth, 0, root)]
    visited = []
    tiebreak = 0              # keeps the heap from ever comparing two Tensors
    while heap:
        t = heappop(heap)[2]
        node = t.node
        if node.vjps is None:
            raise RuntimeError(f"backward: the graph through '{node.name}' was freed by an earlier "
                               f"backward(); pass retain_graph=True to that call to backprop twice")
        if node.versions is not None:  # refuse a parameter changed in place since the op used it
            for i, counter, count in node.versions:
                if counter.count != count:
                    raise _stale_parameter(node, i, counter, count)
        visited.append(node)
        g = grads.pop(t)
        if node.retain:
            done[t] = g
        edges = [] if trace is not None else None
        for i, (parent, vjp) in enumerate(zip(node.inputs, node.vjps)):
            if vjp is None or parent is None or not parent.requires_grad:
                continue
            r = vjp(g)
            if instrumented:  # detect_anomaly or a trace: the same arithmetic, checked and recorded
                r = _instrumented(r, parent, node, i, anomaly, edges)
            elif type(r) is not np.ndarray or r.shape != parent.data.shape or r.dtype != parent.data.dtype:
                r = _conform(r, parent, node, i)
            if parent.node is None:  # a leaf: the chain rule ends here
                prev = done.get(parent)
                if prev is not None:
                    done[parent] = prev + r
                elif r.base is None and r is not g:
                    done[parent] = r
                else:
                    done[parent] = r.copy()  # .grad must own its memory: users clip it in place
            else:
                prev = grads.get(parent)
                if prev is not None:
                    grads[parent] = prev + r
                else:
                    grads[parent] = r
                    tiebreak += 1
                    heappush(heap, (-parent.node.depth, tiebreak, parent))
        if trace is not None:
            trace.append(Visit(t, g, edges))
    if free:
        for node in visited:
            node.inputs = node.vjps = None
    return done


def forward_order(visits: List[Visit]) -> list:
    """Every tensor of a traced walk's graph, inputs first: the ops in the reverse of the walk's
    order (a forward, topological order), each preceded by the inputs not listed yet (leaves,
    parameters, Tensors used as constants). Tools list a graph this way, so they see exactly
    the tensors backward visits and nothing walks the graph a second way."""
    order, seen = [], set()
    for visit in reversed(visits):
        for p in visit.tensor.node.inputs:
            if p is not None and p not in seen:
                seen.add(p)
                order.append(p)
        if visit.tensor not in seen:
            seen.add(visit.tensor)
            order.append(visit.tensor)
    return order
