"""The shape ledger: the backward pass of a loss, one op at a time, each VJP written out as a
formula with the actual shapes (``dL/dW2 (10,30) = dL/dz2.T (10,B) @ a1 (B,30)``).

Formulas come from the templates each op declares beside its VJP in ``ops.py`` (see
``explain``); the numbers come from calling the graph's own VJPs, read-only. Leaves out:
drawing the graph (``graph.py``) and judging a learner's gradients (``diagnose.py``).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from heapq import heappop, heappush
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

import numpy as np

from . import manual
from . import ops as builtin_ops
from .nn import Linear, Module, Sequential, Sigmoid
from .tensor import Tensor

# Ops whose output is called a^l when their input is z^l (an activation of a layer).
ACTIVATION_OPS = ("sigmoid", "tanh", "relu", "softmax", "log_softmax")
# The fused losses ``check=True`` can recompute with ``manual`` (engine op -> manual's cost).
MANUAL_COSTS = {"quadratic_cost": "quadratic", "softmax_cross_entropy": "cross_entropy"}

TEXTBOOK = """\
Textbook form (Nielsen, ch. 2): every sample is a column, so a batch (B,n) is shown as (n,B).
  BP1  delta^L = (a^L - y) * s'(z^L)          [softmax + cross-entropy: delta^L = a^L - y]
  BP2  delta^l = ((W^(l+1))^T delta^(l+1)) * s'(z^l)
  BP3  dC/db^l = delta^l, summed over the B columns
  BP4  dC/dW^l = delta^l (a^(l-1))^T
  C is the MEAN cost over the batch, so delta^L carries a factor 1/B."""


# ------------------------------------------------------------------ the read-only backward walk
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
        raise ValueError("nothing to explain: this tensor was not computed by recorded ops from a tensor "
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
            axes = ()
            if r.shape != parent.shape:
                axes = _broadcast_axes(r.shape, parent.shape)
                raw = r.shape
                r = builtin_ops.unbroadcast(r, parent.shape)
            else:
                raw = r.shape
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


def _tensor_names(tensors: List[Tensor], params: Dict[Tensor, str], root: Tensor) -> Dict[Tensor, str]:
    """Names for every tensor of the graph: parameters as given; z1, a1, z2, ... for layer
    outputs and their activations; x for the network input; L for the root; else .name or t1, t2."""
    names: Dict[Tensor, str] = dict(params)
    taken = set(names.values())
    layer = 0
    for t in tensors:  # inputs first, so layers are numbered in forward order
        if t in names or t._op is None:
            continue
        parents = [p for p in t._parents or () if p is not None]
        bias = [names.get(p, "") for p in parents if p in params]
        if t._op == "linear" or (t._op == "add" and any(n.startswith("b") and n[1:].isdigit() for n in bias)):
            layer += 1
            for p in parents[:1] if layer == 1 else ():
                if p._op is None and p not in names and not p.requires_grad:
                    names[p] = p.name or "x"
            names[t] = t.name or _fresh(f"z{layer}", taken)
        elif t._op in ACTIVATION_OPS and parents and names.get(parents[0], "").startswith("z"):
            names[t] = t.name or _fresh("a" + names[parents[0]][1:], taken)
        taken.add(names.get(t, ""))
    inputs = [t for t in tensors if t._op is None and not t.requires_grad and t not in names]
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


# ------------------------------------------------------------------ terms: what a template names
def _textbook(name: str) -> str:
    """z1 -> z^1, W12 -> W^12 (column form's superscripts); other names unchanged."""
    if len(name) >= 2 and name[0] in "zaWb" and name[1:].isdigit():
        return f"{name[0]}^{name[1:]}"
    return name


def _shape_text(dims: Tuple) -> str:
    return "(" + ",".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"


class Term:
    """A named array in a formula template; ``format(term)`` is ``name (shape)``.

    Template fields: ``{g}`` the incoming gradient, ``{y}`` the op's output, and each input by
    the op's parameter name (``{x}``, ``{W}``, ...) or position (``{0}``, ``{1}``). Attributes:
    ``.name``, ``.shape`` (text), ``.T`` (the transpose), ``.summed_over_batch`` (the sum that
    undoes a bias's broadcast over the batch), ``.scale`` ("" for backward's seed 1, else
    "dL/dt * "): e.g. ``"{g.T} @ {x}"`` renders ``dL/dz2.T (10,B) @ a1 (B,30)``.
    """

    def __init__(self, name: str, dims: Optional[Tuple], columns: bool = False, batch: Optional[int] = None,
                 is_gradient: bool = False, is_seed: bool = False, transposed: bool = False):
        self.name, self.dims, self.columns, self.batch = name, dims, columns, batch
        self.is_gradient, self.is_seed, self.transposed = is_gradient, is_seed, transposed

    @property
    def shape(self) -> str:
        return "" if self.dims is None else _shape_text(self.dims)

    def __format__(self, spec: str) -> str:
        return self.name if self.dims is None else f"{self.name} {self.shape}"

    __str__ = lambda self: format(self, "")  # noqa: E731

    @property
    def T(self) -> "Term":
        if self.columns:
            name = f"{self.name}^T" if len(self.name) == 1 else f"({self.name})^T"
        else:
            name = f"{self.name}.T"
        dims = None if self.dims is None else tuple(reversed(self.dims))
        return Term(name, dims, self.columns, self.batch, self.is_gradient, False, not self.transposed)

    @property
    def summed_over_batch(self) -> str:
        if self.dims is None or len(self.dims) < 2:
            return format(self)
        n = self.batch if self.batch is not None else int(np.prod([d for d in self.dims[:-1] if isinstance(d, int)]))
        if self.columns:
            where = "columns (axis 1)" if len(self.dims) == 2 else f"axes {tuple(range(1, len(self.dims)))}"
        else:
            where = "axis 0" if len(self.dims) == 2 else f"axes {tuple(range(len(self.dims) - 1))}"
        return f"{self} summed over {where} [undoes broadcasting, B={n}]"

    @property
    def scale(self) -> str:
        return "" if self.is_seed else f"{self.name} * "


# ------------------------------------------------------------------ the ledger
@dataclass
class Step:
    """One VJP applied: ``dL/d<input> (shape) = <formula>`` and, with check=True, the comparison."""
    input: str                  # the input's name (W2, a1, x, ...)
    gradient: str               # the gradient's name (dL/dW2, delta^2, ...)
    shape: str                  # its shape as shown, e.g. "(10,30)" or "(B,30)"
    formula: str                # the right-hand side
    summed_axes: tuple = ()     # axes the engine summed to undo broadcasting
    accumulates: bool = False   # True when an earlier op already sent this input a gradient (+=)
    is_parameter: bool = False
    tag: str = ""               # BP1..BP4 in column form
    max_abs_diff: Optional[float] = None   # check=True: max |engine - manual| (last contribution)
    agrees: Optional[bool] = None

    @property
    def text(self) -> str:
        eq = "+=" if self.accumulates else "="
        return f"{self.gradient} {self.shape} {eq} {self.formula}"


@dataclass
class Row:
    """One op of the backward pass: its output, the gradient arriving at it, the VJPs it applies."""
    index: int
    op: str
    output: str                 # name of the tensor the op made
    shape: str                  # its shape as shown
    inputs: List[str]           # names of the op's inputs, constants as "const"
    grad: str                   # name of the incoming gradient
    steps: List[Step] = field(default_factory=list)
    note: str = ""              # e.g. "[row form: no column template]"

    @property
    def text(self) -> str:
        return f"{self.output} {self.shape} = {self.op}({', '.join(self.inputs)})"


@dataclass
class Ledger:
    """What ``explain`` returns: ``rows`` (one per op, backward order); ``str()`` renders them.

    ``grads``: {parameter name (W1, b1, ... or the module name, in either form): the engine's
    gradient}; ``legend``: {name as shown: module name};
    ``checked``: True when every parameter line was compared with ``manual``.
    """
    rows: List[Row]
    header: List[str]
    grads: Dict[str, np.ndarray]
    legend: Dict[str, str]
    columns: bool = False
    batch: Optional[int] = None
    checked: bool = False

    @property
    def all_agree(self) -> bool:
        """check=True: True when every parameter gradient matched manual's."""
        return self.checked and all(s.agrees for r in self.rows for s in r.steps if s.agrees is not None)

    def render(self) -> str:
        lines = list(self.header)
        body = []
        for r in self.rows:
            head = f"[{r.index}] {r.text}"
            body.append((f"{head:<44}  incoming {r.grad}" + (f"  {r.note}" if r.note else ""), None))
            for s in r.steps:
                notes = []
                if s.tag:
                    notes.append(s.tag)
                if s.max_abs_diff is not None:
                    verdict = "agrees" if s.agrees else "DIFFERS"
                    notes.append(f"manual: max|diff| {s.max_abs_diff:.1e} {verdict}")
                body.append((f"      {s.text}", "  ".join(notes) or None))
        width = min(max((len(t) for t, n in body if n), default=0), 100)
        for text, note in body:
            lines.append(text if note is None else f"{text:<{width}}   {note}")
        return "\n".join(lines)

    __str__ = render


def _const_name(argname: str) -> str:
    """A constant input (no Tensor) is shown by the op's parameter name; a loss's target as y."""
    return "y" if argname == "target" else "const"


def _op_function(name: str, extra: Mapping[str, Callable]) -> Optional[Callable]:
    fn = extra.get(name)
    if fn is None:
        candidate = getattr(builtin_ops, name, None)
        fn = candidate if inspect.isfunction(candidate) and candidate.__name__ == name else None
    return fn


def _templates(fn: Optional[Callable], n_inputs: int, columns: bool) -> Tuple[Optional[tuple], bool]:
    """(templates or None, whether they are row templates used in column form)."""
    if fn is None:
        return None, False
    rows = getattr(fn, "formulas", None)
    if rows is None:
        return None, False
    if not columns:
        return rows, False
    if not hasattr(fn, "column_formulas"):
        return rows, False       # elementwise: the row template reads the same in column form
    col = fn.column_formulas
    return (rows, True) if col is None else (col, False)


def _param_names_of(fn: Optional[Callable], n: int) -> List[str]:
    if fn is None:
        return []
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return []
    return [p.name for p in params[:n] if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _sum_text(axes: tuple, raw: tuple, shape: tuple, batch: Optional[int], columns: bool, batch_first: bool) -> str:
    if columns and batch_first and axes == (0,) and len(raw) == 2:
        return f" summed over columns (axis 1) [undoes broadcasting, B={raw[0]}]"
    where = f"axis {axes[0]}" if len(axes) == 1 else f"axes {axes}"
    if axes == (0,) and batch is not None and raw[0] == batch:
        return f" summed over {where} [undoes broadcasting, B={batch}]"
    return f" summed over {where} [undoes broadcasting: {_shape_text(raw)} -> {_shape_text(shape)}]"


def explain(loss: Tensor, *, model: Optional[Module] = None, names=None, style: str = "textbook",
            columns: bool = False, check: bool = False, x=None, y=None,
            ops: Iterable[Callable] = ()) -> Ledger:
    """The shape ledger of ``loss``'s backward pass: one row per op, in backward order.

    Each row names the op, its output and shape, and the incoming gradient; each of its inputs
    gets one line, the VJP as a formula with the actual shapes, e.g.
    ``dL/dW2 (10,30) = dL/dz2.T (10,B) @ a1 (B,30)``. A sum that undoes broadcasting is written
    out (``summed over axis 0 [undoes broadcasting, B=64]``). B is the batch size: the first
    axis of the loss's predictions; activations show it as B, parameters their real shape.

    Call it BEFORE ``loss.backward()`` (backward frees the graph) or after
    ``backward(retain_graph=True)``. explain walks the graph and calls the recorded VJPs itself
    (``walk``): nothing is freed and no ``.grad`` is set, so you can still call backward.

    Names: parameters by ``names`` (name -> Tensor, e.g. ``dict(model.named_parameters())``) or
    by ``model`` (style "textbook": W1, b1, W2, ...; style "module": ``layers.0.weight``);
    layer outputs z1, z2, ...; their activations a1, a2, ...; the network input x; the loss L;
    anything else its ``Tensor.name`` or t1, t2, ...

    Formulas: each op declares templates beside its VJP, ``op.formulas`` (one per input; see
    ``Term`` for the fields) and, where the column form reads differently, ``op.column_formulas``
    (None: the op has no column form and is shown in row form). Built-in ops are found in
    ``tinygrad_mnist.ops``; pass your own ops' functions in ``ops=[...]``. An op without
    templates gets ``dL/dx (shape) = VJP of myop applied to dL/dy (shape)``.

    ``columns=True``: the textbook's column form (Nielsen): batches shown as (n,B), z^l, a^l,
    delta^l = dC/dz^l, W^l, the lines tagged BP1-BP4.
    ``check=True``: recompute every parameter gradient with ``tinygrad_mnist.manual`` (sigmoid
    MLPs; needs ``model``, the targets ``y`` and, unless the graph holds it, the input ``x``)
    and show max |engine - manual| on each parameter line.
    """
    extra_ops = {}
    for fn in ops:
        if not callable(fn) or not hasattr(fn, "__name__"):
            raise TypeError(f"ops must be op functions, got {fn!r}")
        extra_ops[fn.__name__] = fn
    visits, leaf_grads = walk(loss)
    params, legend = parameter_names(model, names, style)
    tensors = graph_tensors(loss)
    tnames = _tensor_names(tensors, params, loss)
    plain = dict(tnames)  # Ledger.grads keys: W1, b1 (or module names) in either form
    if columns:
        tnames = {t: _textbook(n) for t, n in tnames.items()}
        tnames[loss] = "C" if tnames[loss] == "L" else tnames[loss]
        legend = {_textbook(k): v for k, v in legend.items()}
    root_name = tnames[loss]
    # B: the first axis of the predictions of a fused loss (the usual case), else unknown
    first = next((p for p in loss._parents if p is not None), None) if loss._op in (
        "quadratic_cost", "softmax_cross_entropy", "mse", "binary_cross_entropy") else None
    batch = first.shape[0] if first is not None and first.ndim >= 1 else None

    def batch_first(t: Tensor) -> bool:
        return (batch is not None and t not in params and t.ndim >= 1 and t.shape[0] == batch
                and t is not loss)

    def dims_of(t: Tensor, col: bool) -> tuple:
        d = tuple(t.shape)
        if batch_first(t):
            d = ("B",) + d[1:]
            if col and len(d) == 2:
                d = d[::-1]
        elif col and t in params and len(d) == 1:
            d = d + (1,)
        return d

    def grad_name(t: Tensor, col: bool) -> str:
        n = tnames[t]
        if col and n.startswith("z^"):
            return "delta^" + n[2:]
        return f"d{root_name}/d{n}"

    def term(t: Optional[Tensor], name: str, col: bool) -> Term:
        if t is None:
            return Term(name, None, col, batch)
        return Term(tnames[t], dims_of(t, col), col, batch)

    rows: List[Row] = []
    seen_grad = set()
    grads_by_name: Dict[str, np.ndarray] = {}
    for k, visit in enumerate(visits, 1):
        node = visit.node
        fn = _op_function(node._op, extra_ops)
        templates, row_fallback = _templates(fn, len(node._parents), columns)
        col = columns and not row_fallback
        argnames = _param_names_of(fn, len(node._parents))
        consts = [_const_name(argnames[i] if i < len(argnames) else f"c{i}") for i in range(len(node._parents))]
        inputs = [term(p, consts[i], col) for i, p in enumerate(node._parents)]
        g = Term(grad_name(node, col), dims_of(node, col), col, batch, is_gradient=True,
                 is_seed=node is loss)
        fields = {name: t for name, t in zip(argnames, inputs)}
        fields.update(g=g, y=term(node, "y", col))
        incoming = f"{g}" + (" = 1" if node is loss else "")
        row = Row(k, node._op, tnames[node], _shape_text(dims_of(node, col)),
                  [tnames[p] if p is not None else consts[i] for i, p in enumerate(node._parents)], incoming,
                  note="[row form: this op has no column template]" if row_fallback and columns else "")
        for e in visit.edges:
            template = templates[e.index] if templates is not None and e.index < len(templates) else None
            if template is None:
                formula = f"VJP of {node._op} applied to {g}"
            else:
                try:
                    formula = template.format(*inputs, **fields)
                except (KeyError, IndexError, AttributeError) as err:
                    raise ValueError(f"explain: op {node._op!r}'s formula template {template!r} names "
                                     f"an unknown field ({err}); fields are g, y, {', '.join(argnames) or '0, 1, ...'}"
                                     ) from None
            if e.summed_axes:
                formula += _sum_text(e.summed_axes, e.raw_shape, e.parent.shape, batch, col, batch_first(node))
            p = e.parent
            step = Step(tnames[p], grad_name(p, col), _shape_text(dims_of(p, col)), formula, e.summed_axes,
                        accumulates=p in seen_grad, is_parameter=p in params)
            seen_grad.add(p)
            row.steps.append(step)
        rows.append(row)
    for p, gr in leaf_grads.items():
        if p in params:
            grads_by_name[plain[p]] = gr
    header = _header(loss, rows[0], tnames, legend, params, batch, columns)
    if columns:
        _tag_textbook(rows, loss, {tnames[p] for p in loss._parents if p is not None})
    ledger = Ledger(rows, header, grads_by_name, legend, columns, batch)
    if check:
        _check(ledger, loss, model, tensors, tnames, leaf_grads, x, y)
    return ledger


def _header(loss, first: Row, tnames, legend, params, batch, columns) -> List[str]:
    b = f", B = {batch}" if batch is not None else ""
    lines = [f"Backward pass of {first.text.split(' ', 2)[0]} = {loss._op}({', '.join(first.inputs)}), "
             f"op by op, last op first{b}"]
    if columns:
        lines = TEXTBOOK.splitlines() + lines
    shown = [(f"{n} = {legend[n]}" if legend.get(n, n) != n else n) + f" {_shape_text(p.shape)}"
             for p, n in ((p, tnames[p]) for p in params if p in tnames)]
    if shown:
        lines.append("parameters: " + ", ".join(shown))
    return lines


def _tag_textbook(rows: List[Row], loss: Tensor, loss_inputs: set) -> None:
    """Tag column-form lines with the textbook equation they instantiate (BP1..BP4)."""
    if loss._op not in MANUAL_COSTS:
        return
    for r in rows:
        for s in r.steps:
            if r.op == "linear" and s.input.startswith("W^"):
                s.tag = "BP4"
            elif r.op == "linear" and s.input.startswith("b^"):
                s.tag = "BP3"
            elif r.op == "linear":
                s.tag = "BP2 (the W^T delta factor)"
            elif r.op == "sigmoid" and s.gradient.startswith("delta^"):
                s.tag = "BP1" if r.output in loss_inputs else "BP2 (times s')"
            elif r.op == "softmax_cross_entropy" and s.gradient.startswith("delta^"):
                s.tag = "BP1"


def _mlp_parts(model: Module, cost: str) -> List[Linear]:
    """The Linear layers of a sigmoid MLP that manual can recompute, or ValueError saying why."""
    layers = model.layers if isinstance(model, Sequential) else [model]
    kinds = ["L" if isinstance(m, Linear) else "s" if isinstance(m, Sigmoid) else type(m).__name__ for m in layers]
    n = sum(k == "L" for k in kinds)
    expected = ["L", "s"] * (n - 1) + ["L"] + (["s"] if cost == "quadratic" else [])
    if kinds != expected:
        want = "sigmoid outputs (MLP(..., output='sigmoid'))" if cost == "quadratic" else \
            "raw logits (MLP(..., output=None))"
        raise ValueError(f"check=True recomputes gradients with tinygrad_mnist.manual, which covers Linear "
                         f"layers with sigmoid hidden activations and, for this loss, {want}; "
                         f"got {model!r}")
    return [m for m in layers if isinstance(m, Linear)]


def _check(ledger: Ledger, loss: Tensor, model, tensors, tnames, leaf_grads, x, y) -> None:
    if model is None:
        raise ValueError("check=True needs model= (the network whose weights manual recomputes)")
    cost = MANUAL_COSTS.get(loss._op)
    if cost is None:
        raise ValueError(f"check=True supports the losses quadratic_cost and softmax_cross_entropy, "
                         f"not {loss._op}")
    linears = _mlp_parts(model, cost)
    if x is None:
        inputs = [t for t in tensors if tnames.get(t) == "x"]
        if not inputs:
            raise ValueError("check=True: pass x= (the batch the loss was computed from)")
        x = inputs[0].data
    if y is None:
        target = loss._parents[1]
        if target is None:
            raise ValueError("check=True: pass y= (the targets the loss was computed from)")
        y = target.data
    y = np.asarray(y.data if isinstance(y, Tensor) else y)
    X = np.asarray(x.data if isinstance(x, Tensor) else x, dtype=np.float64)
    weights = [layer.weight.data.astype(np.float64) for layer in linears]
    biases = [layer.bias.data.astype(np.float64) for layer in linears]
    nabla_w, nabla_b = manual.backprop(weights, biases, X, y if y.dtype.kind in "iu" else y.astype(np.float64), cost)
    expected = {}
    for layer, gw, gb in zip(linears, nabla_w, nabla_b):
        expected[layer.weight], expected[layer.bias] = gw, gb
    last_step = {}
    for r in ledger.rows:
        for s in r.steps:
            if s.is_parameter:
                last_step[s.input] = s
    by_name = {tnames[p]: p for p in expected if p in tnames}
    for name, step in last_step.items():
        p = by_name.get(name)
        if p is None or p not in leaf_grads:
            continue
        engine, ref = leaf_grads[p], expected[p]
        tight = engine.dtype == np.float64
        diff = float(np.max(np.abs(engine - ref))) if ref.size else 0.0
        tol = (1e-12 if tight else 1e-6) + (1e-9 if tight else 1e-4) * float(np.max(np.abs(ref), initial=0.0))
        step.max_abs_diff, step.agrees = diff, diff <= tol
    ledger.checked = True
    ledger.header.append("check: each parameter gradient recomputed by tinygrad_mnist.manual "
                         "(hand-derived backprop, float64)")
