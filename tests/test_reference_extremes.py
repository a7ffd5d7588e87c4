"""The manual reference on one batch whose samples' logits are ~1000, ~0 and ~-1000.

Every form with a softmax (batch-first, columns, rows, the per-sample loop, one sample, the
loss) must shift each sample by its OWN max: one shift for the whole batch underflows the other
samples' exponentials to 0/0. A one-layer network with W = I and b = 0 makes the logits equal
the inputs, so the expected results are closed forms computed one sample at a time:
delta = (softmax(z) - y) / B, nabla_w = delta^T X, nabla_b = delta summed over the batch.
"""
from __future__ import annotations

import numpy as np
import pytest

from tinygrad_mnist import manual

X = np.array([[1000.0, 999.0, 997.5],
              [0.2, -0.4, 0.1],
              [-1000.0, -1003.0, -999.0]])
B, C = X.shape
WEIGHTS, BIASES = [np.eye(C)], [np.zeros(C)]
LABELS = np.array([1, 0, 2])
TARGETS = {"labels": LABELS,
           "one_hot": np.eye(C)[LABELS],
           "probabilities": np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])}


def log_softmax_of_each(z: np.ndarray) -> np.ndarray:
    """log softmax of every row, each row on its own."""
    rows = []
    for r in z:
        shifted = r - r.max()
        rows.append(shifted - np.log(np.exp(shifted).sum()))
    return np.array(rows)


P = np.exp(log_softmax_of_each(X))


def expected_gradients(target: str):
    y = TARGETS[target] if target != "labels" else TARGETS["one_hot"]
    delta = (P - y) / B
    return delta.T @ X, delta.sum(axis=0)


def test_softmax_shifts_each_sample_by_its_own_max():
    np.testing.assert_allclose(manual.softmax(X, axis=1), P, rtol=1e-12, atol=0)
    np.testing.assert_allclose(manual.softmax(X.T, axis=0), P.T, rtol=1e-12, atol=0)


def test_forward_outputs_in_both_orientations():
    np.testing.assert_allclose(manual.forward(WEIGHTS, BIASES, X, "cross_entropy")[1][-1], P, rtol=1e-12)
    np.testing.assert_allclose(manual.feedforward_columns(WEIGHTS, BIASES, X.T, "cross_entropy"), P.T, rtol=1e-12)


def batch_first(y):
    return manual.backprop(WEIGHTS, BIASES, X, y, "cross_entropy")


def columns(y):
    gw, gb = manual.backprop_columns(WEIGHTS, BIASES, X.T, y if y.ndim == 1 else y.T, "cross_entropy")
    return gw, [g[:, 0] for g in gb]


def rows(y):
    gw, gb = manual.backprop_rows([W.T for W in WEIGHTS], BIASES, X, y, "cross_entropy")
    return [g.T for g in gw], gb


def loop(y):
    gw, gb = manual.backprop_loop(WEIGHTS, BIASES, X, y, "cross_entropy")
    return gw, [g[:, 0] for g in gb]


def each_sample(y):
    """The mean of backprop_sample over the samples, each on its own."""
    per = [manual.backprop_sample(WEIGHTS, BIASES, X[i], y[i], "cross_entropy") for i in range(B)]
    return [np.mean([gw[0] for gw, _ in per], axis=0)], [np.mean([gb[0][:, 0] for _, gb in per], axis=0)]


FORMS = {"batch-first": batch_first, "columns": columns, "rows": rows, "loop": loop, "sample": each_sample}


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_form_gives_the_per_sample_closed_form(form, target):
    (nabla_w,), (nabla_b,) = FORMS[form](TARGETS[target])
    expected_w, expected_b = expected_gradients(target)
    np.testing.assert_allclose(nabla_w, expected_w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(nabla_b, expected_b, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_cross_entropy_loss_of_the_mixed_batch(target):
    y = TARGETS["one_hot"] if target == "labels" else TARGETS[target]
    expected = -(y * log_softmax_of_each(X)).sum() / B
    assert manual.loss(WEIGHTS, BIASES, X, TARGETS[target], "cross_entropy") == pytest.approx(expected, rel=1e-12)
