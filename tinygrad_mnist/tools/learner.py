"""Diagnose the learner's code as written: a whole file (``diagnose_file``), a Nielsen-style
network object (``diagnose_network``: per-sample ``backprop``, ``update_mini_batch`` as a step)
and code that updates its weights in place (``diagnose_step``: the move read as a gradient).
Leaves out: the comparison (``diagnose.py``), files and lines (``source.py``), finding the
weights in objects (``parameters.py``).
"""
from __future__ import annotations

import inspect
import os
import re
from typing import Callable, List, Optional, Sequence

import numpy as np

from ..errors import fmt_shape as _fmt
from ..nn import Module
from .bugs import BUGS, Bug, Context, SlipContext, cheapest_slips, slip_combinations, table
from .diagnose import compare, first_difference, run_backprop, setup
from .parameters import Parameters, Slot, find_parameters
from .report import (Report, Where, code_files, exception_report, hints, make_finding, sum_lists, swapped,
                     two_lists)
from .source import LearnerModule, Region, Source, load_definitions

# The learning rate of a checked step: never an integer B, 1/B or 1, so a missing
# 1/len(mini_batch) (a factor B) and eta applied twice (a factor eta) cannot be mistaken for
# each other or for no bug at all.
STEP_ETA = 0.3

# ------------------------------------------------------------------ an update step
def _sizes(weights: Sequence[np.ndarray]) -> List[int]:
    """[n_0, ..., n_L] of column-form weights W (n_out, n_in)."""
    return [weights[0].shape[1]] + [W.shape[0] for W in weights]


def _step(P: Parameters, update: Callable[[], None], lr: float):
    """Run one update from the current parameters; the gradient it followed, (before - after) / lr."""
    before_w, before_b = P.read()
    with np.errstate(all="ignore"):
        update()
    after_w, after_b = P.read()
    return ([(b - a) / lr for b, a in zip(before_w, after_w)], [(b - a) / lr for b, a in zip(before_b, after_b)])


def diagnose_step(update: Callable, params, lr: float, model: Module, x, y, *, per_sample: bool = False,
                  columns: bool = False, loss: str = "quadratic", bugs: Sequence[Bug] = BUGS) -> Report:
    """Check code that returns no gradient but updates its weights in place (StackOverflow's
    ``Layer``/``Network`` classes): run one update, read how each parameter moved, turn the
    move into the gradient it followed, ``(W_before - W_after) / lr``, and diagnose that.

    ``update(x, y)``: does ONE update on the data it is given. ``per_sample=True``: it is called
    once per sample, x (n_in,) and y (n_out,) one-hot 1-D arrays, the parameters set back to the
    engine's before each call, and the moves summed (the gradient of the summed cost); else once
    on the whole batch, x (B, n_in) and y (B, n_out) one-hot rows (``columns=True``: (n_in, B),
    (n_out, B)), whose move is the gradient of the mean cost.
    ``params``: the object holding the weights and biases (found by name and shape, see
    ``find_parameters``), or the list of arrays themselves (then updated in place).
    ``lr``: the learning rate ``update`` uses. ``model``, ``x``, ``y``, ``loss`` as in
    ``diagnose``; the learner's parameters are set to the model's for the check and get their
    own values back afterwards. The report names the table's bugs, the step's own among them
    (eta applied twice, parameters never updated).
    """
    lr = float(lr)
    if not lr > 0:
        raise ValueError(f"lr must be the positive learning rate your update uses, got {lr}")
    _, weights, biases, X, Y = setup(model, x, y, loss)
    P = find_parameters(params, _sizes(weights))
    objs = [update] if isinstance(params, (list, tuple)) else [params, update]
    source, regions = Source.of(*objs)
    name = getattr(update, "__name__", "update")
    name = "your update" if name == "<lambda>" else name
    where = Where(source, tuple(regions), step=True, lr=lr, update=name,
                  subject="the gradients your update followed")
    files = code_files(update, where) | _method_files(params)
    B = len(X)
    calls = [(X[i].copy(), Y[i].copy()) for i in range(B)] if per_sample else \
        [(X.T.copy(), Y.T.copy()) if columns else (X.copy(), Y.copy())]
    saved = P.read()
    moves = []
    try:
        for xs, ys in calls:
            P.from_engine(weights, biases)
            try:
                moves.append(_step(P, lambda: update(xs, ys), lr))
            except Exception as e:  # the learner's code failed: that IS the diagnosis
                return exception_report(e, files, f"{loss} cost, one update with lr={lr:g}", where, name, bugs)
    finally:
        P.write(*saved)
    grads = sum_lists(moves)
    convention = "rows" if P.rows else "columns"
    report = compare(grads, model, X, Y, loss, convention, "sum" if per_sample else "mean", bugs=bugs, where=where)
    how = (f"{name} called once per sample (x ({X.shape[1]},), y ({Y.shape[1]},)) on the B={B} samples, "
           f"from the engine's weights each time, and the moves summed") if per_sample else \
        f"{name} called once on the batch of B={B} samples"
    report.notes = [f"the step is read from {P.describe()} (lr={lr:g}); {how}"] + report.notes
    if report.causes and set(report.causes) == {"not_updated"} and len(report.findings[0].parameters) == 2 * len(weights):
        report.summary += (" Nothing moved: if your update does change its weights, the arrays read here are not "
                           "the ones it changes; pass the object that holds them (your network), not copies.")
    return report


def _method_files(obj) -> set:
    """The files of an object's methods (its class's), where a traceback may pass."""
    files = set()
    for value in vars(type(obj)).values() if not isinstance(obj, (list, tuple, dict)) else ():
        code = getattr(getattr(value, "__func__", value), "__code__", None)
        if code is not None:
            files.add(os.path.abspath(code.co_filename))
    return files


# ------------------------------------------------------------------ Nielsen's class
def diagnose_network(net, model: Module, x, y, *, eta: float = STEP_ETA, loss: str = "quadratic",
                     bugs: Sequence[Bug] = BUGS) -> Report:
    """Check a Nielsen-style network object as the book's ``network.py`` defines it.

    ``net.backprop(x, y)`` is called once per sample on columns, x (n_in,1) and y (n_out,1)
    one-hot (rows (1,n_in), (1,n_out) when the weights are stored (n_in,n_out)), from the
    engine's weights; the results are summed and diagnosed (their order, (nabla_b, nabla_w) as in
    the book or (nabla_w, nabla_b), is recognised and named). Then, if ``net`` has one,
    ``net.update_mini_batch(mini_batch, eta)`` is called on the same samples as a list of
    (x, y) pairs and its step is checked against the learner's own backprop:
    W_new = W - eta/len(mini_batch) * sum of nabla_w (missing or extra 1/len(mini_batch),
    wrong sign, eta applied twice, parameters never updated). ``net``'s parameters get their
    own values back afterwards.
    """
    source, regions = Source.of(net)
    return _check_network(net, model, x, y, eta, loss, bugs, source, regions)


def _check_network(net, model, x, y, eta, loss, bugs, source: Optional[Source], regions: List[Region]) -> Report:
    _, weights, biases, X, Y = setup(model, x, y, loss)
    P = find_parameters(net, _sizes(weights))
    cls = type(net).__name__
    klass = _region(source, regions, cls)
    backprop_region = source.region_of("backprop", klass) if source is not None else None
    update_region = source.region_of("update_mini_batch", klass) if source is not None else None
    where = Where(source, tuple(r for r in [backprop_region] + regions if r is not None))
    files = code_files(net.backprop, where) | _method_files(net)
    B = len(X)
    convention = "rows" if P.rows else "columns"
    samples = [((X[i:i + 1] if P.rows else X[i:i + 1].T).copy(), (Y[i:i + 1] if P.rows else Y[i:i + 1].T).copy())
               for i in range(B)]
    one = f"x {_fmt(samples[0][0].shape)}, y {_fmt(samples[0][1].shape)}"
    notes = [f"class {cls}: backprop(self, x, y) called once per sample ({one}) on the B={B} samples, "
             f"and the gradients summed"]
    saved = P.read()
    try:
        P.from_engine(weights, biases)
        results = []
        for xs, ys in samples:
            try:
                with np.errstate(all="ignore"):
                    result = net.backprop(xs.copy(), ys.copy())
            except Exception as e:  # the learner's code failed: that IS the diagnosis
                report = exception_report(e, files, f"{loss} cost, one sample, {convention} convention", where,
                                          bugs=bugs)
                report.notes = notes + report.notes
                return report
            grads, bad = two_lists(result, f"{loss} cost, one sample", bugs=bugs)
            if bad is not None:
                bad.notes = notes
                return bad
            results.append(grads)
        flip = swapped(results[0], weights, 1)
        if flip:
            notes.append("your backprop returns (nabla_b, nabla_w): checked in that order")
            results = [r[::-1] for r in results]
        summed = sum_lists(results)
        if summed is None:
            return Report(False, "diagnose: backprop returned gradients of different shapes for different samples.",
                          [make_finding(table(bugs), "wrong_return_value", [], None, Context(1), Where())], notes=notes)
        report = compare(summed, model, X, Y, loss, convention, "sum", bugs=bugs, where=where)
        report.notes = notes + report.notes
        if hasattr(net, "update_mini_batch"):
            report.step = _check_update(net, P, summed, weights, biases, samples, eta, bugs,
                                        Where(source, tuple(r for r in [update_region] + regions if r is not None),
                                              step=True, lr=eta, update="update_mini_batch",
                                              subject="the step of update_mini_batch"),
                                        files | code_files(net.update_mini_batch, where))
            report.ok = report.ok and report.step.ok
    finally:
        P.write(*saved)
    return report


def _region(source: Optional[Source], regions: List[Region], name: str) -> Optional[Region]:
    if source is None:
        return None
    found = source.region_of(name)
    return found if found is not None else (regions[0] if regions else None)


def _check_update(net, P: Parameters, summed, weights, biases, samples, eta: float, bugs: Sequence[Bug],
                  where: Where, files) -> Report:
    """The step of ``update_mini_batch`` against the learner's own backprop: each parameter must
    move by -eta/len(mini_batch) * (the sum of its gradients over the mini-batch)."""
    B = len(samples)
    what = f"mini_batch of {B} (x, y) pairs, eta={eta:g}"
    mine_w, mine_b = P.read()
    if [np.shape(g) for g in summed[0]] != [np.shape(w) for w in mine_w] or \
            [np.size(g) for g in summed[1]] != [np.size(b) for b in mine_b]:
        return Report(True, "update_mini_batch: not checked: backprop's gradients do not have the parameters' "
                            "shapes, so no step can be computed from them (fix backprop first).")
    P.from_engine(weights, biases)
    try:
        moved_w, moved_b = _step(P, lambda: net.update_mini_batch([(xs.copy(), ys.copy()) for xs, ys in samples],
                                                                  eta), eta)
    except Exception as e:  # the learner's code failed: that IS the diagnosis
        return exception_report(e, files, what, where, "update_mini_batch", bugs)
    ref_w = [g / B for g in summed[0]]
    ref_b = [np.reshape(g, np.shape(b)) / B for g, b in zip(summed[1], mine_b)]
    L = len(weights)
    names = [f"dW{l}" for l in range(1, L + 1)] + [f"db{l}" for l in range(1, L + 1)]
    ctx = Context(B, P.rows, True, eta, "update_mini_batch")
    rows_of = table(bugs)
    used, unexplained = {}, []
    for kind, moved, ref, offset in (("weights", moved_w, ref_w, 0), ("biases", moved_b, ref_b, L)):
        combos = [c for c in slip_combinations(bugs, kind, step=True)
                  if all(b.slip.group != "form" for b in c)]   # a step keeps each parameter's shape
        for l, (m, r) in enumerate(zip(moved, ref)):
            combo = cheapest_slips(m, r, combos, SlipContext(B, eta, None))
            if combo is None:
                unexplained.append(offset + l)
            for b in combo or ():
                used.setdefault(b.key, []).append(names[offset + l])
    rule = "W - eta/len(mini_batch) * (the sum of your backprop's gradients)"
    findings = [make_finding(rows_of, key, params, None, ctx, where, None, hints(params, L)[1])
                for key, params in sorted(used.items(), key=lambda kv: rows_of[kv[0]].order)]
    if not findings and not unexplained:
        return Report(True, f"update_mini_batch: the step matches {rule} (eta={eta:g}, B={B}).")
    summary = f"update_mini_batch: the step differs from {rule} (eta={eta:g}, B={B})."
    first = None
    if unexplained:
        mine = moved_w + moved_b
        ref = ref_w + ref_b
        first, _ = first_difference([names[i] for i in unexplained], [mine[i] for i in unexplained],
                                     [np.asarray(ref[i]).reshape(np.shape(mine[i])) for i in unexplained])
        first = first and first.replace("yours vs the engine's", "your step / -eta vs backprop's mean")
        if not findings:
            summary += " No single known bug reproduces the step."
    return Report(False, summary, findings, first)


# ------------------------------------------------------------------ a file
def nielsen_class(module: LearnerModule) -> Optional[type]:
    """The class of ``module`` with a method ``backprop(self, x, y)``, "Network" first."""
    found = []
    for value in module.namespace.values():
        if inspect.isclass(value) and value.__module__ == module.name:
            method = vars(value).get("backprop")
            if inspect.isfunction(method) and _positional(method) == 3:
                found.append(value)
    found.sort(key=lambda c: c.__name__ != "Network")
    return found[0] if found else None


def _positional(fn: Callable) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return -1
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty for p in params)


def diagnose_file(path, model: Module, x, y, *, loss: str = "quadratic", convention: Optional[str] = None,
                  reduction: str = "mean", eta: float = STEP_ETA, bugs: Sequence[Bug] = BUGS) -> Report:
    """Diagnose the learner's file at ``path``, unchanged.

    Loads it as definitions only (``load_definitions``: none of its top-level training,
    plotting or data reading runs; imports that fail become warnings) and checks, in this
    order: a class with ``backprop(self, x, y)`` (Nielsen's ``Network``), built as
    ``Network(sizes)`` with ``model``'s sizes (``diagnose_network``, which also checks
    ``update_mini_batch`` as a step with learning rate ``eta``); else a function
    ``backprop(weights, biases, x, y)`` (``diagnose_function``: conventions detected unless
    ``convention`` is given). Code that updates its weights in place and returns no gradient is
    checked from Python with ``diagnose_step``. Each finding quotes the file's line.

    Raises what ``load_definitions`` raises, and ValueError when the file defines neither.
    """
    module = load_definitions(path)
    cls = nielsen_class(module)
    source = module.source
    if cls is not None:
        sizes = _sizes(setup(model, x, y, loss)[1])
        klass = source.region_of(cls.__name__) if source is not None else None
        regions = [r for r in [klass] if r is not None] + _function_regions(source, module)
        try:
            net = cls(list(sizes))
        except Exception as e:  # the learner's constructor failed: report it with its line
            where = Where(source, tuple(regions))
            report = exception_report(e, {os.path.abspath(source.path)} if source else set(), f"building {cls.__name__}"
                                      f"({list(sizes)})", where, f"{cls.__name__}({list(sizes)})", bugs)
        else:
            report = _check_network(net, model, x, y, eta, loss, bugs, source, regions)
            report.notes.insert(0, f"checked class {cls.__name__} of {source.name if source else path}, built as "
                                   f"{cls.__name__}({list(sizes)}), with the engine's weights")
    else:
        fn = module.namespace.get("backprop")
        if not callable(fn) or _positional(fn) != 4:
            raise ValueError(f"{path}: defines no class with backprop(self, x, y) and no function "
                             f"backprop(weights, biases, x, y); code that updates its weights in place is "
                             f"checked from Python with diagnose_step (docs/debug_your_backprop.md)")
        _, regions = Source.of(fn)
        report = run_backprop(fn, model, x, y, loss, convention, reduction, None, bugs,
                              Where(source, tuple(regions)))
        report.notes.insert(0, f"checked function backprop(weights, biases, x, y) of "
                               f"{source.name if source else path}, with the engine's weights")
    report.warnings = list(module.warnings) + report.warnings
    _explain_name_errors(report, module)
    return report


def _function_regions(source: Optional[Source], module: LearnerModule) -> List[Region]:
    """The module-level functions of the file (sigmoid_prime, ...), after the class."""
    if source is None:
        return []
    out = []
    for value in module.namespace.values():
        if inspect.isfunction(value) and value.__module__ == module.name:
            region = source.region_of(value.__name__)
            if region is not None:
                out.append(region)
    return out


def _explain_name_errors(report: Report, module: LearnerModule) -> None:
    """A NameError for a name that top-level code would have set: say why it is missing."""
    for r in (report, report.step):
        if r is None or r.causes[:1] != ["exception"] or "NameError" not in r.summary:
            continue
        m = re.search(r"name '(\w+)' is not defined", r.findings[0].message)
        if m and m.group(1) in module.skipped:
            r.notes.append(f"{m.group(1)} is set at {module.source.name if module.source else module.path}:"
                           f"{module.skipped[m.group(1)]} by top-level code, which diagnose does not run (it may "
                           f"train or read data): define it in a function, or as a constant")


__all__ = ["diagnose_file", "diagnose_network", "diagnose_step", "find_parameters", "Parameters", "Slot",
           "STEP_ETA"]
