"""The shape ledger: the backward pass of a loss, one op at a time, each VJP written out as a
formula with the actual shapes (``dL/dW2 (10,30) = dL/dz2.T (10,B) @ a1 (B,30)``).

Formulas come from the templates each op declares beside its VJP (the op contract in
``tinygrad_mnist.ops``), read from the op function each graph node keeps; the numbers come from
calling the graph's own VJPs through ``autograd.walk``, read-only. Leaves out: drawing the
graph (``graphviz.py``) and judging a learner's gradients (``diagnose.py``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np

from .. import manual, ops
from ..nn import Module
from ..tensor import Tensor
from .names import constant_name, input_names, mlp_linears, parameter_names, tensor_names, traced_walk

TEXTBOOK = """\
Textbook form (Nielsen, ch. 2): every sample is a column, so a batch (B,n) is shown as (n,B).
  BP1  delta^L = (a^L - y) * s'(z^L)          [softmax + cross-entropy: delta^L = a^L - y]
  BP2  delta^l = ((W^(l+1))^T delta^(l+1)) * s'(z^l)
  BP3  dC/db^l = delta^l, summed over the B columns
  BP4  dC/dW^l = delta^l (a^(l-1))^T
  C is the MEAN cost over the batch, so delta^L carries a factor 1/B."""


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

    Implements the template fields the op contract defines (``tinygrad_mnist.ops``): ``.name``,
    ``.shape`` (text), ``.T`` (the transpose), ``.summed_over_batch`` (the sum that undoes a
    bias's broadcast over the batch), ``.scale`` ("" for backward's seed 1, else "dL/dt * "):
    e.g. ``"{g.T} @ {x}"`` renders ``dL/dz2.T (10,B) @ a1 (B,30)``. Nothing else of this class
    is part of that contract.
    """

    def __init__(self, name: str, dims: Optional[Tuple], columns: bool = False, batch: Optional[int] = None,
                 is_seed: bool = False):
        self.name, self.dims, self.columns, self.batch, self.is_seed = name, dims, columns, batch, is_seed

    @property
    def shape(self) -> str:
        return "" if self.dims is None else _shape_text(self.dims)

    def __format__(self, spec: str) -> str:
        return self.name if self.dims is None else f"{self.name} {self.shape}"

    def __str__(self) -> str:
        return format(self, "")

    @property
    def T(self) -> "Term":
        if self.columns:
            name = f"{self.name}^T" if len(self.name) == 1 else f"({self.name})^T"
        else:
            name = f"{self.name}.T"
        dims = None if self.dims is None else tuple(reversed(self.dims))
        return Term(name, dims, self.columns, self.batch)

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
    fn: Optional[Callable] = field(default=None, repr=False, compare=False)  # the op function

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

    def _repr_html_(self) -> str:
        """Jupyter's view: the header, then one table row per op and per VJP line, the
        check against ``manual`` in green (agrees) or red (DIFFERS)."""
        import html
        esc = html.escape
        rows = []
        for r in self.rows:
            note = f" <i>{esc(r.note)}</i>" if r.note else ""
            rows.append(f'<tr style="background:#f3f3f3"><td>[{r.index}]</td><td colspan="2"><code>{esc(r.text)}'
                        f"</code> &nbsp; incoming <code>{esc(r.grad)}</code>{note}</td></tr>")
            for step in r.steps:
                check = ""
                if step.max_abs_diff is not None:
                    colour, word = ("#1a7f37", "agrees") if step.agrees else ("#cf222e", "DIFFERS")
                    check = (f'<span style="color:{colour}">manual: max|diff| {step.max_abs_diff:.1e} '
                             f"{word}</span>")
                tag = f"<b>{esc(step.tag)}</b> " if step.tag else ""
                rows.append(f"<tr><td></td><td><code>{esc(step.text)}</code></td><td>{tag}{check}</td></tr>")
        header = esc("\n".join(self.header))
        return (f'<div><pre style="margin:0 0 0.5em 0">{header}</pre>'
                f'<table style="font-size:90%;text-align:left">{"".join(rows)}</table></div>')

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # IPython's text view: the ledger itself
        printer.text(self.render())


def _templates(fn: Optional[Callable], columns: bool) -> Tuple[Optional[tuple], bool]:
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

    Formulas: each op declares templates beside its VJP, ``op.formulas`` (one per input; the
    fields are defined in ``tinygrad_mnist.ops``) and, where the column form reads differently,
    ``op.column_formulas`` (None: the op has no column form and is shown in row form). Every
    graph node keeps its op function, so your own ops' templates are found like the built-ins'
    (``ops=[...]`` is accepted for older code and no longer needed). An op without templates
    gets ``dL/dx (shape) = VJP of myop applied to dL/dy (shape)``.

    ``columns=True``: the textbook's column form (Nielsen): batches shown as (n,B), z^l, a^l,
    delta^l = dC/dz^l, W^l, the lines tagged BP1-BP4.
    ``check=True``: recompute every parameter gradient with ``tinygrad_mnist.manual`` (sigmoid
    MLPs; needs ``model``, the targets ``y`` and, unless the graph holds it, the input ``x``)
    and show max |engine - manual| on each parameter line. It works for every loss whose op
    declares ``reference_cost`` (quadratic_cost, softmax_cross_entropy, mse) and raises a
    ValueError saying so for any other loss or for non-sigmoid hidden layers.
    """
    for fn in ops:
        if not callable(fn) or not hasattr(fn, "__name__"):
            raise TypeError(f"ops must be op functions, got {fn!r}")
    visits, leaf_grads, tensors = traced_walk(loss)
    params, legend = parameter_names(model, names, style)
    tnames = tensor_names(tensors, params, loss)
    plain = dict(tnames)  # Ledger.grads keys: W1, b1 (or module names) in either form
    if columns:
        tnames = {t: _textbook(n) for t, n in tnames.items()}
        tnames[loss] = "C" if tnames[loss] == "L" else tnames[loss]
        legend = {_textbook(k): v for k, v in legend.items()}
    root_name = tnames[loss]
    # B: the first axis of the predictions of a fused loss (the usual case), else unknown
    first = next((p for p in loss.node.inputs if p is not None), None) \
        if getattr(loss.node.op, "role", None) == "loss" else None
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
        if columns and n.startswith("z^"):  # delta^l in every row, row-form ones (conv2d) included
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
        node = visit.tensor
        fn, parents, opname = node.node.op, node.node.inputs, node.node.name
        templates, row_fallback = _templates(fn, columns)
        col = columns and not row_fallback
        argnames = input_names(fn, len(parents))
        consts = [constant_name(argnames[i] if i < len(argnames) else f"c{i}") for i in range(len(parents))]
        inputs = [term(p, consts[i], col) for i, p in enumerate(parents)]
        g = Term(grad_name(node, col), dims_of(node, col), col, batch, is_seed=node is loss)
        fields = {name: t for name, t in zip(argnames, inputs)}
        fields.update(g=g, y=term(node, "y", col))
        incoming = f"{g}" + (" = 1" if node is loss else "")
        row = Row(k, opname, tnames[node], _shape_text(dims_of(node, col)),
                  [tnames[p] if p is not None else consts[i] for i, p in enumerate(parents)], incoming,
                  note="[row form: this op has no column template]" if row_fallback and columns else "", fn=fn)
        for e in visit.edges:
            template = templates[e.index] if templates is not None and e.index < len(templates) else None
            if template is None:
                formula = f"VJP of {opname} applied to {g}"
            else:
                try:
                    formula = template.format(*inputs, **fields)
                except (KeyError, IndexError, AttributeError) as err:
                    known = ", ".join(argnames) or "0, 1, ..."
                    raise ValueError(f"explain: op {opname!r}'s formula template {template!r} names "
                                     f"an unknown field ({err}); fields are g, y, {known}") from None
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
        _tag_textbook(rows, loss, {tnames[p] for p in loss.node.inputs if p is not None})
    ledger = Ledger(rows, header, grads_by_name, legend, columns, batch)
    if check:
        _check(ledger, loss, model, tensors, tnames, leaf_grads, x, y)
    return ledger


def _header(loss, first: Row, tnames, legend, params, batch, columns) -> List[str]:
    b = f", B = {batch}" if batch is not None else ""
    lines = [f"Backward pass of {first.output} = {loss.op}({', '.join(first.inputs)}), "
             f"op by op, last op first{b}"]
    if columns:
        lines = TEXTBOOK.splitlines() + lines
    shown = [(f"{n} = {legend[n]}" if legend.get(n, n) != n else n) + f" {_shape_text(p.shape)}"
             for p, n in ((p, tnames[p]) for p in params if p in tnames)]
    if shown:
        lines.append("parameters: " + ", ".join(shown))
    if any("/ N" in t for t in getattr(loss.node.op, "formulas", None) or ()):
        lines.append(_what_n_is(loss, tnames, batch, columns))
    return lines


def _what_n_is(loss, tnames, batch, columns) -> str:
    """The loss's formulas divide by N (a mean over elements, PyTorch's reduction="mean"): say
    what N counts, since the textbook's costs divide by B."""
    p = next(t for t in loss.node.inputs if t is not None)
    dims = list(p.shape)
    if batch is not None and len(dims) == 2 and dims[0] == batch:
        shown = f"({dims[1]},B)" if columns else f"(B,{dims[1]})"
        count = f"{dims[1]} x B" if columns else f"B x {dims[1]}"
        return (f"N = {count} = {p.size}: every element of {tnames[p]} {shown}; {loss.op} averages over all "
                f"of them, not over the batch alone")
    return f"N = {p.size}: every element of {tnames[p]} {_shape_text(tuple(dims))}; {loss.op} averages over all of them"


def _tag_textbook(rows: List[Row], loss: Tensor, loss_inputs: set) -> None:
    """Tag column-form lines with the textbook equation they instantiate (BP1..BP4)."""
    if getattr(loss.node.op, "reference_cost", None) is None:
        return
    for r in rows:
        role = getattr(r.fn, "role", None)
        for s in r.steps:
            if r.fn is ops.linear and s.input.startswith("W^"):
                s.tag = "BP4"
            elif r.fn is ops.linear and s.input.startswith("b^"):
                s.tag = "BP3"
            elif r.fn is ops.linear:
                s.tag = "BP2 (the W^T delta factor)"
            elif role == "activation" and s.gradient.startswith("delta^"):
                prime = "s'" if r.fn is ops.sigmoid else f"{r.op}'"
                s.tag = "BP1" if r.output in loss_inputs else f"BP2 (times {prime})"
            elif role == "loss" and s.gradient.startswith("delta^"):
                s.tag = "BP1"


def _check(ledger: Ledger, loss: Tensor, model, tensors, tnames, leaf_grads, x, y) -> None:
    if model is None:
        raise ValueError("check=True needs model= (the network whose weights manual recomputes)")
    cost = getattr(loss.node.op, "reference_cost", None)
    if cost is None:
        known = ", ".join(f.__name__ for f in ops.PRIMITIVES if getattr(f, "reference_cost", None))
        raise ValueError(f"check=True: tinygrad_mnist.manual has no hand-derived formula for {loss.op}, so "
                         f"there is nothing to check against (it has them for {known}); the ledger "
                         f"without check=True still shows every step")
    linears = mlp_linears(model, cost)
    missing = [tnames.get(p, name) for name, p in model.named_parameters() if p not in leaf_grads]
    if missing:
        raise ValueError(f"check=True: the loss does not depend on the model's parameters {missing}; "
                         f"was it computed by this model?")
    if x is None:
        inputs = [t for t in tensors if tnames.get(t) == "x"]
        if not inputs:
            raise ValueError("check=True: pass x= (the batch the loss was computed from)")
        x = inputs[0].data
    if y is None:
        target = loss.node.inputs[1]
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
