"""The bugs ``diagnose`` can name, as numbers: the textbook backprop with a bug planted
(``planted_backprop``), the slips that touch one gradient at a time (transposed, times B,
divided by B, negated, bias unsummed), and the search for the cheapest explanation of a
learner's gradients. NumPy and ``manual`` only. Leaves out: the messages (``diagnose.py``).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from .. import manual

RTOL = 1e-4  # the learner may work in float32; every planted bug changes far more than this


# ------------------------------------------------------------------ planted backprop
@dataclass(frozen=True)
class Plant:
    """A bug planted in the backward pass (cost 1), or none (``Plant()``, cost 0). ``key`` is
    the cause ("sigmoid_prime_of_activation:hidden", "ce_delta:logits", ...)."""
    key: str = "none"
    sprime_output: str = "z"     # "z": s'(z), correct; "a": s'(a); "z_shortcut": z (1 - z)
    sprime_hidden: str = "z"
    delta_output: str = "correct"
    own_activation: bool = False  # dW^l = delta^l (a^l)^T instead of (a^(l-1))^T

    @property
    def cost(self) -> int:
        return 0 if self.key == "none" else 1


def plants(cost: str) -> List[Plant]:
    """Every bug worth planting for ``cost`` ("quadratic" or "cross_entropy"), Plant() first."""
    plants = [Plant()]
    wheres = [("hidden", dict(sprime_hidden=None))]
    if cost == "quadratic":
        wheres = [("output", dict(sprime_output=None)), ("hidden", dict(sprime_hidden=None)),
                  ("everywhere", dict(sprime_output=None, sprime_hidden=None))]
    for mode, key in (("a", "sigmoid_prime_of_activation"), ("z_shortcut", "derivative_shortcut_on_z")):
        for where, fields_ in wheres:
            plants.append(Plant(f"{key}:{where}", **{k: mode for k in fields_}))
    if cost == "quadratic":
        plants.append(Plant("missing_sigmoid_prime_output", delta_output="no_sprime"))
    else:
        for variant in ("sigmoid", "times_derivative", "logits", "quadratic"):
            plants.append(Plant(f"ce_delta:{variant}", delta_output=variant))
    plants.append(Plant("activation_of_wrong_layer", own_activation=True))
    return plants


def _sprime(mode: str, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    if mode == "z":
        return manual.sigmoid_prime(z)
    if mode == "a":
        return manual.sigmoid_prime(a)
    return z * (1.0 - z)


def planted_backprop(weights, biases, X, Y, cost: str, plant: Plant):
    """Column-form backprop of the MEAN cost with ``plant`` planted: X (n_0, B), Y (n_L, B) one-hot.
    Returns (nabla_w [(n_l, n_{l-1})], nabla_b [(n_l,)], deltas [(n_l, B)])."""
    B = X.shape[1]
    zs, acts = [], [X]
    for l, (W, b) in enumerate(zip(weights, biases)):
        z = W @ acts[-1] + b[:, None]
        zs.append(z)
        last = l == len(weights) - 1
        acts.append(manual.softmax(z, axis=0) if last and cost == "cross_entropy" else manual.sigmoid(z))
    zL, aL = zs[-1], acts[-1]
    if cost == "quadratic":
        delta = aL - Y if plant.delta_output == "no_sprime" else (aL - Y) * _sprime(plant.sprime_output, zL, aL)
    else:
        delta = {"correct": lambda: aL - Y,
                 "sigmoid": lambda: manual.sigmoid(zL) - Y,
                 "times_derivative": lambda: (aL - Y) * aL * (1.0 - aL),
                 "logits": lambda: zL - Y,
                 "quadratic": lambda: (manual.sigmoid(zL) - Y) * manual.sigmoid_prime(zL)}[plant.delta_output]()
    delta = delta / B
    L = len(weights)
    nabla_w, nabla_b, deltas = [None] * L, [None] * L, [None] * L
    for l in range(L - 1, -1, -1):
        deltas[l] = delta
        nabla_w[l] = delta @ (acts[l + 1] if plant.own_activation else acts[l]).T
        nabla_b[l] = delta.sum(axis=1)
        if l > 0:
            delta = (weights[l].T @ delta) * _sprime(plant.sprime_hidden, zs[l - 1], acts[l])
    return nabla_w, nabla_b, deltas


# ------------------------------------------------------------------ local transforms
@dataclass(frozen=True)
class Slips:
    """How one learner gradient relates to a planted version: each non-default part is a slip."""
    transposed: bool = False
    scale: str = "1"             # "1", "B" (missing 1/B) or "1/B" (extra 1/B)
    negated: bool = False
    unsummed: bool = False       # bias: delta returned instead of its sum over the batch

    def kinds(self) -> List[str]:
        out = []
        if self.transposed:
            out.append("transposed")
        if self.scale == "B":
            out.append("missing_1_over_B")
        if self.scale == "1/B":
            out.append("extra_1_over_B")
        if self.negated:
            out.append("wrong_sign")
        if self.unsummed:
            out.append("bias_not_summed")
        return out


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    scale = float(np.max(np.abs(b), initial=0.0))
    return bool(np.all(np.abs(a - b) <= RTOL * np.abs(b) + 1e-7 * scale + 1e-15))


def _match_weight(A: np.ndarray, Wc: np.ndarray, B: int) -> Optional[Slips]:
    """The cheapest local transform taking candidate Wc (learner's orientation) to A, or None."""
    best = None
    for t, s, n in itertools.product((False, True), ("1", "B", "1/B"), (False, True)):
        cand = Wc.T if t else Wc
        if cand.shape != A.shape:
            continue
        cand = cand * {"1": 1.0, "B": B, "1/B": 1.0 / B}[s] * (-1.0 if n else 1.0)
        if _close(A, cand):
            local = Slips(t, s, n)
            if best is None or len(local.kinds()) < len(best.kinds()):
                best = local
    return best


def _match_bias(A: np.ndarray, bc: np.ndarray, delta: np.ndarray, B: int) -> Optional[Slips]:
    """Like _match_weight for a bias: A may be the summed vector (any of (n,), (n,1), (1,n)) or
    the unsummed delta in the learner's orientation (``delta``)."""
    best = None
    for unsummed, s, n in itertools.product((False, True), ("1", "B", "1/B"), (False, True)):
        if unsummed:
            if A.shape != delta.shape or B == 1:
                continue
            cand, got = delta, A
        else:
            if A.size != bc.size or sum(d != 1 for d in A.shape) > 1:
                continue
            cand, got = bc, A.reshape(-1)
        cand = cand * {"1": 1.0, "B": B, "1/B": 1.0 / B}[s] * (-1.0 if n else 1.0)
        if _close(got, cand):
            local = Slips(False, s, n, unsummed)
            if best is None or len(local.kinds()) < len(best.kinds()):
                best = local
    return best


def best_explanation(mine_w, mine_b, weights, biases, X, Y, cost, rows, B):
    """The cheapest (plant, reversed, per-weight transforms, per-bias transforms) reproducing the
    learner's gradients (``mine_w``, ``mine_b`` in their convention, ``rows`` or columns), or None.

    Cost: 1 for a planted bug, 1 for a reversed list, 1 per kind of slip used (transposed on
    every layer is one slip); ties go to the explanation touching fewer gradients.
    """
    best, best_score = None, None
    L = len(weights)
    for plant in plants(cost):
        nw, nb, deltas = planted_backprop(weights, biases, X.T, Y.T, cost, plant)
        for reverse in (False, True):
            if reverse and L == 1:
                continue
            order = list(range(L))[::-1] if reverse else list(range(L))
            locals_w, locals_b = [], []
            for i, l in enumerate(order):
                Wc = nw[l].T if rows else nw[l]
                dc = deltas[l].T if rows else deltas[l]
                lw = _match_weight(mine_w[i], Wc, B)
                lb = _match_bias(mine_b[i], nb[l], dc, B)
                if lw is None or lb is None:
                    break
                locals_w.append(lw)
                locals_b.append(lb)
            else:
                kinds = {k for loc in locals_w + locals_b for k in loc.kinds()}
                touched = sum(bool(loc.kinds()) for loc in locals_w + locals_b)
                score = (plant.cost + reverse + len(kinds), touched)
                if best_score is None or score < best_score:
                    best, best_score = (plant, reverse, locals_w, locals_b), score
    return best
