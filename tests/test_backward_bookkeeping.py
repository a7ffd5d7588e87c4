"""Who owns which gradient array after backward: leaves and retained intermediates get
``.grad`` arrays of their own, which accumulate over backward calls as PyTorch's do, and
which a user may change in place without touching any other tensor's gradient.
(test_engine.py covers graphs, accumulation of leaves and aliasing through pass-through ops.)
"""
from __future__ import annotations

import numpy as np

from tinygrad_mnist import Tensor


def leaf(values) -> Tensor:
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def test_backward_on_a_scalar_leaf_gives_an_owned_writable_grad():
    """The implied seed 1 of a 0-d loss is one shared read-only array: a leaf that IS the loss
    must get a copy, or clipping its .grad in place fails (and would change every seed)."""
    for dtype in (np.float32, np.float64):
        x = Tensor(np.array(2.0, dtype=dtype), requires_grad=True)
        x.backward()
        x.grad *= 3.0
        y = Tensor(np.array(5.0, dtype=dtype), requires_grad=True)
        y.backward()
        assert x.grad == 3.0 and y.grad == 1.0 and x.grad.dtype == dtype


def test_retained_grads_are_owned_arrays():
    """add passes g through unchanged, so a, b and the leaf are all offered the same array."""
    x = leaf([1.0, 2.0])
    a = (x * 2.0).retain_grad()
    b = (a + 0.0).retain_grad()
    g = np.array([3.0, -1.0])
    b.backward(g)
    a.grad += 100.0
    np.testing.assert_array_equal(b.grad, [3.0, -1.0])
    np.testing.assert_array_equal(x.grad, [6.0, -2.0])
    np.testing.assert_array_equal(g, [3.0, -1.0])
    assert not np.shares_memory(a.grad, b.grad)


def test_retained_grads_accumulate_over_backward_calls_like_leaves():
    x = leaf([1.0, -2.0])
    h = (x * 3.0).retain_grad()
    loss = (h * h).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(h.grad, 2 * 2 * h.data)
    np.testing.assert_allclose(x.grad, 2 * 2 * 3 * h.data)
    h.zero_grad()
    assert h.grad is None
