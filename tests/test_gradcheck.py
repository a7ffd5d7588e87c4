"""gradcheck itself: it passes correct ops, and a wrong VJP fails with a message that says where.

A checker that always says True would pass every op test, so these tests feed it broken ops.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from strategies import float_arrays, logits_and_labels, shapes

from tinygrad_mnist import GradcheckError, Tensor, gradcheck


def mul_wrong_at(entry: tuple):
    """a * b whose VJP for b is twice the right one at one entry (and right everywhere else)."""
    def mul(a, b):
        def vjp_b(g):
            d = g * a
            d[entry] *= 2.0
            return d
        return a * b, (lambda g: g * b, vjp_b)
    return lambda a, b: Tensor.apply(mul, a, b)


def decimals_in(message: str) -> list[float]:
    """The numbers written with a decimal point: values, not the shape or index integers."""
    return [float(s) for s in re.findall(r"-?\d+\.\d+(?:e[-+]?\d+)?", message)]


@given(x=shapes().flatmap(lambda s: float_arrays(s, np.float64, -2.0, 2.0)))
def test_passes_correct_ops(x):
    assert gradcheck(lambda t: (t * t).tanh() * 3.0 - t.exp(), x) is True


def test_wrong_vjp_names_input_index_and_both_values():
    a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    b = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]])
    with pytest.raises(GradcheckError) as e:
        gradcheck(mul_wrong_at((0, 2)), a, b)
    message = str(e.value)
    assert "input 1" in message and "(0, 2)" in message
    # both values: the finite difference n and the engine's, which is 2n at that entry
    numbers = decimals_in(message)
    assert any(n != 0 and m == pytest.approx(2 * n, rel=1e-6) for n in numbers for m in numbers)
    assert isinstance(e.value, AssertionError)  # so pytest reports it as a failed check


def test_wrong_vjp_of_the_first_input_is_caught_too():
    def double(x):
        return 2 * x, (lambda g: 3 * g,)
    with pytest.raises(GradcheckError, match=r"input 0 .*entry \(0,\)"):
        gradcheck(lambda t: Tensor.apply(double, t), np.array([1.0, 2.0]))


def test_non_scalar_outputs_exercise_every_jacobian_entry():
    """A VJP that ignores g is right for sum(out) but wrong for a random projection of out."""
    def ignores_g(x):
        return 2 * x, (lambda g: np.full(x.shape, 2.0),)
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    assert gradcheck(lambda t: t * 2.0, x)
    assert gradcheck(lambda t: t.softmax(axis=0), x)
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: Tensor.apply(ignores_g, t), x)


@given(data=logits_and_labels(max_batch=5, max_classes=4))
def test_integer_label_inputs_pass_through_in_any_position(data):
    logits, labels = data
    before = labels.copy()
    assert gradcheck(lambda z, y: z.softmax_cross_entropy(y), logits, labels)
    assert gradcheck(lambda y, z: z.quadratic_cost(y), labels, logits)
    np.testing.assert_array_equal(labels, before)


def test_accepts_tensors_and_lists_and_leaves_inputs_alone():
    x32 = Tensor(np.array([0.5, -1.0], dtype=np.float32), requires_grad=True)
    raw = np.array([1.0, 2.0])
    assert gradcheck(lambda a, b, c: (a * b).sum() + c.sum(), x32, raw, [3.0, 4.0])
    np.testing.assert_array_equal(raw, [1.0, 2.0])
    assert x32.grad is None and x32.dtype == np.float32  # gradcheck works on float64 copies


def test_an_output_that_ignores_its_input_has_zero_gradient():
    assert gradcheck(lambda a, b: a * 2.0, np.ones(2), np.ones(3))


def test_fn_must_return_a_tensor():
    with pytest.raises(TypeError, match="must return a Tensor"):
        gradcheck(lambda t: t.data.sum(), np.ones(2))
