"""Diagnose a learner's hand-written backprop: compare their gradients with the engine's and,
when they differ, name the likely bug (transposed, 1/B, bias not summed, sign, s'(a), ...) and
point at the line of their code.

Method (``bugs.py``): each bug of the table is planted in a copy of the textbook backprop and
the learner's numbers are matched against every planted version, allowing the table's slips;
the explanation needing the fewest bugs wins. This module holds the comparison, the checks no
row can do (shapes, rank-1 products) and two interfaces: gradient arrays, and a ``backprop``
function whose conventions are detected from what it accepts and returns. Leaves out: the
report (``report.py``), files, classes and update steps (``learner.py``), printing (the CLI).
"""
from __future__ import annotations

import os
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .. import manual, ops
from ..errors import fmt_shape as _fmt
from ..losses import reference_cost
from ..nn import Module
from ..tensor import Tensor
from .bugs import BUGS, RTOL, Bug, Context, best_explanation, close, message, table
from .names import mlp_linears
from .report import (CAUSES, Finding, Report, Where, code_files, exception_report, hints, make_finding, reach,
                     sum_lists, swapped, two_lists)
from .source import Source, load_definitions

__all__ = ["diagnose", "diagnose_function", "backprop_inputs", "load_backprop_function", "compare", "Report",
           "Finding", "CAUSES"]

DIAGNOSED_COSTS = ("quadratic", "cross_entropy")  # the costs the bug table plants its bugs in
CONVENTIONS = ("columns", "rows")


# ------------------------------------------------------------------ inputs and outputs
def setup(model: Module, x, y, loss: str):
    cost = reference_cost(loss) if isinstance(loss, str) else None
    if cost not in DIAGNOSED_COSTS:
        raise ValueError(f"loss must be 'quadratic' or 'cross-entropy', got {loss!r}")
    linears = mlp_linears(model, cost)
    weights = [layer.weight.data.astype(np.float64) for layer in linears]
    biases = [layer.bias.data.astype(np.float64) for layer in linears]
    X = np.asarray(x.data if isinstance(x, Tensor) else x, dtype=np.float64)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != weights[0].shape[1]:
        raise ValueError(f"x must be a batch (B, {weights[0].shape[1]}) in rows, got shape {X.shape}")
    y = np.asarray(y.data if isinstance(y, Tensor) else y)
    n_out = weights[-1].shape[0]
    if y.dtype.kind in "iu" and y.shape == (len(X),):
        Y = manual.one_hot(y, n_out)
    elif y.shape == (len(X), n_out):
        Y = y.astype(np.float64)
    else:
        raise ValueError(f"y must be integer labels ({len(X)},) or one-hot rows ({len(X)}, {n_out}), "
                         f"got shape {y.shape}")
    return cost, weights, biases, X, Y


def backprop_inputs(model: Module, x, y, convention: str = "columns", loss: str = "quadratic"):
    """(weights, biases, x, y) as a learner's ``backprop`` receives them (float64 copies).

    columns (Nielsen): W (n_out,n_in), b (n_out,1), x (n_in,B), y (n_out,B) one-hot columns.
    rows (z = x W + b): W (n_in,n_out), b (n_out,), x (B,n_in), y (B,n_out) one-hot rows.
    ``x`` (B, n_in) and ``y`` (labels (B,) or one-hot (B, n_out)) are in the engine's layout;
    ``loss`` only checks that the model fits it (sigmoid outputs for quadratic, logits otherwise).
    """
    _check_convention(convention)
    _, weights, biases, X, Y = setup(model, x, y, loss)
    if convention == "columns":
        return [W.copy() for W in weights], [b[:, None].copy() for b in biases], X.T.copy(), Y.T.copy()
    return [W.T.copy() for W in weights], [b.copy() for b in biases], X.copy(), Y.copy()


def _check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be 'columns' or 'rows', got {convention!r}")


def _as_lists(my_grads, model: Module, n_layers: int) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """(nabla_w, nabla_b) from (lists) or a dict keyed nabla_w/nabla_b, dW1/db1, W1/b1 or module names."""
    if isinstance(my_grads, Mapping):
        if "nabla_w" in my_grads and "nabla_b" in my_grads:
            nw, nb = my_grads["nabla_w"], my_grads["nabla_b"]
        else:
            nw, nb = [], []
            linears = [m for m in _linear_names(model)]
            for l in range(1, n_layers + 1):
                wkeys = (f"dW{l}", f"W{l}", f"nabla_w{l}", linears[l - 1][0])
                bkeys = (f"db{l}", f"b{l}", f"nabla_b{l}", linears[l - 1][1])
                w = next((my_grads[k] for k in wkeys if k in my_grads), None)
                b = next((my_grads[k] for k in bkeys if k in my_grads), None)
                if w is None or b is None:
                    raise ValueError(f"my_grads has no gradient for layer {l}: expected keys dW{l} and db{l} "
                                     f"(or W{l}/b{l}, or {linears[l - 1][0]}/{linears[l - 1][1]}); "
                                     f"got {sorted(map(str, my_grads))}")
                nw.append(w)
                nb.append(b)
    elif isinstance(my_grads, (tuple, list)) and len(my_grads) == 2 and all(
            isinstance(g, (list, tuple)) for g in my_grads):
        nw, nb = my_grads
    else:
        raise TypeError("my_grads must be (nabla_w, nabla_b), two lists with one array per layer, or a dict "
                        f"keyed dW1, db1, dW2, ...; got {type(my_grads).__name__}")
    try:
        return [np.asarray(g, dtype=np.float64) for g in nw], [np.asarray(g, dtype=np.float64) for g in nb]
    except (TypeError, ValueError) as e:
        raise TypeError(f"my_grads must hold numeric arrays: {e}") from None


def _linear_names(model: Module) -> List[Tuple[str, str]]:
    names = [n for n, _ in model.named_parameters()]
    return [(names[i], names[i + 1]) for i in range(0, len(names) - 1, 2)]


def _engine_gradients(weights, biases, X, Y, cost):
    """The engine's gradients (column convention: W (n_out,n_in), b (n_out,)), in float64."""
    Ws = [Tensor(W, requires_grad=True) for W in weights]
    bs = [Tensor(b, requires_grad=True) for b in biases]
    h = Tensor(X)
    for l, (W, b) in enumerate(zip(Ws, bs)):
        h = Tensor.apply(ops.linear, h, W, b)
        if l < len(Ws) - 1 or cost == "quadratic":
            h = h.sigmoid()
    out = h.quadratic_cost(Y) if cost == "quadratic" else h.softmax_cross_entropy(Y)
    out.backward()
    return [W.grad for W in Ws], [b.grad for b in bs]


def first_difference(names: List[str], mine: List[np.ndarray], ref: List[np.ndarray]) -> Tuple[Optional[str], float]:
    worst = 0.0
    first = None
    for name, a, e in zip(names, mine, ref):
        if a.shape != e.shape and not (a.size == e.size and a.ndim <= 2 and sum(d != 1 for d in a.shape) <= 1
                                       and e.ndim == 1):
            first = first or f"{name}: shape {_fmt(a.shape)} vs {_fmt(e.shape)} (yours vs the engine's)"
            worst = float("inf")
            continue
        a = a.reshape(e.shape)
        diff = np.abs(a - e)
        worst = max(worst, float(diff.max(initial=0.0)))
        bad = np.argwhere(~np.isclose(a, e, rtol=RTOL, atol=1e-7 * float(np.max(np.abs(e), initial=0.0)) + 1e-15))
        if len(bad) and first is None:
            idx = tuple(int(i) for i in bad[0])
            first = (f"{name}[{','.join(map(str, idx))}]: {a[idx]:.6g} vs {e[idx]:.6g} (yours vs the engine's; "
                     f"{len(bad)} of {a.size} entries differ)")
    return first, worst


def _rank_one(A: np.ndarray, ref: np.ndarray) -> bool:
    """True when A is an outer product (rank 1) but the true gradient is not."""
    if A.ndim != 2 or A.shape != ref.shape or min(A.shape) < 2:
        return False
    s, r = np.linalg.svd(A, compute_uv=False), np.linalg.svd(ref, compute_uv=False)
    return bool(s[0] > 0 and s[1] <= 1e-8 * s[0] and r[1] > 1e-6 * r[0])


# ------------------------------------------------------------------ the comparison
def diagnose(my_grads, model: Module, x, y, loss: str = "quadratic", convention: str = "columns",
             reduction: str = "mean", *, bugs: Sequence[Bug] = BUGS) -> Report:
    """Compare a learner's gradients with the engine's for ``model`` on the batch (x, y).

    ``my_grads``: (nabla_w, nabla_b) lists, first layer first, or a dict keyed dW1, db1, dW2, ...
    (or W1/b1, or the module names layers.0.weight, ...) of the MEAN cost over the batch, as the
    engine computes it, or with ``reduction="sum"`` of the summed cost (B times larger).
    ``convention``: "columns" (Nielsen: W (n_out,n_in), b (n_out,1) or (n_out,)) or "rows"
    (z = x W + b: W (n_in,n_out), b (n_out,)). ``x`` (B, n_in) and ``y`` (labels (B,) or one-hot
    rows) are in the engine's row layout. ``model``: a sigmoid MLP, with sigmoid outputs for
    ``loss="quadratic"`` and raw logits for "cross-entropy". ``bugs``: the bug table
    (``tools.bugs.BUGS``; pass ``BUGS + (Bug(...),)`` to teach it one more bug).

    When they differ, every bug of the table is planted in the textbook formulas (s'(a) for
    s'(z), missing s', wrong delta^L, wrong activation) and combined with the table's slips
    (transposed, missing or extra 1/B, wrong sign, bias not summed) and a reversed layer order;
    the explanation that reproduces the learner's numbers with the fewest bugs is reported.
    Failing that: shape mismatches, rank-1 weight gradients (``*`` where ``@`` belongs), and the
    first differing entry.
    """
    return compare(my_grads, model, x, y, loss, convention, reduction, bugs=bugs)


def compare(my_grads, model: Module, x, y, loss: str, convention: str, reduction: str, *,
            bugs: Sequence[Bug] = BUGS, where: Where = Where()) -> Report:
    """``diagnose`` for gradients obtained as ``where`` says (an update step, a file's lines)."""
    _check_convention(convention)
    rows_of = table(bugs)
    cost, weights, biases, X, Y = setup(model, x, y, loss)
    L, B = len(weights), X.shape[0]
    mine_w, mine_b = _as_lists(my_grads, model, L)
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    scale = float(B) if reduction == "sum" else 1.0   # the learner's gradients are scale * the mean's
    names = [f"dW{l}" for l in range(1, L + 1)] + [f"db{l}" for l in range(1, L + 1)]
    ew, eb = _engine_gradients(weights, biases, X, Y, cost)
    rows = convention == "rows"
    orient = (lambda W: W.T) if rows else (lambda W: W)
    ref = [orient(g) * scale for g in ew] + [g * scale for g in eb]
    sizes = "-".join(str(n) for n in [weights[0].shape[1]] + [W.shape[0] for W in weights])
    batch = f"summed over the B={B} samples" if reduction == "sum" else f"B={B}"
    what = f"{sizes} network, {loss} cost {batch}, {convention} convention".replace(" cost B=", " cost, B=")
    ctx = Context(B, rows, where.step, where.lr, where.update)
    if len(mine_w) != L or len(mine_b) != L:
        return Report(False, f"diagnose: {where.subject}: {len(mine_w)} weight and {len(mine_b)} bias "
                             f"gradients; the {what} has {L} layers.",
                      [make_finding(rows_of, "wrong_number_of_layers", [], None, ctx, where)])
    mine = mine_w + mine_b
    backward = [i for l in range(L - 1, -1, -1) for i in (l, L + l)]  # where backprop goes wrong first
    first, worst = first_difference([names[i] for i in backward], [mine[i] for i in backward],
                                     [ref[i] for i in backward])
    if first is None:
        return Report(True, f"diagnose: {where.subject} match the engine's ({what}; max |difference| {worst:.1e}).",
                      max_abs_diff=worst)
    best = best_explanation([g / scale for g in mine_w], [g / scale for g in mine_b], weights, biases, X, Y,
                            cost, rows, B, bugs=bugs, step=where.step, lr=where.lr)
    summary = f"diagnose: {where.subject} differ from the engine's ({what})."
    if best is not None:
        return Report(False, summary, _findings(best, names, ctx, L, where, rows_of), first, worst)
    findings = []
    for name, a, e in zip(names, mine, ref):
        if name.startswith("dW") and _rank_one(a, e):
            findings.append(make_finding(rows_of, "elementwise_product", [name], (
                f"{name} is an outer product of two vectors (rank 1), but with B={B} samples the true "
                f"gradient sums B outer products, delta @ a.T (rank up to {min(B, *e.shape)}). "
                f"The batch was collapsed before the product: elementwise * (broadcasting (n,1) * (1,m)), "
                f"np.outer, or a sum/mean over the batch where the matrix product @ belongs."), ctx, where,
                *hints([name], L)))
    shape_bad = [(n, a, e) for n, a, e in zip(names, mine, ref)
                 if a.shape != e.shape and a.size != e.size]
    if shape_bad:
        findings.append(make_finding(rows_of, "wrong_shape", [n for n, _, _ in shape_bad], "\n".join(
            f"{n} has shape {_fmt(a.shape)}; the gradient of a parameter has the parameter's shape {_fmt(e.shape)}."
            for n, a, e in shape_bad), ctx, where, *hints([n for n, _, _ in shape_bad], L)))
    if not findings:
        summary += " No single known bug reproduces your numbers; compare the first differing entry " \
                   "with `tinygrad-mnist explain` to see the formula for that gradient."
    return Report(False, summary, findings, first, worst)


def _findings(best, names, ctx: Context, L: int, where: Where, rows_of: Dict[str, Bug]) -> List[Finding]:
    out = []
    if best.reverse:
        out.append(make_finding(rows_of, "wrong_layer_order", [], None, ctx, where))
    bug, plant = best.planted.bug, best.planted.plant
    if bug is not None:
        text = message(bug, ctx) + (f"\n{plant.detail}" if plant.detail else "")
        output = plant.output_sprime is not None or plant.output_delta is not None
        layer = None if output == (plant.hidden_sprime is not None) else "output" if output else "hidden"
        out.append(make_finding(rows_of, bug.key, [plant.concerns.format(L=L)] if plant.concerns else [], text,
                                ctx, where, layer))
    used: Dict[str, List[str]] = {}
    for l, combo in enumerate(best.slips_w):
        for b in combo:
            used.setdefault(b.key, []).append(names[l])
    for l, combo in enumerate(best.slips_b):
        for b in combo:
            used.setdefault(b.key, []).append(names[L + l])
    for key, params in used.items():
        out.append(make_finding(rows_of, key, params, None, ctx, where, *hints(params, L)))
    return sorted(out, key=lambda f: rows_of[f.cause].order if f.cause in rows_of else 0)


# ------------------------------------------------------------------ a learner's function
def load_backprop_function(path) -> Callable:
    """Load the file at ``path`` as definitions only (its imports, functions, classes and
    constants: ``source.load_definitions``; none of its top-level code runs) and return its
    ``backprop(weights, biases, x, y)`` function.

    Raises FileNotFoundError, IsADirectoryError, or ValueError naming the file when it is not a
    regular file (a pipe would block the import), does not parse, or defines no callable
    ``backprop``.
    """
    fn = load_definitions(path).namespace.get("backprop")
    if not callable(fn):
        raise ValueError(f"{os.fspath(path)}: defines no function backprop(weights, biases, x, y)")
    return fn


def diagnose_function(fn: Callable, model: Module, x, y, loss: str = "quadratic",
                      convention: Optional[str] = None, reduction: str = "mean", *,
                      per_sample: Optional[bool] = None, bugs: Sequence[Bug] = BUGS) -> Report:
    """Run a learner's ``fn(weights, biases, x, y)`` (``backprop_inputs``: float64 copies) on the
    batch (x, y) and ``diagnose`` what it returns, pointing at the line of ``fn``'s source.

    What ``fn`` accepts and returns is detected and named in the report's notes, never reported
    as a bug: ``convention`` None tries "columns" then "rows"; lists returned as
    (nabla_b, nabla_w) (Nielsen's order) are recognised by their sizes; a function written for
    one sample (fed a batch it returns a bias gradient with one column per sample and the SUM of
    the weight gradients) is called once per sample on x (n_in,1), y (n_out,1) and the results
    summed, so a correct per-sample function is a match at any batch size. ``per_sample`` True
    or False says it instead. ``reduction`` ("mean"/"sum") is the cost a batched ``fn``
    differentiates. An exception inside ``fn`` is reported (with the line of the learner's code),
    not raised: a broadcast error between the operands of a matrix product is named as ``*``
    where ``@`` belongs.
    """
    if convention is not None:
        _check_convention(convention)
    if per_sample not in (None, True, False):
        raise TypeError(f"per_sample must be None (detect), True or False, got {per_sample!r}")
    source, regions = Source.of(fn)
    return run_backprop(fn, model, x, y, loss, convention, reduction, per_sample, bugs,
                        Where(source, tuple(regions)))


def run_backprop(fn: Callable, model: Module, x, y, loss: str, convention: Optional[str], reduction: str,
                 per_sample: Optional[bool], bugs: Sequence[Bug], where: Where) -> Report:
    """``diagnose_function`` once the learner's source is known (``where``)."""
    _, weights, _, X, Y = setup(model, x, y, loss)
    B = len(X)
    files = code_files(fn, where)
    tried = [convention] if convention else list(CONVENTIONS)

    def call(conv, i=None):
        xs, ys = (X, Y) if i is None else (X[i:i + 1], Y[i:i + 1])
        try:
            with np.errstate(all="ignore"):
                return fn(*backprop_inputs(model, xs, ys, conv, loss)), None
        except Exception as e:  # the learner's code failed: that IS the diagnosis
            return None, e

    def what(conv, n=B):
        return f"{loss} cost, B={n}, {conv} convention"

    first = 0 if per_sample else None
    outcomes = {}
    for conv in tried:
        outcomes[conv] = call(conv, first)
        if outcomes[conv][1] is None:
            break
    conv = next((c for c, (_, e) in outcomes.items() if e is None), None)
    if conv is None:  # it raised in every convention: show where it got furthest
        conv = max(tried, key=lambda c: (reach(outcomes[c][1], files), -tried.index(c)))
        report = exception_report(outcomes[conv][1], files, what(conv, 1 if per_sample else B), where, bugs=bugs)
        if len(tried) > 1:
            report.notes.append(f"it raised in the columns and in the rows convention; shown: {conv}, "
                                f"where it got further")
        return report
    notes = []
    if convention is None and conv == "rows":
        notes.append("it takes rows (z = x W + b: x (B,n_in), W (n_in,n_out)): checked in the rows convention")
    grads, bad = two_lists(outcomes[conv][0], what(conv), bugs=bugs)
    if bad is not None:
        bad.notes = notes
        return bad
    flip = swapped(grads, weights, 1 if per_sample else B)
    if flip:
        grads = grads[::-1]
        notes.append("your backprop returns (nabla_b, nabla_w): checked in that order")
    one = "x (n_in,1), y (n_out,1)" if conv == "columns" else "x (1,n_in), y (1,n_out)"
    if per_sample or (per_sample is None and B > 1 and _sample_axis(grads[1], weights, B, conv)):
        results = [grads]
        for i in range(1 if per_sample else 0, B):
            result, e = call(conv, i)
            if e is not None:
                if per_sample:
                    report = exception_report(e, files, what(conv, 1), where, bugs=bugs)
                    report.notes = notes + report.notes
                    return report
                results = None
                break
            g, bad = two_lists(result, what(conv, 1), bugs=bugs)
            if bad is not None:
                if per_sample:
                    bad.notes = notes
                    return bad
                results = None
                break
            results.append(g[::-1] if flip else g)
        summed = sum_lists(results[0 if per_sample else 1:]) if results else None
        # fed a batch, a per-sample function sums the weight gradients (delta @ a.T adds up the
        # columns) and leaves one bias column per sample; a batch function with 1/B does not
        if summed is not None and (per_sample or _same_numbers(grads[0], summed[0])):
            grads, reduction = summed, "sum"
            notes.append(f"it takes one sample at a time ({one}): called once per sample on the B={B} "
                         f"samples and the gradients summed")
        elif per_sample:
            return Report(False, f"diagnose: backprop returned gradients of different shapes for different "
                                 f"samples ({what(conv, 1)}).",
                          [make_finding(table(bugs), "wrong_return_value", [], None, Context(1), Where())], notes=notes)
    try:
        report = compare(grads, model, X, Y, loss, conv, reduction, bugs=bugs, where=where)
    except TypeError as e:  # non-numeric entries
        report = Report(False, f"diagnose: {e} ({what(conv)}).",
                        [make_finding(table(bugs), "wrong_return_value", [], None, Context(B), Where())])
    report.notes = notes + report.notes
    return report


def _sample_axis(bias_grads, weights, B: int, conv: str) -> bool:
    """True when some bias gradient has one column (row) per sample."""
    return any(np.shape(g) == ((W.shape[0], B) if conv == "columns" else (B, W.shape[0]))
               for g, W in zip(bias_grads, weights))


def _same_numbers(batched, summed) -> bool:
    try:
        return len(batched) == len(summed) and all(
            close(np.asarray(a, dtype=np.float64), s) for a, s in zip(batched, summed))
    except (TypeError, ValueError):
        return False
