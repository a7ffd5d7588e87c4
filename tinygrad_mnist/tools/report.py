"""The report ``diagnose`` returns, and what the learner's code handed back: the findings (each
with its bug-table row's title and the learner's line), exceptions with their line, the
gradient lists as returned (their order recognised from their sizes). Leaves out: the
comparison with the engine (``diagnose.py``).
"""
from __future__ import annotations

import os
import re
import traceback
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from ..errors import fmt_shape as _fmt
from .bugs import BUGS, Bug, Context, message, table
from .source import Region, Source

# Report.causes keys -> what the report calls them, from the bug table
CAUSES = {bug.key: bug.title for bug in BUGS}


@dataclass
class Finding:
    """One explanation: ``cause`` (a key of the bug table, such as "transposed"), the gradients
    it concerns (``dW2``, ``db1``, ...), a message saying what went wrong and the fix, the
    ``title`` the report shows, and ``line``: the learner's line it points at
    (``network.py:87  sp = sigmoid_prime(activations[-l])``), or that no line was found, or
    None when the learner's source is not known (gradient arrays, code typed into a notebook)."""
    cause: str
    parameters: List[str]
    message: str
    title: str = ""
    line: Optional[str] = None


@dataclass
class Report:
    """What ``diagnose`` returns. ``ok``: every gradient (and the update step, if one was
    checked) matches. ``findings``: the likely causes (empty when ok or when no known bug
    explains the numbers); ``first_difference``: the first differing entry, e.g.
    ``dW2[3,7]: 0.0123 vs 0.0119 (yours vs the engine's)``. ``notes``: how the learner's code
    was called (return order, one sample at a time, convention); ``warnings``: what failed while
    loading their file; ``step``: the check of their update step (Nielsen's
    ``update_mini_batch``), a Report of its own."""
    ok: bool
    summary: str
    findings: List[Finding] = field(default_factory=list)
    first_difference: Optional[str] = None
    max_abs_diff: Optional[float] = None
    notes: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    step: Optional["Report"] = None

    @property
    def causes(self) -> List[str]:
        """Every cause the report carries, the step's included."""
        return [f.cause for f in self.findings] + (self.step.causes if self.step is not None else [])

    def render(self) -> str:
        lines = [f"warning: {w}" for w in self.warnings] + [f"note: {n}" for n in self.notes] + [self.summary]
        for f in self.findings:
            title = f.title or CAUSES.get(f.cause, f.cause.replace("_", " "))
            lines.append(f"likely cause: {title}" + (f" ({', '.join(f.parameters)})" if f.parameters else ""))
            lines.extend("  " + line for line in f.message.splitlines())
            if f.line:
                lines.append(f"  -> {f.line}")
        if self.first_difference:
            lines.append(f"first difference: {self.first_difference}")
        if self.step is not None:
            lines.append(self.step.render())
        return "\n".join(lines)

    __str__ = render


@dataclass(frozen=True)
class Where:
    """Where the learner's numbers came from: their ``source`` and the ``regions`` (line ranges)
    of the checked code, searched first for a finding's line; ``step``: read from an update step
    (``update`` names it) with learning rate ``lr``; ``subject``: how the report names them."""
    source: Optional[Source] = None
    regions: Tuple[Region, ...] = ()
    step: bool = False
    lr: Optional[float] = None
    update: str = "your update"
    subject: str = "your gradients"


def hints(parameters: List[str], L: int) -> Tuple[Optional[str], Optional[str]]:
    """(layer, kind) that the named gradients share: "output"/"hidden", "weights"/"biases"."""
    layers = {int(p[2:]) for p in parameters if p[:2] in ("dW", "db") and p[2:].isdigit()}
    layer = None
    if layers:
        layer = "output" if layers == {L} else "hidden" if L not in layers else None
    kinds = {p[:2] for p in parameters}
    kind = "weights" if kinds == {"dW"} else "biases" if kinds == {"db"} else None
    return layer, kind


def make_finding(rows_of: Dict[str, Bug], key: str, parameters: List[str], text: Optional[str], ctx: Context,
                 where: Where, layer: Optional[str] = None, kind: Optional[str] = None) -> Finding:
    """A Finding for row ``key``: its title, ``text`` (default: the row's message) and the
    learner's line the row's patterns find in ``where``."""
    bug = rows_of.get(key)
    if text is None:
        text = message(bug, ctx) if bug is not None else key.replace("_", " ")
    return Finding(key, parameters, text, bug.title if bug is not None else key.replace("_", " "),
                   _point(bug, where, ctx, layer, kind))


def _point(bug: Optional[Bug], where: Where, ctx: Context, layer=None, kind=None) -> Optional[str]:
    if where.source is None:
        return None
    patterns = () if bug is None else bug.step_lines if ctx.step and bug.step_lines else bug.lines
    n = where.source.locate(patterns, where.regions, layer, kind)
    return where.source.quote(n) if n else f"no line of {where.source.name} found for it"



# ------------------------------------------------------------------ what the learner's code returned
_BROADCAST = re.compile(r"shapes \(([\d, ]*)\)\s*\(([\d, ]*)\)")


def _shapes_in(text: str) -> Optional[Tuple[tuple, tuple]]:
    m = _BROADCAST.search(text)
    if not m:
        return None
    parse = lambda s: tuple(int(v) for v in s.replace(" ", "").split(",") if v)  # noqa: E731
    return parse(m.group(1)), parse(m.group(2))


def code_files(fn: Callable, where: Where) -> Set[str]:
    """The files whose frames are the learner's code: ``fn``'s and their source's."""
    files = set()
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    if code is not None:
        files.add(os.path.abspath(code.co_filename))
    if where.source is not None:
        files.add(os.path.abspath(where.source.path))
    return files


def _frames(e: BaseException, files: Set[str]):
    return [f for f in traceback.extract_tb(e.__traceback__) if os.path.abspath(f.filename) in files]


def reach(e: BaseException, files: Set[str]) -> int:
    """How far into the learner's code an exception got: its last line there (-1: not at all)."""
    frames = _frames(e, files)
    return frames[-1].lineno if frames else -1


def exception_report(e: BaseException, files: Set[str], what: str, where: Where = Where(),
                     name: str = "backprop", bugs: Sequence[Bug] = BUGS) -> Report:
    """The report for an exception raised by the learner's code: its line, and ``*`` where ``@``
    belongs when it is a broadcast error between the operands of a matrix product."""
    rows_of = table(bugs)
    ctx = Context(1)
    frames = _frames(e, files)
    at, line = "", None
    if frames:
        f = frames[-1]
        at = f" at line {f.lineno}: {f.line}"
        if where.source is not None and os.path.abspath(f.filename) == os.path.abspath(where.source.path):
            line = where.source.quote(f.lineno)
    summary = f"diagnose: your {name} raised {type(e).__name__}{at} ({what})."
    text = str(e)
    pair = _shapes_in(text) if isinstance(e, ValueError) else None
    if pair and len(pair[0]) == 2 and len(pair[1]) == 2:
        a, b = pair
        if a[1] == b[0] or b[1] == a[0]:
            left, right = (a, b) if a[1] == b[0] else (b, a)
            finding = make_finding(rows_of, "elementwise_product", [], (
                f"{text}\nShapes {_fmt(left)} and {_fmt(right)} are the operands of a matrix product "
                f"{_fmt(left)} @ {_fmt(right)} -> {_fmt((left[0], right[1]))}; elementwise * needs equal shapes "
                f"(or 1s). Use @ (np.dot) here. With one sample (B=1) * happens to give the outer "
                f"product, which is why this only fails on a batch."), ctx, Where())
        else:
            finding = make_finding(rows_of, "wrong_shape", [], (
                f"{text}\nTwo arrays whose shapes do not fit: check each term's shape against "
                f"`tinygrad-mnist explain --columns` (column form) or `explain` (row form)."), ctx, Where())
    else:
        finding = make_finding(rows_of, "exception", [], f"{type(e).__name__}: {text}", ctx, Where())
    finding.line = line
    return Report(False, summary, [finding])


def two_lists(result, what: str, name: str = "backprop", bugs: Sequence[Bug] = BUGS):
    """(list, list) from what the learner's code returned, or a Report saying what is wrong."""
    rows_of = table(bugs)
    ctx = Context(1)

    def bad(summary):
        return None, Report(False, summary, [make_finding(rows_of, "wrong_return_value", [], None, ctx, Where())])
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        return bad(f"diagnose: {name} must return (nabla_w, nabla_b), got {type(result).__name__} ({what}).")
    try:
        grads = (list(result[0]), list(result[1]))
    except TypeError:
        return bad(f"diagnose: {name} must return two lists, got {type(result[0]).__name__} and "
                   f"{type(result[1]).__name__} ({what}).")
    empty = [f"{kind}[{i}]" for kind, gs in zip(("nabla_w", "nabla_b"), grads) for i, g in enumerate(gs) if g is None]
    if empty:
        return bad(f"diagnose: {name} left {', '.join(empty)} as None ({what}).")
    return grads, None


def swapped(grads, weights: List[np.ndarray], B: int) -> bool:
    """True when the two lists are (biases, weights): recognised from sizes alone (a weight
    gradient has its matrix's size, a bias gradient n_out or n_out x B numbers)."""
    w_sizes = {W.size for W in weights}
    b_sizes = {n for W in weights for n in (W.shape[0], W.shape[0] * B)}
    first, second = grads

    def all_in(gs, sizes):
        return len(gs) > 0 and all(np.size(g) in sizes for g in gs)
    return all_in(first, b_sizes) and all_in(second, w_sizes) and not (all_in(first, w_sizes)
                                                                       and all_in(second, b_sizes))


def sum_lists(results) -> Optional[Tuple[list, list]]:
    """The entrywise sum of several (nabla_w, nabla_b), or None when their shapes differ."""
    try:
        arrays = [([np.asarray(g, dtype=np.float64) for g in w], [np.asarray(g, dtype=np.float64) for g in b])
                  for w, b in results]
    except (TypeError, ValueError):
        return None
    first_w, first_b = arrays[0]
    for w, b in arrays[1:]:
        if [g.shape for g in w] != [g.shape for g in first_w] or [g.shape for g in b] != [g.shape for g in first_b]:
            return None
    return ([sum(w[l] for w, _ in arrays) for l in range(len(first_w))],
            [sum(b[l] for _, b in arrays) for l in range(len(first_b))])


