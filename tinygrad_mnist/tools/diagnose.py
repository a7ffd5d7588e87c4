"""Diagnose a learner's hand-written backprop: compare their gradients with the engine's and,
when they differ, name the likely bug (transposed, 1/B, bias not summed, sign, s'(a), ...).

Method (``bugs.py``): each known bug is planted in a copy of the textbook backprop and the
learner's numbers are matched against every planted version; the explanation needing the fewest
bugs wins. This module holds the words and the interface. Leaves out: printing (the CLI).
"""
from __future__ import annotations

import errno
import importlib.util
import os
import re
import traceback
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np

from .. import manual, ops
from ..errors import fmt_shape as _fmt
from ..nn import Module
from ..tensor import Tensor
from .bugs import RTOL, best_explanation
from .names import mlp_linears

LOSSES = {"quadratic": "quadratic", "cross-entropy": "cross_entropy", "cross_entropy": "cross_entropy"}
CONVENTIONS = ("columns", "rows")
# Report.causes keys -> what the report calls them
CAUSES = {
    "transposed": "transposed gradient",
    "missing_1_over_B": "missing 1/B (sum over the batch instead of the mean)",
    "extra_1_over_B": "extra 1/B (divided by the batch size twice)",
    "bias_not_summed": "bias gradient not summed over the batch",
    "wrong_sign": "wrong sign (gradient ascent)",
    "sigmoid_prime_of_activation": "s'() applied to the activation instead of z",
    "derivative_shortcut_on_z": "a(1-a) applied to z instead of the activation",
    "missing_sigmoid_prime_output": "delta^L without s'(z^L)",
    "ce_delta": "softmax cross-entropy delta^L is not (p - y)/B",
    "activation_of_wrong_layer": "weight gradient paired with the wrong layer's activation",
    "wrong_layer_order": "wrong layer order",
    "elementwise_product": "elementwise * where a matrix product @ belongs",
    "wrong_shape": "wrong shape",
    "wrong_number_of_layers": "wrong number of layers",
    "wrong_return_value": "wrong return value",
    "exception": "your code raised an exception",
}


# ------------------------------------------------------------------ the report
@dataclass
class Finding:
    """One explanation: ``cause`` (a short key such as "transposed"), the gradients it
    concerns (``dW2``, ``db1``, ...) and a message saying what went wrong and the fix."""
    cause: str
    parameters: List[str]
    message: str


@dataclass
class Report:
    """What ``diagnose`` returns. ``ok``: every gradient matches the engine's. ``findings``: the
    likely causes (empty when ok or when no known bug explains the numbers); ``first_difference``:
    the first differing entry, e.g. ``dW2[3,7]: 0.0123 vs 0.0119 (yours vs the engine's)``."""
    ok: bool
    summary: str
    findings: List[Finding] = field(default_factory=list)
    first_difference: Optional[str] = None
    max_abs_diff: Optional[float] = None

    @property
    def causes(self) -> List[str]:
        return [f.cause for f in self.findings]

    def render(self) -> str:
        lines = [self.summary]
        for f in self.findings:
            title = CAUSES.get(f.cause, f.cause.replace("_", " "))
            lines.append(f"likely cause: {title}" + (f" ({', '.join(f.parameters)})" if f.parameters else ""))
            lines.extend("  " + line for line in f.message.splitlines())
        if self.first_difference and not self.ok:
            lines.append(f"first difference: {self.first_difference}")
        return "\n".join(lines)

    __str__ = render


# ------------------------------------------------------------------ messages
def _messages(convention: str, B: int) -> Dict[str, str]:
    rows = convention == "rows"
    return {
        "transposed": (
            "these gradients are transposed: a gradient always has its parameter's shape. "
            + ("In row form (z = x @ W + b, W (n_in,n_out)) dW = a_prev.T @ delta, not delta.T @ a_prev."
               if rows else "In column form dC/dW^l = delta^l @ (a^(l-1)).T (BP4), shape (n_out,n_in), "
                            "not a^(l-1) @ delta.T.")),
        "missing_1_over_B": (
            f"these gradients are B={B} times the engine's: the cost is the MEAN over the batch, "
            f"C = 1/B sum_x C_x, so delta^L carries a factor 1/B. Divide delta^L by B once "
            f"(or divide the summed gradients by B). Nielsen's backprop() returns one sample's "
            f"gradient and update_mini_batch() divides the sum by len(mini_batch)."),
        "extra_1_over_B": (
            f"these gradients are 1/B (B={B}) of the engine's: the batch size was divided out twice, "
            f"e.g. in delta^L and again when averaging, or the bias was averaged instead of summed "
            f"after delta^L already carried the 1/B."),
        "wrong_sign": (
            "these gradients have the wrong sign: they point uphill, so W -= lr * dW would climb the "
            "cost (gradient ascent). The cost derivative is (a^L - y), not (y - a^L)."),
        "bias_not_summed": (
            "the bias gradient was not summed over the batch: it has one "
            + ("row" if rows else "column") + " per sample. The bias is added to every sample in the "
            "forward pass, so its gradient adds up delta over the batch: "
            + ("db = delta.sum(axis=0)." if rows else "db = delta.sum(axis=1, keepdims=True).")),
        "sigmoid_prime_of_activation": (
            "s'() was applied to the activation instead of z: sigmoid_prime(a) computes s(s(z)) (1 - s(s(z))). "
            "Use sigmoid_prime(z) (Nielsen: sigmoid_prime(zs[-l])), or a * (1 - a) with the activation."),
        "derivative_shortcut_on_z": (
            "the shortcut s'(z) = a (1 - a) was applied to z: z * (1 - z) is not the derivative. "
            "Use a * (1 - a) with the activation a = s(z), or sigmoid_prime(z)."),
        "missing_sigmoid_prime_output": (
            "delta^L lacks the s'(z^L) factor: with the quadratic cost and sigmoid outputs, "
            "delta^L = (a^L - y) * s'(z^L) (BP1). (a^L - y) alone is the cross-entropy delta."),
        "activation_of_wrong_layer": (
            "each weight gradient was paired with its own layer's activation: BP4 takes the PREVIOUS "
            "layer's, dC/dW^l = delta^l (a^(l-1))^T (Nielsen: activations[-l-1], where activations[0] is x)."),
        "wrong_layer_order": (
            "the gradient lists run last layer first: nabla_w[0] must be the first layer's gradient "
            "(shaped like weights[0]) and nabla_w[-1] the output layer's, as in Nielsen's code, "
            "which fills them from the back with negative indices."),
    }


CE_VARIANTS = {
    "sigmoid": "delta^L = s(z^L) - y: sigmoid outputs (Nielsen's network2); the engine's cross-entropy is "
               "softmax + log loss, where delta^L = (softmax(z^L) - y) / B.",
    "times_derivative": "delta^L = (p - y) * p (1 - p): with softmax + cross-entropy the derivative of the "
                        "softmax cancels against the log; delta^L = (p - y) / B, nothing more.",
    "logits": "delta^L = z^L - y: the raw outputs were used; apply softmax first: delta^L = (softmax(z^L) - y) / B.",
    "quadratic": "delta^L = (s(z^L) - y) * s'(z^L): that is the quadratic cost's delta; the engine's "
                 "cross-entropy on softmax has delta^L = (p - y) / B.",
}
WHERE = {"output": "in the output layer's delta^L", "hidden": "in the hidden layers' deltas (BP2)",
         "everywhere": "in every layer's delta"}


# ------------------------------------------------------------------ inputs and outputs
def _setup(model: Module, x, y, loss: str):
    cost = LOSSES.get(loss)
    if cost is None:
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
    _, weights, biases, X, Y = _setup(model, x, y, loss)
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


def _first_difference(names: List[str], mine: List[np.ndarray], ref: List[np.ndarray]) -> Tuple[Optional[str], float]:
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


def diagnose(my_grads, model: Module, x, y, loss: str = "quadratic", convention: str = "columns",
             reduction: str = "mean") -> Report:
    """Compare a learner's gradients with the engine's for ``model`` on the batch (x, y).

    ``my_grads``: (nabla_w, nabla_b) lists, first layer first, or a dict keyed dW1, db1, dW2, ...
    (or W1/b1, or the module names layers.0.weight, ...) of the MEAN cost over the batch, as the
    engine computes it, or with ``reduction="sum"`` of the summed cost (B times larger).
    ``convention``: "columns" (Nielsen: W (n_out,n_in), b (n_out,1) or (n_out,)) or "rows"
    (z = x W + b: W (n_in,n_out), b (n_out,)). ``x`` (B, n_in) and ``y`` (labels (B,) or one-hot
    rows) are in the engine's row layout. ``model``: a sigmoid MLP, with sigmoid outputs for
    ``loss="quadratic"`` and raw logits for "cross-entropy".

    When they differ, every known bug is planted in the textbook formulas (s'(a) for s'(z),
    missing s', wrong delta^L, wrong activation) and combined with per-gradient slips
    (transposed, missing or extra 1/B, wrong sign, bias not summed, reversed layer order); the
    explanation that reproduces the learner's numbers with the fewest bugs is reported. Failing
    that: shape mismatches, rank-1 weight gradients (``*`` where ``@`` belongs), and the first
    differing entry.
    """
    _check_convention(convention)
    cost, weights, biases, X, Y = _setup(model, x, y, loss)
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
    what = f"{sizes} network, {loss} cost{' summed over' if reduction == 'sum' else ''}, B={B}, " \
           f"{convention} convention"
    if len(mine_w) != L or len(mine_b) != L:
        return Report(False, f"diagnose: your backprop returned {len(mine_w)} weight and {len(mine_b)} bias "
                             f"gradients; the {what} has {L} layers.",
                      [Finding("wrong_number_of_layers", [], "return one gradient per layer in each list.")])
    mine = mine_w + mine_b
    backward = [i for l in range(L - 1, -1, -1) for i in (l, L + l)]  # where backprop goes wrong first
    first, worst = _first_difference([names[i] for i in backward], [mine[i] for i in backward],
                                     [ref[i] for i in backward])
    if first is None:
        return Report(True, f"diagnose: your gradients match the engine's ({what}; max |difference| {worst:.1e}).",
                      max_abs_diff=worst)
    best = best_explanation([g / scale for g in mine_w], [g / scale for g in mine_b], weights, biases, X, Y,
                            cost, rows, B)
    summary = f"diagnose: your gradients differ from the engine's ({what})."
    if best is not None:
        return Report(False, summary, _findings(best, names, convention, B), first, worst)
    findings = []
    for name, a, e in zip(names, mine, ref):
        if name.startswith("dW") and _rank_one(a, e):
            findings.append(Finding("elementwise_product", [name], (
                f"{name} is an outer product of two vectors (rank 1), but with B={B} samples the true "
                f"gradient sums B outer products, delta @ a.T (rank up to {min(B, *e.shape)}). "
                f"The batch was collapsed before the product: elementwise * (broadcasting (n,1) * (1,m)), "
                f"np.outer, or a sum/mean over the batch where the matrix product @ belongs.")))
    shape_bad = [(n, a, e) for n, a, e in zip(names, mine, ref)
                 if a.shape != e.shape and a.size != e.size]
    if shape_bad:
        findings.append(Finding("wrong_shape", [n for n, _, _ in shape_bad], "\n".join(
            f"{n} has shape {_fmt(a.shape)}; the gradient of a parameter has the parameter's shape {_fmt(e.shape)}."
            for n, a, e in shape_bad)))
    if not findings:
        summary += " No single known bug reproduces your numbers; compare the first differing entry " \
                   "with `tinygrad-mnist explain` to see the formula for that gradient."
    return Report(False, summary, findings, first, worst)


def _findings(best, names, convention, B) -> List[Finding]:
    plant, reverse, locals_w, locals_b = best
    msgs = _messages(convention, B)
    L = len(locals_w)
    out = []
    if reverse:
        out.append(Finding("wrong_layer_order", [], msgs["wrong_layer_order"]))
    if plant.key != "none":
        key, _, variant = plant.key.partition(":")
        if key == "ce_delta":
            out.append(Finding("ce_delta", [f"delta^{L}"], "your " + CE_VARIANTS[variant]))
        elif variant in WHERE:
            out.append(Finding(key, [], f"{msgs[key]}\n(found {WHERE[variant]})"))
        else:
            out.append(Finding(key, [], msgs[key]))
    kinds: Dict[str, List[str]] = {}
    for l, loc in enumerate(locals_w):
        for k in loc.kinds():
            kinds.setdefault(k, []).append(names[l])
    for l, loc in enumerate(locals_b):
        for k in loc.kinds():
            kinds.setdefault(k, []).append(names[L + l])
    for k in ("transposed", "bias_not_summed", "missing_1_over_B", "extra_1_over_B", "wrong_sign"):
        if k in kinds:
            out.append(Finding(k, kinds[k], msgs[k]))
    return out


# ------------------------------------------------------------------ a learner's file
def load_backprop_function(path) -> Callable:
    """Import the file at ``path`` and return its ``backprop(weights, biases, x, y)`` function.

    Raises FileNotFoundError, IsADirectoryError, or ValueError naming the file when it is not a
    regular file (a pipe would block the import), cannot be imported or defines no callable
    ``backprop``.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "is a directory; expected a .py file defining backprop()", path)
    if os.path.exists(path) and not os.path.isfile(path):
        raise ValueError(f"{path}: not a regular file (a pipe or a device?); expected a .py file "
                         f"defining backprop()")
    if not os.path.isfile(path):
        raise FileNotFoundError(errno.ENOENT, "No such file", path)
    name = "_learner_backprop_" + re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise ValueError(f"{path}:{e.lineno}: syntax error: {e.msg}") from None
    except Exception as e:  # the learner's module code: report it, do not hide it
        raise ValueError(f"{path}: importing it raised {type(e).__name__}: {e}") from None
    fn = getattr(module, "backprop", None)
    if not callable(fn):
        raise ValueError(f"{path}: defines no function backprop(weights, biases, x, y)")
    return fn


_BROADCAST = re.compile(r"shapes \(([\d, ]*)\)\s*\(([\d, ]*)\)")


def _shapes_in(message: str) -> Optional[Tuple[tuple, tuple]]:
    m = _BROADCAST.search(message)
    if not m:
        return None
    parse = lambda s: tuple(int(v) for v in s.replace(" ", "").split(",") if v)  # noqa: E731
    return parse(m.group(1)), parse(m.group(2))


def _exception_report(e: BaseException, fn: Callable, what: str) -> Report:
    where = ""
    filename = getattr(getattr(fn, "__code__", None), "co_filename", None)
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == filename]
    if frames:
        f = frames[-1]
        where = f" at line {f.lineno}: {f.line}"
    summary = f"diagnose: your backprop raised {type(e).__name__}{where} ({what})."
    text = str(e)
    pair = _shapes_in(text) if isinstance(e, ValueError) else None
    if pair and len(pair[0]) == 2 and len(pair[1]) == 2:
        a, b = pair
        if a[1] == b[0] or b[1] == a[0]:
            left, right = (a, b) if a[1] == b[0] else (b, a)
            return Report(False, summary, [Finding("elementwise_product", [], (
                f"{text}\nShapes {_fmt(left)} and {_fmt(right)} are the operands of a matrix product "
                f"{_fmt(left)} @ {_fmt(right)} -> {_fmt((left[0], right[1]))}; elementwise * needs equal shapes "
                f"(or 1s). Use @ (np.dot) here. With one sample (B=1) * happens to give the outer "
                f"product, which is why this only fails on a batch."))])
        return Report(False, summary, [Finding("wrong_shape", [], (
            f"{text}\nTwo arrays whose shapes do not fit: check each term's shape against "
            f"`tinygrad-mnist explain --columns` (column form) or `explain` (row form)."))])
    return Report(False, summary, [Finding("exception", [], f"{type(e).__name__}: {text}")])


def diagnose_function(fn: Callable, model: Module, x, y, loss: str = "quadratic",
                      convention: str = "columns", reduction: str = "mean") -> Report:
    """Run a learner's ``fn(weights, biases, x, y) -> (nabla_w, nabla_b)`` on ``backprop_inputs``
    (float64 copies in ``convention``) and ``diagnose`` the result. An exception inside ``fn`` is
    reported (with the line of the learner's code), not raised: a broadcast error between the
    operands of a matrix product is named as ``*`` where ``@`` belongs. ``reduction`` as in ``diagnose``.
    """
    args = backprop_inputs(model, x, y, convention, loss)
    X = args[2].T if convention == "columns" else args[2]
    what = f"{loss} cost, B={X.shape[0]}, {convention} convention"
    try:
        with np.errstate(all="ignore"):
            result = fn(*args)
    except Exception as e:  # the learner's code failed: that IS the diagnosis
        return _exception_report(e, fn, what)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        return Report(False, f"diagnose: backprop must return (nabla_w, nabla_b), got {type(result).__name__} "
                             f"({what}).", [Finding("wrong_return_value", [], "return two lists: the weight "
                                                    "gradients and the bias gradients, first layer first.")])
    bad = "return (nabla_w, nabla_b), two lists holding one array per layer, first layer first."
    try:
        grads = (list(result[0]), list(result[1]))
    except TypeError:
        return Report(False, f"diagnose: backprop must return two lists, got {type(result[0]).__name__} and "
                             f"{type(result[1]).__name__} ({what}).", [Finding("wrong_return_value", [], bad)])
    empty = [f"{kind}[{i}]" for kind, gs in zip(("nabla_w", "nabla_b"), grads) for i, g in enumerate(gs) if g is None]
    if empty:
        return Report(False, f"diagnose: backprop left {', '.join(empty)} as None ({what}).",
                      [Finding("wrong_return_value", [], bad)])
    try:
        return diagnose(grads, model, X, y, loss, convention, reduction)
    except TypeError as e:  # non-numeric entries
        return Report(False, f"diagnose: {e} ({what}).", [Finding("wrong_return_value", [], bad)])
