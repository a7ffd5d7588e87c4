"""Numerical stability at extreme inputs: no NaN, no Inf, no NumPy warning, float32 and float64.

Every computation runs under ``strict_numpy()``: warnings become errors, and overflow, division
by zero and invalid operations raise even if someone loosened NumPy's error state. Underflow
stays allowed: exp(-2e4) rounding to 0 is the right answer, not a fault.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import batch_sizes, extreme_arrays, probability_arrays, shapes

from tinygrad_mnist import Tensor

DTYPES = st.sampled_from([np.float32, np.float64])
# float32 keeps ~7 digits: compare with a float64 reference to that precision
TOLERANCE = {np.float32: {"rtol": 1e-5, "atol": 1e-6}, np.float64: {"rtol": 1e-12, "atol": 1e-12}}


@contextmanager
def strict_numpy():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            yield


def reference_log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """Shifted by the max, in float64."""
    x = x.astype(np.float64)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def assert_finite(*arrays):
    for a in arrays:
        assert np.isfinite(a).all(), a


@given(x=shapes(min_dims=1).flatmap(lambda s: extreme_arrays(s, 1e4)), dtype=DTYPES, data=st.data())
def test_softmax_and_log_softmax_with_logits_up_to_1e4(x, dtype, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    with strict_numpy():
        t = Tensor(x.astype(dtype), requires_grad=True)
        p, logp = t.softmax(axis), t.log_softmax(axis)
        assert p.dtype == logp.dtype == dtype
        assert_finite(p.data, logp.data)
        expected = reference_log_softmax(t.data, axis)
        np.testing.assert_allclose(logp.data, expected, **TOLERANCE[dtype])
        np.testing.assert_allclose(p.data, np.exp(expected), **TOLERANCE[dtype])
        np.testing.assert_allclose(p.data.sum(axis=axis), 1.0, rtol=1e-5)
        g = np.random.default_rng(0).standard_normal(x.shape)
        ((p * g).sum() + (logp * g).sum()).backward()
        assert_finite(t.grad)
        assert t.grad.dtype == dtype


@st.composite
def extreme_logits_and_targets(draw):
    B, C = draw(batch_sizes(1, 8)), draw(st.integers(2, 6))
    logits = draw(extreme_arrays((B, C), 1e4))
    labels = draw(hnp.arrays(np.int64, (B,), elements=st.integers(0, C - 1)))
    probs = draw(probability_arrays((B, C))) + 1e-3
    return logits, labels, probs / probs.sum(axis=1, keepdims=True)


@given(data=extreme_logits_and_targets(), dtype=DTYPES)
def test_softmax_cross_entropy_with_logits_up_to_1e4(data, dtype):
    logits, labels, probs = data
    B = len(logits)
    with strict_numpy():
        z = Tensor(logits.astype(dtype), requires_grad=True)
        loss = z.softmax_cross_entropy(labels)
        expected = -reference_log_softmax(z.data, 1)[np.arange(B), labels].mean()
        np.testing.assert_allclose(loss.item(), expected, **TOLERANCE[dtype])
        loss.backward()
        assert_finite(z.grad)
        assert np.abs(z.grad).max() <= 1.0 / B + 1e-6  # (softmax - onehot) / B

        z2 = Tensor(logits.astype(dtype), requires_grad=True)
        y = Tensor(probs.astype(dtype), requires_grad=True)
        loss2 = z2.softmax_cross_entropy(y)
        expected2 = -(y.data * reference_log_softmax(z2.data, 1)).sum() / B
        np.testing.assert_allclose(loss2.item(), expected2, rtol=1e-5 if dtype == np.float32 else 1e-12)
        loss2.backward()
        assert_finite(loss2.data, z2.grad, y.grad)
        assert z2.grad.dtype == y.grad.dtype == dtype


@given(x=shapes().flatmap(lambda s: extreme_arrays(s, 1e3)), dtype=DTYPES)
def test_sigmoid_and_tanh_at_1e3(x, dtype):
    with strict_numpy():
        t = Tensor(x.astype(dtype), requires_grad=True)
        s, th = t.sigmoid(), t.tanh()
        assert s.dtype == th.dtype == dtype
        assert_finite(s.data, th.data)
        # 1/(1+e^-x) = (1 + tanh(x/2)) / 2: a form that cannot overflow, as the reference
        np.testing.assert_allclose(s.data, 0.5 * (1 + np.tanh(t.data.astype(np.float64) / 2)), atol=1e-7)
        assert ((0 <= s.data) & (s.data <= 1)).all() and ((-1 <= th.data) & (th.data <= 1)).all()
        (s + th).sum().backward()
        assert_finite(t.grad)
        assert (t.grad >= 0).all()  # both are increasing


@given(shape=shapes(), data=st.data(), dtype=DTYPES)
def test_binary_cross_entropy_with_p_exactly_0_and_1(shape, data, dtype):
    p = data.draw(probability_arrays(shape))
    labels = data.draw(st.booleans())
    target = (data.draw(probability_arrays(shape)) > 0.5).astype(np.int64) if labels \
        else data.draw(probability_arrays(shape))
    with strict_numpy():
        pt = Tensor(p.astype(dtype), requires_grad=True)
        yt = Tensor(target) if labels else Tensor(target.astype(dtype), requires_grad=True)
        loss = pt.binary_cross_entropy(yt)
        assert loss.dtype == dtype
        assert_finite(loss.data)
        assert -1e-6 <= loss.item() <= -np.log(1e-7 if dtype == np.float32 else 1e-12) + 1e-3
        loss.backward()
        assert_finite(pt.grad)
        if not labels:
            assert_finite(yt.grad)
    if np.isin(p, (0.0, 1.0)).all() and np.array_equal(p, target):
        assert loss.item() <= 1e-5  # a perfect prediction costs (almost) nothing, even at the clip


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_at_the_poles_by_hand(dtype):
    with strict_numpy():
        right = Tensor(np.array([0.0, 1.0, 1.0, 0.0], dtype), requires_grad=True)
        loss = right.binary_cross_entropy(np.array([0, 1, 1, 0]))
        loss.backward()
        assert 0 <= loss.item() <= 1e-5
        wrong = Tensor(np.array([0.0, 1.0], dtype), requires_grad=True)
        loss = wrong.binary_cross_entropy(np.array([1.0, 0.0], dtype))
        loss.backward()
        assert 10 < loss.item() < 30  # -log(eps), not inf
        assert_finite(wrong.grad)
        assert wrong.grad[0] < 0 < wrong.grad[1]  # pushes p towards the target
