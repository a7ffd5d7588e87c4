"""Hand-derived backpropagation for sigmoid MLPs in plain NumPy: the independent reference.

Nielsen's formulas and names (zs, activations, delta, nabla_w, nabla_b) in three conventions:
column form (the book), batch-first form (the engine's; the fast NumPy baseline) and row form
(z = x W + b), for three costs: "quadratic" (the book's), "cross_entropy" (softmax outputs)
and "mse" (PyTorch's MSELoss: the mean over every element, so each sample's cost is averaged over
the n_L outputs too). Imports only NumPy, never the engine; no training loop, data or printing.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Union

import numpy as np
import numpy.typing as npt

Cost = Literal["quadratic", "cross_entropy", "mse"]
Arrays = list[np.ndarray]  # one entry per layer: weights, biases, nabla_w or nabla_b
COSTS = ("quadratic", "cross_entropy", "mse")


# --- helpers shared by every convention -------------------------------------------------------

def sigmoid(z: np.ndarray) -> np.ndarray:
    """s(z) = 1 / (1 + exp(-z)), elementwise; same shape, float32 stays float32.

    For z << 0, exp(-z) overflows to inf and 1 / inf = 0 exactly, so the overflow is silenced.
    """
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    """s'(z) = s(z) * (1 - s(z)), elementwise; same shape as z."""
    s = sigmoid(z)
    return s * (1.0 - s)


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """softmax(z)_j = exp(z_j - max z) / sum_k exp(z_k - max z) along `axis`; same shape as z."""
    e = z - z.max(axis=axis, keepdims=True)  # exp of a value <= 0 cannot overflow
    np.exp(e, out=e)
    e /= e.sum(axis=axis, keepdims=True)
    return e


def one_hot(labels: np.ndarray, n: int, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
    """Integer labels (B,) in [0, n) -> rows (B, n) with a 1 in column labels[i] of row i."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be a 1-D integer array; got dtype {labels.dtype}, "
                         f"shape {labels.shape}")
    _check_labels(labels, n, "labels")
    out = np.zeros((labels.size, n), dtype=dtype)
    out[np.arange(labels.size), labels] = 1
    return out


def init_params(sizes: Sequence[int], rng: Union[np.random.Generator, int, None] = None,
                dtype: npt.DTypeLike = np.float64) -> tuple[Arrays, Arrays]:
    """N(0, 1) weights and biases as in Nielsen's network.py, for layer sizes [n_0, ..., n_L].

    weights[l] (n_{l+1}, n_l), biases[l] (n_{l+1},). `rng` is a numpy Generator or an int seed.
    """
    if len(sizes) < 2 or any(int(n) < 1 for n in sizes):
        raise ValueError(f"sizes must hold at least 2 positive layer sizes; got {list(sizes)}")
    rng = np.random.default_rng(rng)
    weights = [rng.standard_normal((n_out, n_in), dtype=dtype)
               for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    biases = [rng.standard_normal(n_out, dtype=dtype) for n_out in sizes[1:]]
    return weights, biases


def _a_minus_y(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """a - y, as a new array, for targets y of a's shape or integer labels y (B,) with a (B, n)."""
    if y.ndim == a.ndim:
        return a - y
    delta = a.copy()
    delta[np.arange(len(y)), y] -= 1
    return delta


def output_delta(a: np.ndarray, y: np.ndarray, cost: Cost, n_out: Union[int, None] = None) -> np.ndarray:
    """delta^L = dC_x/dz^L, elementwise, so a and y share any orientation (n_L, B) or (B, n_L):

        quadratic:      delta^L = (a^L - y) * s'(z^L),  with s'(z^L) = a^L * (1 - a^L)
        cross_entropy:  delta^L =  a^L - y              (softmax + log loss: the s' cancels)
        mse:            delta^L = 2 (a^L - y) * s'(z^L) / n_L   (C_x = 1/n_L sum_j (a_j - y_j)^2)

    n_out: n_L, the number of output units, which mse averages over (needed for mse only).

    y: targets of a's shape, or integer labels (B,) when a is batch-first (B, n_L), in which
    case a^L - y subtracts 1 at each sample's label without building a one-hot matrix.
    """
    delta = _a_minus_y(a, y)
    if cost == "quadratic":
        delta *= a * (1.0 - a)  # a = s(z^L), so this is s'(z^L) without another exp
    elif cost == "mse":
        if n_out is None:
            raise ValueError("output_delta: cost 'mse' averages over the n_L output units; pass n_out")
        delta *= a * (1.0 - a) * (2.0 / n_out)
    return delta


def _check_labels(labels: np.ndarray, n: int, name: str) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= n):
        raise ValueError(f"{name} holds labels in [{labels.min()}, {labels.max()}]; "
                         f"expected labels in [0, {n})")


def _check_cost(cost: str) -> None:
    if cost not in COSTS:
        raise ValueError(f"cost must be one of {COSTS}; got {cost!r}")


def _layer_sizes(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
                 rows: bool = False, column_biases: bool = False) -> list[int]:
    """Check that the layers chain; return [n_0, ..., n_L]. rows: weights are (n_in, n_out)."""
    if len(weights) == 0 or len(weights) != len(biases):
        raise ValueError(f"weights and biases must be non-empty lists of equal length; got "
                         f"{len(weights)} weights and {len(biases)} biases")
    orient = "(n_in, n_out)" if rows else "(n_out, n_in)"
    sizes: list[int] = []
    for l, (W, b) in enumerate(zip(weights, biases)):
        if W.ndim != 2:
            raise ValueError(f"weights[{l}] has shape {W.shape}; expected a 2-D {orient} matrix")
        n_in, n_out = W.shape if rows else W.shape[::-1]
        if sizes and n_in != sizes[-1]:
            expected = (sizes[-1], n_out) if rows else (n_out, sizes[-1])
            raise ValueError(f"weights[{l}] has shape {W.shape}; expected {expected} {orient} "
                             f"to take the {sizes[-1]} outputs of weights[{l - 1}]")
        if b.shape != (n_out,) and not (column_biases and b.shape == (n_out, 1)):
            wanted = f"({n_out},) or ({n_out}, 1)" if column_biases else f"({n_out},)"
            raise ValueError(f"biases[{l}] has shape {b.shape}; expected {wanted} to match "
                             f"weights[{l}] of shape {W.shape} read as {orient}")
        sizes += [n_in, n_out] if l == 0 else [n_out]
    return sizes


def _targets(y: np.ndarray, B: int, n_out: int, dtype: npt.DTypeLike, name: str = "y",
             columns: bool = False) -> np.ndarray:
    """Integer labels (B,) or dense targets, (B, n_out) or with columns=True (n_out, B).

    Returns dense targets cast to `dtype` (no copy when already so); labels are returned as
    they are, except with columns=True, where they become one-hot columns (n_out, B).
    """
    y = np.asarray(y)
    dense = (n_out, B) if columns else (B, n_out)
    if y.dtype.kind in "iu" and y.shape == (B,):
        _check_labels(y, n_out, name)
        return one_hot(y, n_out, dtype).T if columns else y
    if y.shape != dense:
        raise ValueError(f"{name} has shape {y.shape} (dtype {y.dtype}); expected targets "
                         f"{dense} or integer labels ({B},)")
    return np.asarray(y, dtype=dtype)


# --- 1. column form, as in the book: W (n_out, n_in), a sample is a column x (n_in, 1) --------

def forward_columns(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], X: np.ndarray,
                    cost: Cost = "quadratic") -> tuple[Arrays, Arrays]:
    """Forward pass on columns X (n_0, B) (a 1-D x is one column); returns (zs, activations).

        z^l (n_l, B) = W^l (n_l, n_{l-1}) @ a^{l-1} (n_{l-1}, B) + b^l (n_l, 1)
        a^l (n_l, B) = s(z^l); the output is softmax(z^L) over axis 0 for cross_entropy.

    activations[0] = X; len(zs) = L, len(activations) = L + 1.
    """
    _check_cost(cost)
    sizes = _layer_sizes(weights, biases, column_biases=True)
    X = np.asarray(X)
    X = X.reshape(-1, 1) if X.ndim == 1 else X
    if X.ndim != 2 or X.shape[0] != sizes[0]:
        raise ValueError(f"X has shape {X.shape}; expected columns ({sizes[0]}, B) or "
                         f"({sizes[0]},)")
    zs, activations = [], [X]
    for l, (W, b) in enumerate(zip(weights, biases)):
        z = W @ activations[-1] + b.reshape(-1, 1)
        zs.append(z)
        last = l == len(weights) - 1
        activations.append(softmax(z, axis=0) if last and cost == "cross_entropy" else sigmoid(z))
    return zs, activations


def feedforward_columns(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
                        x: np.ndarray, cost: Cost = "quadratic") -> np.ndarray:
    """The output a^L (n_L, B) for columns x (n_0, B), or (n_L, 1) for x (n_0, 1) or (n_0,)."""
    return forward_columns(weights, biases, x, cost)[1][-1]


def backprop_sample(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], x: np.ndarray,
                    y: Union[np.ndarray, int], cost: Cost = "quadratic") -> tuple[Arrays, Arrays]:
    """Gradient of the cost C_x of ONE sample: Nielsen's backprop, the textbook loop body.

    x (n_0, 1) or (n_0,); y (n_L, 1), (n_L,) or an integer label. For l = L, L-1, ..., 1:
        delta^L (n_L, 1) = (a^L - y) (n_L, 1) * s'(z^L) (n_L, 1)   [cross_entropy: a^L - y]
        delta^l (n_l, 1) = W^{l+1}.T (n_l, n_{l+1}) @ delta^{l+1} (n_{l+1}, 1) * s'(z^l) (n_l, 1)
        nabla_b^l (n_l, 1) = delta^l (n_l, 1)
        nabla_w^l (n_l, n_{l-1}) = delta^l (n_l, 1) @ a^{l-1}.T (1, n_{l-1})
    """
    sizes = _layer_sizes(weights, biases, column_biases=True)
    x = np.asarray(x)
    if x.shape not in ((sizes[0],), (sizes[0], 1)):
        raise ValueError(f"x has shape {x.shape}; expected one sample ({sizes[0]}, 1) or "
                         f"({sizes[0]},)")
    y = np.asarray(y)
    if y.ndim == 0:
        y = y.reshape(1)  # an integer label; _targets makes it a one-hot column
    elif y.shape in ((sizes[-1],), (sizes[-1], 1)):
        y = y.reshape(-1, 1)
    y = _targets(y, 1, sizes[-1], np.result_type(x, *weights), columns=True)
    zs, activations = forward_columns(weights, biases, x, cost)
    nabla_b, nabla_w = [None] * len(weights), [None] * len(weights)
    delta = output_delta(activations[-1], y, cost, sizes[-1])
    nabla_b[-1] = delta
    nabla_w[-1] = delta @ activations[-2].T
    for l in range(2, len(sizes)):  # l counts layers back from the output, as in the book
        delta = (weights[-l + 1].T @ delta) * sigmoid_prime(zs[-l])
        nabla_b[-l] = delta
        nabla_w[-l] = delta @ activations[-l - 1].T
    return nabla_w, nabla_b


def backprop_loop(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], X_rows: np.ndarray,
                  Y: np.ndarray, cost: Cost = "quadratic") -> tuple[Arrays, Arrays]:
    """Mean gradient over a mini-batch by the textbook loop over samples (update_mini_batch).

    X_rows (B, n_0) holds one sample per row; Y (B, n_L) or integer labels (B,).
        nabla_w^l (n_l, n_{l-1}) = 1/B sum_x nabla_w^l_x (n_l, n_{l-1})
        nabla_b^l (n_l, 1) = 1/B sum_x nabla_b^l_x (n_l, 1),  each x's from backprop_sample
    """
    sizes = _layer_sizes(weights, biases, column_biases=True)
    X_rows = np.asarray(X_rows)
    if X_rows.ndim != 2 or X_rows.shape[1] != sizes[0] or len(X_rows) == 0:
        raise ValueError(f"X_rows has shape {X_rows.shape}; expected a non-empty batch "
                         f"(B, {sizes[0]}), one sample per row")
    Y = _targets(Y, len(X_rows), sizes[-1], np.result_type(X_rows, *weights), name="Y")
    nabla_w = [np.zeros(W.shape, dtype=np.result_type(X_rows, W)) for W in weights]
    nabla_b = [np.zeros((W.shape[0], 1), dtype=nw.dtype) for W, nw in zip(weights, nabla_w)]
    for x, y in zip(X_rows, Y):
        delta_nabla_w, delta_nabla_b = backprop_sample(weights, biases, x, y, cost)
        nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
    return [nw / len(X_rows) for nw in nabla_w], [nb / len(X_rows) for nb in nabla_b]


def backprop_columns(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], X: np.ndarray,
                     Y: np.ndarray, cost: Cost = "quadratic") -> tuple[Arrays, Arrays]:
    """Mean gradient over a batch of columns X (n_0, B), Y (n_L, B) or labels (B,), vectorized.

        delta^L (n_L, B) = (a^L - y) (n_L, B) * s'(z^L) (n_L, B) / B
                         [cross_entropy: delta^L = (a^L - y) (n_L, B) / B]
        delta^l (n_l, B) = W^{l+1}.T (n_l, n_{l+1}) @ delta^{l+1} (n_{l+1}, B) * s'(z^l) (n_l, B)
        nabla_b^l (n_l, 1) = sum over columns of delta^l (n_l, B)
        nabla_w^l (n_l, n_{l-1}) = delta^l (n_l, B) @ a^{l-1}.T (B, n_{l-1})
    The 1/B, applied once to delta^L, makes every gradient that of the mean cost.
    """
    zs, activations = forward_columns(weights, biases, X, cost)
    n_out, B = activations[-1].shape
    Y = _targets(Y, B, n_out, activations[-1].dtype, name="Y", columns=True)
    nabla_b, nabla_w = [None] * len(weights), [None] * len(weights)
    delta = output_delta(activations[-1], Y, cost, n_out) / B
    nabla_b[-1] = delta.sum(axis=1, keepdims=True)
    nabla_w[-1] = delta @ activations[-2].T
    for l in range(2, len(weights) + 1):
        delta = (weights[-l + 1].T @ delta) * sigmoid_prime(zs[-l])
        nabla_b[-l] = delta.sum(axis=1, keepdims=True)
        nabla_w[-l] = delta @ activations[-l - 1].T
    return nabla_w, nabla_b


# --- 2. batch-first form, the engine's and PyTorch's: W (n_out, n_in), X (B, n_in) ------------

def forward(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], X: np.ndarray,
            cost: Cost = "quadratic") -> tuple[Arrays, Arrays]:
    """Forward pass on rows X (B, n_0); returns (zs, activations), activations[0] = X.

        z^l (B, n_l) = a^{l-1} (B, n_{l-1}) @ W^l.T (n_{l-1}, n_l) + b^l (n_l,)
        a^l (B, n_l) = s(z^l); the output is softmax(z^L) over axis 1 for cross_entropy.
    """
    _check_cost(cost)
    sizes = _layer_sizes(weights, biases)
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != sizes[0]:
        raise ValueError(f"X has shape {X.shape}; expected a batch (B, {sizes[0]}), "
                         f"one sample per row")
    zs, activations = [], [X]
    for l, (W, b) in enumerate(zip(weights, biases)):
        z = activations[-1] @ W.T  # W.T is a view: BLAS reads it transposed, no copy
        z += b
        zs.append(z)
        last = l == len(weights) - 1
        activations.append(softmax(z, axis=1) if last and cost == "cross_entropy" else sigmoid(z))
    return zs, activations


def backprop(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], X: np.ndarray,
             y: np.ndarray, cost: Cost = "quadratic") -> tuple[Arrays, Arrays]:
    """Mean gradient over the batch X (B, n_0), y (B, n_L) or integer labels (B,).

        delta^L (B, n_L) = (a^L - y) (B, n_L) * s'(z^L) (B, n_L) / B
                         [cross_entropy: delta^L = (a^L - y) (B, n_L) / B;
                          mse: delta^L = 2 (a^L - y) (B, n_L) * s'(z^L) (B, n_L) / (B n_L)]
        delta^l (B, n_l) = delta^{l+1} (B, n_{l+1}) @ W^{l+1} (n_{l+1}, n_l) * s'(z^l) (B, n_l)
        nabla_b^l (n_l,) = sum over rows of delta^l (B, n_l)
        nabla_w^l (n_l, n_{l-1}) = delta^l.T (n_l, B) @ a^{l-1} (B, n_{l-1})
    Returns nabla_w[l] shaped like weights[l] and nabla_b[l] (n_l,); dtype follows X and W.
    """
    zs, activations = forward(weights, biases, X, cost)
    B, n_out = activations[-1].shape
    y = _targets(y, B, n_out, activations[-1].dtype)
    delta = output_delta(activations[-1], y, cost, n_out)
    delta /= B
    nabla_w, nabla_b = [None] * len(weights), [None] * len(weights)
    for l in range(len(weights) - 1, -1, -1):  # weights[l] maps activations[l] to zs[l]
        nabla_w[l] = delta.T @ activations[l]
        nabla_b[l] = delta.sum(axis=0)
        if l > 0:
            a = activations[l]  # = s(zs[l - 1]), so s'(zs[l - 1]) = a * (1 - a)
            delta = delta @ weights[l]
            delta *= a * (1.0 - a)
    return nabla_w, nabla_b


def loss(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], X: np.ndarray,
         y: np.ndarray, cost: Cost = "quadratic") -> float:
    """The mean cost over the batch X (B, n_0), y (B, n_L) or integer labels (B,).

        quadratic:      C = 1/B sum_x 1/2 sum_j (a^L_j - y_j)^2
        mse:            C = 1/(B n_L) sum_x sum_j (a^L_j - y_j)^2   (every element's mean)
        cross_entropy:  C = -1/B sum_x sum_j y_j log a^L_j, with log a^L = log_softmax(z^L)
                        = z^L - max z^L - log sum_k exp(z^L_k - max z^L)  (no overflow, no log 0)
    """
    zs, activations = forward(weights, biases, X, cost)
    B, n_out = zs[-1].shape
    y = _targets(y, B, n_out, zs[-1].dtype)
    if cost == "quadratic":
        return float(0.5 * np.sum(_a_minus_y(activations[-1], y) ** 2) / B)
    if cost == "mse":
        return float(np.sum(_a_minus_y(activations[-1], y) ** 2) / (B * n_out))
    shifted = zs[-1] - zs[-1].max(axis=1, keepdims=True)
    log_a = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    picked = log_a[np.arange(B), y] if y.ndim == 1 else np.sum(y * log_a, axis=1)
    return float(-np.mean(picked))


def sgd_step(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
             nabla_w: Sequence[np.ndarray], nabla_b: Sequence[np.ndarray], lr: float) -> None:
    """Gradient descent, IN PLACE: W^l -= lr * nabla_w^l, b^l -= lr * nabla_b^l for every l.

    The arrays in `weights` and `biases` are modified (same objects, new values); gradients must
    have their parameters' shapes.
    """
    for name, params, grads in (("nabla_w", weights, nabla_w), ("nabla_b", biases, nabla_b)):
        if len(grads) != len(params):
            raise ValueError(f"{name} has {len(grads)} entries; expected {len(params)}")
        for l, (p, g) in enumerate(zip(params, grads)):
            if g.shape != p.shape:
                raise ValueError(f"{name}[{l}] has shape {g.shape}; expected {p.shape}")
            p -= lr * g


# --- 3. row form, "z = x W + b": W_row (n_in, n_out) = W.T, X (B, n_in) ------------------------

def backprop_rows(weights_rows: Sequence[np.ndarray], biases: Sequence[np.ndarray], X: np.ndarray,
                  y: np.ndarray, cost: Cost = "quadratic") -> tuple[Arrays, Arrays]:
    """Mean gradient over X (B, n_0), y (B, n_L) or labels (B,), for z = x @ W_row + b.

        z^l (B, n_l) = a^{l-1} (B, n_{l-1}) @ W_row^l (n_{l-1}, n_l) + b^l (n_l,)
        delta^L (B, n_L) = (a^L - y) (B, n_L) * s'(z^L) (B, n_L) / B
                         [cross_entropy: delta^L = (a^L - y) (B, n_L) / B]
        delta^l (B, n_l) = delta^{l+1} (B, n_{l+1}) @ W_row^{l+1}.T (n_{l+1}, n_l)
                           * s'(z^l) (B, n_l)
        nabla_w_row^l (n_{l-1}, n_l) = a^{l-1}.T (n_{l-1}, B) @ delta^l (B, n_l)   (= nabla_w^l.T)
        nabla_b^l (n_l,) = sum over rows of delta^l (B, n_l)
    """
    _check_cost(cost)
    sizes = _layer_sizes(weights_rows, biases, rows=True)
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != sizes[0]:
        raise ValueError(f"X has shape {X.shape}; expected a batch (B, {sizes[0]})")
    zs, activations = [], [X]
    for l, (W_row, b) in enumerate(zip(weights_rows, biases)):
        z = activations[-1] @ W_row + b
        zs.append(z)
        last = l == len(weights_rows) - 1
        activations.append(softmax(z, axis=1) if last and cost == "cross_entropy" else sigmoid(z))
    y = _targets(y, X.shape[0], sizes[-1], activations[-1].dtype)
    delta = output_delta(activations[-1], y, cost, sizes[-1]) / X.shape[0]
    nabla_w, nabla_b = [None] * len(weights_rows), [None] * len(weights_rows)
    nabla_w[-1], nabla_b[-1] = activations[-2].T @ delta, delta.sum(axis=0)
    for l in range(2, len(sizes)):
        delta = (delta @ weights_rows[-l + 1].T) * sigmoid_prime(zs[-l])
        nabla_w[-l], nabla_b[-l] = activations[-l - 1].T @ delta, delta.sum(axis=0)
    return nabla_w, nabla_b
