"""How fine a net ``gradcheck`` is with its DEFAULT arguments: it must catch a VJP that is 1% off
or has the wrong sign, and must still pass correct ops that are steep (where a coarse
finite-difference step would give false alarms). test_gradcheck.py checks its messages.
"""
from __future__ import annotations

import numpy as np
import pytest

from tinygrad_mnist import GradcheckError, Tensor, gradcheck

X = np.random.default_rng(0).uniform(0.5, 1.5, (3, 4))


def exp_with_vjp_times(factor: float):
    """e^x whose VJP is ``factor`` times the right one."""
    def exp(x):
        y = np.exp(x)
        return y, (lambda g: factor * g * y,)
    return lambda t: Tensor.apply(exp, t)


def test_a_vjp_one_percent_off_fails_with_the_defaults():
    assert gradcheck(exp_with_vjp_times(1.0), X)
    with pytest.raises(GradcheckError):
        gradcheck(exp_with_vjp_times(1.01), X)
    with pytest.raises(GradcheckError):
        gradcheck(exp_with_vjp_times(0.99), X)


def test_a_vjp_one_percent_off_fails_on_a_scalar_output_too():
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: exp_with_vjp_times(1.01)(t).sum(), X)


def test_a_vjp_with_the_wrong_sign_fails():
    with pytest.raises(GradcheckError):
        gradcheck(exp_with_vjp_times(-1.0), X)


@pytest.mark.parametrize("scale", [5.0, 8.0])
def test_steep_correct_ops_pass_with_the_defaults(scale):
    """exp(scale x) at x up to 1.5 has a large third derivative: the default step is small
    enough that truncation error (eps^2 scale^2 / 6, relative) stays far below rtol."""
    assert gradcheck(lambda t: (t * scale).exp(), X)
