"""The bugs ``diagnose`` can name as ONE table, ``BUGS``: a row (``Bug``) is a bug's key, title,
message, order in the report, how it is reproduced (``plants``, ``slip``) and what its line
looks like; adding a bug is adding a row. Also the search for the cheapest explanation of a
learner's gradients. NumPy and ``manual`` only. Leaves out: running the learner's code, the report.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .. import manual

RTOL = 1e-4  # the learner may work in float32; every planted bug changes far more than this
COSTS = ("quadratic", "cross_entropy")


# ------------------------------------------------------------------ the kinds of row
@dataclass(frozen=True)
class Plant:
    """A bug in the backward pass, as the textbook formulas with one part replaced; ``Plant()``
    is the textbook itself. Column form, one column per sample: z (n, B), a (n, B), y (n_L, B).

    ``output_sprime(z, a)``: replaces s'(z^L) in the quadratic cost's delta^L = (a - y) s'(z^L).
    ``output_delta(a, z, y)``: replaces the whole delta^L (before the mean's 1/B).
    ``hidden_sprime(z, a)``: replaces s'(z^l) in BP2, delta^l = (W^(l+1))^T delta^(l+1) * s'(z^l).
    ``weight_input(activations, l)``: what BP4 pairs delta^l with (textbook: activations[l]).
    ``costs``: the costs where the bug can occur; ``detail``: a line added to the message
    (where it was found); ``concerns``: the gradient the finding names ("delta^{L}").
    """
    output_sprime: Optional[Callable] = None
    output_delta: Optional[Callable] = None
    hidden_sprime: Optional[Callable] = None
    weight_input: Optional[Callable] = None
    costs: Tuple[str, ...] = COSTS
    detail: str = ""
    concerns: str = ""


@dataclass(frozen=True)
class Slip:
    """A bug that changes one returned gradient: ``transform(g, ctx)`` turns the expected
    gradient ``g`` (learner's orientation) into the wrong one, or returns None where the slip
    cannot show (``ctx`` is a ``SlipContext``). Slips of one ``group`` exclude each other (a
    gradient is scaled once); groups apply in the order they first appear in the table.
    ``applies_to``: "weights", "biases" or "both"; ``step_only``: only an update step can show
    it (eta applied twice, a parameter never updated)."""
    group: str
    applies_to: str
    transform: Callable
    step_only: bool = False


class SlipContext(NamedTuple):
    """What a slip may use: the batch size, the learning rate (steps), the unsummed delta of
    the layer in the learner's orientation (n_out, B) or (B, n_out)."""
    B: int
    lr: Optional[float]
    delta: np.ndarray


@dataclass(frozen=True)
class Bug:
    """One row of the table: everything ``diagnose`` knows about one bug.

    ``key``: what ``Report.causes`` holds; ``title``: how the report names it; ``message``: what
    went wrong and the fix, a template with the fields of ``Context.fields`` ({B}, {lr},
    {update}, {bp4}, {bias_sum}, {sample_axis}); ``step_message``: the same for a gradient read
    from an update step, when it reads differently; ``order``: its place among the findings.
    ``plants``: variant -> Plant, the backward passes with this bug ("" when it has no variants);
    ``slip``: its effect on one returned gradient. ``lines``/``step_lines``: regular expressions
    for the learner's line (most telling first), searched in the checked code.
    """
    key: str
    title: str
    message: str
    order: int
    plants: Mapping[str, Plant] = field(default_factory=dict)
    slip: Optional[Slip] = None
    step_message: Optional[str] = None
    lines: Tuple[str, ...] = ()
    step_lines: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Context:
    """How the learner's numbers were obtained, for the messages: batch size, row or column
    convention, and whether they were read from an update step (``lr``, ``update``)."""
    B: int
    rows: bool = False
    step: bool = False
    lr: Optional[float] = None
    update: str = "your update"

    def fields(self) -> Dict[str, object]:
        rows = self.rows
        return {
            "B": self.B, "lr": self.lr, "update": self.update,
            "sample_axis": "row" if rows else "column",
            "bias_sum": "db = delta.sum(axis=0)." if rows else "db = delta.sum(axis=1, keepdims=True).",
            "bp4": ("In row form (z = x @ W + b, W (n_in,n_out)) dW = a_prev.T @ delta, not delta.T @ a_prev."
                    if rows else "In column form dC/dW^l = delta^l @ (a^(l-1)).T (BP4), shape (n_out,n_in), "
                                 "not a^(l-1) @ delta.T."),
        }


def message(bug: Bug, ctx: Context) -> str:
    """The bug's message for this context (the step's wording when read from a step)."""
    template = bug.step_message if ctx.step and bug.step_message else bug.message
    return template.format(**ctx.fields())


# ------------------------------------------------------------------ the table
def _sprime_z(z, a):
    return manual.sigmoid_prime(z)


def _sprime_a(z, a):        # s'(a) = s(s(z)) (1 - s(s(z))): the derivative taken at the activation
    return manual.sigmoid_prime(a)


def _shortcut_z(z, a):      # a (1 - a) written with z
    return z * (1.0 - z)


def _one(z, a):             # the factor left out
    return 1.0


# Rows with neither plants nor slip (wrong_layer_order, elementwise_product, wrong_shape, ...)
# are found by dedicated checks in diagnose.py and report.py; the table gives their words.
Q, CE = ("quadratic",), ("cross_entropy",)
OUTPUT = "(found in the output layer's delta^L)"
HIDDEN = "(found in the hidden layers' deltas (BP2))"
EVERYWHERE = "(found in every layer's delta)"

# Where a bug usually sits in a learner's code, as regular expressions on one line. The
# delta^L line names the cost derivative (a - y, cost_derivative, error, target); a weight
# gradient is assigned to nabla_w / dW / grad_w, or added to the weights in place.
DELTA_L = r"\bdelta\w*\s*=[^=].*(cost_derivative|\w\s*-\s*y\b|\by\s*-|target|error|loss)"
DELTA_ANY = r"\bdelta\w*\s*=[^=]"
WEIGHT_GRAD = (r"(nabla_w\w*|grad_?w\w*)\[[^\]]*\]\s*\+?=[^=]", r"\bd_?W\w*(\[[^\]]*\])?\s*\+?=[^=]",
               r"weights?\w*\s*[-+]=", r"\b(nabla_w|d_?W\w*|grad_?w\w*)\b[^=]*=[^=].*(dot|@)")
BIAS_GRAD = (r"(nabla_b\w*|grad_?b\w*)\[[^\]]*\]\s*\+?=[^=]", r"\bd_?b\w*(\[[^\]]*\])?\s*\+?=[^=]",
             r"bias(es)?\w*\s*[-+]=", r"\b(nabla_b|d_?b\w*|grad_?b\w*)\b[^=]*=[^=].*(delta|sum)")
STEP = r"(weights?|bias(es)?|\bW\w*|\bb\w*|\bw\w*)\s*[-+]?=.*\b(eta|lr|learning_rate|alpha)\b"

BUGS: Tuple[Bug, ...] = (
    Bug("wrong_layer_order", "wrong layer order",
        "the gradient lists run last layer first: nabla_w[0] must be the first layer's gradient "
        "(shaped like weights[0]) and nabla_w[-1] the output layer's, as in Nielsen's code, "
        "which fills them from the back with negative indices.", order=10,
        lines=(r"(nabla_[wb]|grad\w*|\bd[Wb]\w*)\w*\.(append|insert)\(",)),
    # ---- planted in the backward pass: at most one of these per explanation
    Bug("sigmoid_prime_of_activation", "s'() applied to the activation instead of z",
        "s'() was applied to the activation instead of z: sigmoid_prime(a) computes s(s(z)) (1 - s(s(z))). "
        "Use sigmoid_prime(z) (Nielsen: sigmoid_prime(zs[-l])), or a * (1 - a) with the activation.", order=20,
        plants={"output": Plant(output_sprime=_sprime_a, costs=Q, detail=OUTPUT),
                "hidden": Plant(hidden_sprime=_sprime_a, detail=HIDDEN),
                "everywhere": Plant(output_sprime=_sprime_a, hidden_sprime=_sprime_a, costs=Q, detail=EVERYWHERE)},
        lines=(r"(prime|deriv\w*)\s*\(\s*(self\.)?(activations?|outputs?|acts?|a\d*|h\d*)\b",)),
    Bug("derivative_shortcut_on_z", "a(1-a) applied to z instead of the activation",
        "the shortcut s'(z) = a (1 - a) was applied to z: z * (1 - z) is not the derivative. "
        "Use a * (1 - a) with the activation a = s(z), or sigmoid_prime(z).", order=21,
        plants={"output": Plant(output_sprime=_shortcut_z, costs=Q, detail=OUTPUT),
                "hidden": Plant(hidden_sprime=_shortcut_z, detail=HIDDEN),
                "everywhere": Plant(output_sprime=_shortcut_z, hidden_sprime=_shortcut_z, costs=Q,
                                    detail=EVERYWHERE)},
        lines=(r"\bz\w*(\[[^\]]*\])?\s*\*\s*\(\s*1(\.0*)?\s*-\s*z",)),
    Bug("missing_sigmoid_prime_output", "delta^L without s'(z^L)",
        "delta^L lacks the s'(z^L) factor: with the quadratic cost and sigmoid outputs, "
        "delta^L = (a^L - y) * s'(z^L) (BP1). (a^L - y) alone is the cross-entropy delta.", order=22,
        plants={"": Plant(output_sprime=_one, costs=Q)},
        lines=(DELTA_L,)),
    Bug("missing_sigmoid_prime_hidden", "hidden delta without s'(z^l)",
        "a hidden layer's delta lacks the s'(z^l) factor: BP2 is "
        "delta^l = ((W^(l+1))^T delta^(l+1)) * s'(z^l); the error sent back through the weights is "
        "only dC/da^l, and the sigmoid between a^l and z^l multiplies it by s'(z^l) = a^l (1 - a^l).",
        order=23, plants={"": Plant(hidden_sprime=_one, detail=HIDDEN)},
        lines=(r"^(?!.*(prime|deriv|1(\.0*)?\s*-)).*" + DELTA_ANY,)),
    Bug("ce_delta", "softmax cross-entropy delta^L is not (p - y)/B",
        "your delta^L is not the one of softmax + cross-entropy, (softmax(z^L) - y) / B:", order=24,
        plants={"sigmoid": Plant(
                    output_delta=lambda a, z, y: manual.sigmoid(z) - y, costs=CE, concerns="delta^{L}",
                    detail="delta^L = s(z^L) - y: sigmoid outputs (Nielsen's network2); the engine's "
                           "cross-entropy is softmax + log loss, where delta^L = (softmax(z^L) - y) / B."),
                "times_derivative": Plant(
                    output_delta=lambda a, z, y: (a - y) * a * (1.0 - a), costs=CE, concerns="delta^{L}",
                    detail="delta^L = (p - y) * p (1 - p): with softmax + cross-entropy the derivative of "
                           "the softmax cancels against the log; delta^L = (p - y) / B, nothing more."),
                "logits": Plant(
                    output_delta=lambda a, z, y: z - y, costs=CE, concerns="delta^{L}",
                    detail="delta^L = z^L - y: the raw outputs were used; apply softmax first: "
                           "delta^L = (softmax(z^L) - y) / B."),
                "quadratic": Plant(
                    output_delta=lambda a, z, y: (manual.sigmoid(z) - y) * manual.sigmoid_prime(z), costs=CE,
                    concerns="delta^{L}",
                    detail="delta^L = (s(z^L) - y) * s'(z^L): that is the quadratic cost's delta; the "
                           "engine's cross-entropy on softmax has delta^L = (p - y) / B.")},
        lines=(DELTA_L,)),
    Bug("activation_of_wrong_layer", "weight gradient paired with the wrong layer's activation",
        "each weight gradient was paired with its own layer's activation: BP4 takes the PREVIOUS "
        "layer's, dC/dW^l = delta^l (a^(l-1))^T (Nielsen: activations[-l-1], where activations[0] is x).",
        order=25, plants={"": Plant(weight_input=lambda acts, l: acts[l + 1])}, lines=WEIGHT_GRAD),
    # ---- slips: what happens to one returned gradient
    Bug("transposed", "transposed gradient",
        "these gradients are transposed: a gradient always has its parameter's shape. {bp4}", order=30,
        slip=Slip("form", "weights", lambda g, c: g.T), lines=WEIGHT_GRAD),
    Bug("bias_not_summed", "bias gradient not summed over the batch",
        "the bias gradient was not summed over the batch: it has one {sample_axis} per sample. The bias "
        "is added to every sample in the forward pass, so its gradient adds up delta over the batch: "
        "{bias_sum}", order=31,
        slip=Slip("form", "biases", lambda g, c: c.delta if c.B > 1 else None), lines=BIAS_GRAD),
    Bug("missing_1_over_B", "missing 1/B (sum over the batch instead of the mean)",
        "these gradients are B={B} times the engine's: the cost is the MEAN over the batch, "
        "C = 1/B sum_x C_x, so delta^L carries a factor 1/B. Divide delta^L by B once "
        "(or divide the summed gradients by B). Nielsen's backprop() returns one sample's "
        "gradient and update_mini_batch() divides the sum by len(mini_batch).", order=32,
        slip=Slip("scale", "both", lambda g, c: g * c.B if c.B > 1 else None),
        step_message="the step is B={B} times too big: {update} moved the parameters by eta times the SUM "
                     "of the mini-batch's gradients; gradient descent on the mean cost moves them by eta "
                     "times the MEAN: W - (eta/len(mini_batch)) * sum of nabla_w, as in the book.",
        lines=(DELTA_L,), step_lines=(STEP,)),
    Bug("extra_1_over_B", "extra 1/B (divided by the batch size twice)",
        "these gradients are 1/B (B={B}) of the engine's: the batch size was divided out twice, "
        "e.g. in delta^L and again when averaging, or the bias was averaged instead of summed "
        "after delta^L already carried the 1/B.", order=33,
        slip=Slip("scale", "both", lambda g, c: g / c.B if c.B > 1 else None),
        step_message="the step is 1/B (B={B}) of what it should be: {update} divided by len(mini_batch) "
                     "twice (or averaged gradients that were already means).",
        lines=(r"/\s*(len\(|B\b|n\b|batch|m\b|x\.shape)", DELTA_L), step_lines=(STEP,)),
    Bug("wrong_sign", "wrong sign (gradient ascent)",
        "these gradients have the wrong sign: they point uphill, so W -= lr * dW would climb the "
        "cost (gradient ascent). The cost derivative is (a^L - y), not (y - a^L).", order=34,
        slip=Slip("sign", "both", lambda g, c: -g),
        step_message="the step goes uphill: {update} moved the parameters along +gradient, which climbs "
                     "the cost. Gradient descent is W - eta * nabla_w (with the cost derivative a^L - y).",
        lines=(r"(\(|=|return)\s*(self\.)?\b(y|targets?|labels?|desired\w*|expected\w*)\b\s*-\s*\w",),
        step_lines=(r"\b[wbWB]\w*\s*\+\s*\(?\s*(eta|lr|learning_rate|alpha)\b", r"(weights?|bias(es)?|\b[wbWB]\w*)\s*[-+]=",
                    r"(\(|=|return)\s*(self\.)?\b(y|targets?|labels?)\b\s*-\s*\w")),
    Bug("eta_twice", "learning rate applied twice",
        "the step is eta={lr} times the gradient step: eta was applied twice, e.g. "
        "W - eta * (eta/len(mini_batch)) * sum of nabla_w, or once in the gradient and again in the update.",
        order=35, slip=Slip("scale", "both", lambda g, c: g * c.lr if c.lr not in (None, 1.0) else None,
                            step_only=True),
        step_lines=(r"\b(eta|lr|learning_rate|alpha)\b.*\b\1\b",)),
    Bug("not_updated", "parameters not updated",
        "these parameters did not change in {update}: they are never assigned (the book's update_mini_batch "
        "assigns both: self.weights = [w-(eta/len(mini_batch))*nw ...] and "
        "self.biases = [b-(eta/len(mini_batch))*nb ...]).", order=36,
        slip=Slip("scale", "both", lambda g, c: np.zeros_like(g), step_only=True)),
    # ---- found by dedicated checks in diagnose.py
    Bug("elementwise_product", "elementwise * where a matrix product @ belongs",
        "elementwise * (or np.outer, or a sum over the batch) where the matrix product @ belongs.", order=40,
        lines=(r"(nabla_w|\bd_?W\w*|grad_?w\w*).*=.*[^*]\*[^*]",)),
    Bug("wrong_shape", "wrong shape", "a gradient has its parameter's shape.", order=41),
    Bug("wrong_number_of_layers", "wrong number of layers", "return one gradient per layer in each list.",
        order=42),
    Bug("wrong_return_value", "wrong return value",
        "return (nabla_w, nabla_b), two lists holding one array per layer, first layer first.", order=43,
        lines=(r"^\s*return\b",)),
    Bug("exception", "your code raised an exception", "the exception and its line are above.", order=44),
)


def table(bugs: Sequence[Bug] = BUGS) -> Dict[str, Bug]:
    """{key: row}; the keys must be unique (a duplicate is a ValueError naming it)."""
    out: Dict[str, Bug] = {}
    for bug in bugs:
        if not isinstance(bug, Bug):
            raise TypeError(f"the bug table holds Bug rows, got {type(bug).__name__}")
        if bug.key in out:
            raise ValueError(f"the bug table has two rows with the key {bug.key!r}")
        out[bug.key] = bug
    return out


# ------------------------------------------------------------------ planted backprop
class Planted(NamedTuple):
    """One backward pass to compare with: the textbook (``bug`` None) or a row's variant."""
    bug: Optional[Bug]
    variant: str
    plant: Plant

    @property
    def key(self) -> str:
        if self.bug is None:
            return "none"
        return f"{self.bug.key}:{self.variant}" if self.variant else self.bug.key


def plants(cost: str, bugs: Sequence[Bug] = BUGS) -> List[Planted]:
    """Every backward pass worth comparing with for ``cost``: the textbook first, then each
    row's variants that can occur with this cost, in table order."""
    out = [Planted(None, "", Plant())]
    for bug in bugs:
        for variant, plant in bug.plants.items():
            if cost in plant.costs:
                out.append(Planted(bug, variant, plant))
    return out


def planted_backprop(weights, biases, X, Y, cost: str, plant: Plant = Plant()):
    """Column-form backprop of the MEAN cost with ``plant`` in it: X (n_0, B), Y (n_L, B) one-hot.
    Returns (nabla_w [(n_l, n_{l-1})], nabla_b [(n_l,)], deltas [(n_l, B)])."""
    B = X.shape[1]
    zs, acts = manual.forward_columns(weights, biases, X, cost)
    zL, aL = zs[-1], acts[-1]
    if plant.output_delta is not None:
        delta = plant.output_delta(aL, zL, Y)
    elif cost == "quadratic":
        delta = (aL - Y) * (plant.output_sprime or _sprime_z)(zL, aL)
    else:
        delta = aL - Y
    delta = delta / B
    hidden = plant.hidden_sprime or _sprime_z
    L = len(weights)
    nabla_w, nabla_b, deltas = [None] * L, [None] * L, [None] * L
    for l in range(L - 1, -1, -1):
        deltas[l] = delta
        paired = plant.weight_input(acts, l) if plant.weight_input is not None else acts[l]
        nabla_w[l] = delta @ paired.T
        nabla_b[l] = delta.sum(axis=1)
        if l > 0:
            delta = (weights[l].T @ delta) * hidden(zs[l - 1], acts[l])
    return nabla_w, nabla_b, deltas


# ------------------------------------------------------------------ slips
def close(a: np.ndarray, b: np.ndarray) -> bool:
    """a == b to RTOL, with an absolute floor relative to b's largest entry."""
    if a.shape != b.shape:
        return False
    scale = float(np.max(np.abs(b), initial=0.0))
    return bool(np.all(np.abs(a - b) <= RTOL * np.abs(b) + 1e-7 * scale + 1e-15))


def _fits(got: np.ndarray, cand: np.ndarray) -> Optional[np.ndarray]:
    """``got`` shaped for comparing with ``cand``: a summed bias (cand 1-D) may come as (n,),
    (n,1) or (1,n); everything else must have cand's shape. None when it cannot fit."""
    if cand.ndim == 1:
        if got.size != cand.size or sum(d != 1 for d in got.shape) > 1:
            return None
        return got.reshape(-1)
    return got if got.shape == cand.shape else None


def slip_combinations(bugs: Sequence[Bug], kind: str, step: bool) -> List[Tuple[Bug, ...]]:
    """Every set of slips one gradient of ``kind`` ("weights"/"biases") can carry, at most one
    per group, groups in table order; the empty set first, then by size."""
    groups: Dict[str, List[Bug]] = {}
    for bug in bugs:
        s = bug.slip
        if s is not None and s.applies_to in (kind, "both") and (step or not s.step_only):
            groups.setdefault(s.group, []).append(bug)
    combos = [tuple(b for b in choice if b is not None)
              for choice in itertools.product(*[[None] + members for members in groups.values()])]
    return sorted(combos, key=len)


def cheapest_slips(got: np.ndarray, expected: np.ndarray, combos: Sequence[Tuple[Bug, ...]],
                   ctx: SlipContext) -> Optional[Tuple[Bug, ...]]:
    """The smallest set of slips taking ``expected`` to ``got`` (to RTOL), or None."""
    for combo in combos:
        cand = expected
        for bug in combo:
            cand = bug.slip.transform(cand, ctx)
            if cand is None:
                break
        if cand is None:
            continue
        fitted = _fits(got, cand)
        if fitted is not None and close(fitted, cand):
            return combo
    return None


# ------------------------------------------------------------------ the search
@dataclass
class Explanation:
    """The cheapest account of a learner's gradients: a planted bug (or the textbook), whether
    the lists were reversed, and the slips of each weight and bias gradient (first layer first)."""
    planted: Planted
    reverse: bool
    slips_w: List[Tuple[Bug, ...]]
    slips_b: List[Tuple[Bug, ...]]


def best_explanation(mine_w, mine_b, weights, biases, X, Y, cost, rows, B, *, bugs: Sequence[Bug] = BUGS,
                     step: bool = False, lr: Optional[float] = None) -> Optional[Explanation]:
    """The cheapest ``Explanation`` reproducing the learner's gradients (``mine_w``, ``mine_b``
    in their convention, ``rows`` or columns, of the mean cost), or None.

    X (B, n_0) and Y (B, n_L) one-hot are rows; ``weights``/``biases`` in column form.
    Cost: 1 for a planted bug, 1 for reversed lists, 1 per kind of slip used (transposed on
    every layer is one slip); ties go to the explanation touching fewer gradients, then to the
    earlier row. ``step``: the gradients were read from an update step with learning rate ``lr``,
    so the step-only slips count too.
    """
    combos_w = slip_combinations(bugs, "weights", step)
    combos_b = slip_combinations(bugs, "biases", step)
    best, best_score = None, None
    L = len(weights)
    for planted in plants(cost, bugs):
        nw, nb, deltas = planted_backprop(weights, biases, X.T, Y.T, cost, planted.plant)
        for reverse in (False, True):
            if reverse and L == 1:
                continue
            order = list(range(L))[::-1] if reverse else list(range(L))
            slips_w, slips_b = [], []
            for i, l in enumerate(order):
                delta = deltas[l].T if rows else deltas[l]
                ctx = SlipContext(B, lr, delta)
                sw = cheapest_slips(mine_w[i], nw[l].T if rows else nw[l], combos_w, ctx)
                sb = cheapest_slips(mine_b[i], nb[l], combos_b, ctx) if sw is not None else None
                if sb is None:
                    break
                slips_w.append(sw)
                slips_b.append(sb)
            else:
                kinds = {b.key for combo in slips_w + slips_b for b in combo}
                touched = sum(bool(combo) for combo in slips_w + slips_b)
                score = ((planted.bug is not None) + reverse + len(kinds), touched)
                if best_score is None or score < best_score:
                    best, best_score = Explanation(planted, reverse, slips_w, slips_b), score
    return best
