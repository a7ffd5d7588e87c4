"""The op-testing kit: check_op passes correct ops and catches bugs that the easy shapes hide
(square matrices, batch 1, size-1 axes); its strategies work in users' own hypothesis tests."""
import importlib
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mnist import ops
from tinygrad_mnist.errors import GradcheckError
from tinygrad_mnist.gradcheck import gradcheck
from tinygrad_mnist.tensor import Tensor
from tinygrad_mnist.testing import (arrays, broadcastable_shapes, check_op, distinct_values, mlp_sizes,
                                   named_shapes)


def softplus(x):
    y = np.logaddexp(0.0, x)
    return y, (lambda g: g / (1.0 + np.exp(-x)),)


# ---------------------------------------------------------------- correct ops pass
@pytest.mark.parametrize("op, specs", [
    (ops.linear, [("B", "n_in"), ("n_out", "n_in"), ("n_out",)]),
    (ops.matmul, [("n", "k"), ("k", "m")]),
    (ops.mul, ["broadcast", "broadcast"]),
    (softplus, ["any"]),
])
def test_correct_ops_pass(op, specs):
    assert check_op(op, *specs, max_examples=10) >= 3


def test_settings_reach_the_op_and_domains_are_respected():
    assert check_op(ops.sum, ("n", "m"), kwargs={"axis": 1}, max_examples=5) >= 3
    assert check_op(ops.log, "any", low=0.5, high=3.0, max_examples=5) >= 3
    assert check_op(ops.relu, "any", min_abs=0.1, max_examples=5) >= 3


# ---------------------------------------------------------------- ops with kinks pass by default
def leaky_relu(x):
    y = np.where(x > 0, x, 0.01 * x)
    return y, (lambda g: g * np.where(x > 0, 1.0, 0.01),)


def maxpool2x2(x):
    """A 2x2 max-pool as a learner writes it: a mask of the maxima, so a tie shares the gradient."""
    B, C, H, W = x.shape
    windows = x.reshape(B, C, H // 2, 2, W // 2, 2)
    y = windows.max(axis=(3, 5))

    def vjp(g):
        mask = windows == y[:, :, :, None, :, None]
        return (mask * g[:, :, :, None, :, None]).reshape(x.shape)
    return y, (vjp,)


@pytest.mark.parametrize("op, specs, kwargs", [
    (ops.relu, ["any"], {}),
    (ops.max, ["any"], {}),
    (ops.max, [("n", "m")], {"axis": 1}),
    (leaky_relu, ["any"], {}),
    (maxpool2x2, [("B", "C", 4, 6)], {}),
])
def test_correct_ops_with_kinks_pass_with_the_defaults(op, specs, kwargs):
    assert check_op(op, *specs, kwargs=kwargs) >= 25


def test_distinct_false_lets_ties_and_zeros_through():
    """The option's other side: hypothesis then draws ties (all-equal windows) and zeros, where
    a finite difference straddles the kink and the same correct ops fail."""
    with pytest.raises(GradcheckError, match=r"check_op\(maxpool2x2\) with x \(1, 1, 4, 6\)"):
        check_op(maxpool2x2, ("B", "C", 4, 6), distinct=False)
    with pytest.raises(GradcheckError, match=r"check_op\(relu\)"):
        check_op(ops.relu, "any", distinct=False)


def test_an_op_that_raises_on_a_drawn_shape_is_reported_with_the_shapes():
    def first_column(x):
        if x.shape[1] < 2:
            raise IndexError("need two columns")
        return x[:, 0], (lambda g: np.pad(g[:, None], ((0, 0), (0, x.shape[1] - 1))),)
    with pytest.raises(GradcheckError, match=r"check_op\(first_column\) with x \(1, 1\): the op raised "
                                             r"IndexError: need two columns\. .*shape spec"):
        check_op(first_column, ("n", "m"))


@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5)), min_size=1, max_size=3),
       st.integers(0, 2**32 - 1), st.sampled_from([(-2.0, 2.0, 0.0), (0.5, 3.0, 0.0), (-1.0, 1.0, 0.3), (0.0, 1.0, 0.0)]))
def test_distinct_values_are_apart_in_range_and_away_from_zero(shapes, seed, bounds):
    low, high, min_abs = bounds
    out = distinct_values(np.random.default_rng(seed), shapes, low, high, min_abs)
    assert [a.shape for a in out] == shapes
    v = np.sort(np.concatenate([a.ravel() for a in out]))
    assert v[0] >= low and v[-1] <= high
    gap = max(min_abs, (high - low) / (4 * v.size))   # what is kept clear around 0
    step = ((high - low) - 2 * gap) / v.size           # the grid's step is at least this
    assert v.size == 1 or np.diff(v).min() >= step / 2 - 1e-12
    assert np.abs(v).min() >= gap


@given(arrays((3, 4), distinct=True))
def test_arrays_can_be_drawn_distinct(a):
    assert a.shape == (3, 4) and np.unique(a).size == 12 and np.all(np.abs(a) <= 2.0)


# ---------------------------------------------------------------- planted bugs
def row_mean_transposed_axis(x):
    """mean over axis 1, whose VJP divides by the size of the OTHER axis: right only when square."""
    return x.mean(axis=1), (lambda g: np.broadcast_to(g[:, None], x.shape) / x.shape[0],)


def test_a_transposed_axis_bug_that_square_shapes_hide_is_caught():
    square = np.random.default_rng(0).standard_normal((3, 3))
    assert gradcheck(lambda t: Tensor.apply(row_mean_transposed_axis, t), square)  # the bug hides
    with pytest.raises(GradcheckError) as info:
        check_op(row_mean_transposed_axis, ("n", "m"))
    message = str(info.value)
    assert "check_op(row_mean_transposed_axis) with x (2, 3)" in message   # the non-square case
    assert "entry (0, 0)" in message and "finite differences give" in message


def transpose_by_reshape(x):
    """x.T whose VJP reshapes g instead of transposing it: right when a side is 1."""
    return x.T, (lambda g: g.reshape(x.shape),)


def test_a_reshape_for_transpose_bug_that_size_one_dims_hide_is_caught():
    row = np.random.default_rng(0).standard_normal((1, 4))
    assert gradcheck(lambda t: Tensor.apply(transpose_by_reshape, t), row)  # the bug hides
    with pytest.raises(GradcheckError, match=r"x \(2, 3\).*entry"):
        check_op(transpose_by_reshape, ("n", "m"))


def linear_bias_from_first_row(x, W, b):
    """A dense layer whose bias gradient takes the first sample instead of the batch sum."""
    y = x @ W.T + b
    return y, (lambda g: g @ W, lambda g: g.T @ x, lambda g: g[0])


def test_a_bias_bug_that_batch_one_hides_is_caught():
    with pytest.raises(GradcheckError, match=r"input 2 \(shape \(4,\)\)"):
        check_op(linear_bias_from_first_row, ("B", "n_in"), ("n_out", "n_in"), ("n_out",))


def test_a_transposed_weight_gradient_is_caught_on_non_square_shapes():
    def matmul_bad(a, b):
        return a @ b, (lambda g: g @ b.T, lambda g: g.T @ a)    # (m,k) instead of (k,m)
    with pytest.raises(GradcheckError, match=r"matmul_bad.*input 1 .*shape \(3,4\)"):
        check_op(matmul_bad, ("n", "k"), ("k", "m"))


def test_an_op_that_mutates_g_is_caught():
    def double(x):
        def vjp(g):
            g *= 2.0
            return g
        return 2.0 * x, (vjp,)
    with pytest.raises(GradcheckError, match="modified its incoming gradient"):
        check_op(double, "any")


def test_bad_specs_are_rejected():
    with pytest.raises(TypeError, match="shape spec"):
        check_op(ops.exp, [2, 3])
    with pytest.raises(TypeError, match="one shape spec per input"):
        check_op(ops.exp)


def test_without_hypothesis_the_import_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    monkeypatch.delitem(sys.modules, "tinygrad_mnist.testing")
    with pytest.raises(ImportError, match=r"pip install tinygrad_mnist\[testing\] .* or pip install hypothesis"):
        importlib.import_module("tinygrad_mnist.testing")


# ---------------------------------------------------------------- the strategies, reused
@given(broadcastable_shapes().flatmap(lambda shapes: arrays(shapes[0]).map(lambda a: (a, shapes[1]))))
def test_strategies_compose(pair):
    a, other = pair
    assert np.broadcast_shapes(a.shape, other) is not None and np.all(np.abs(a) <= 2.0)


@given(mlp_sizes(max_units=6), named_shapes(("B", "n"), ("m", "n")))
def test_mlp_sizes_and_named_shapes(sizes, shapes):
    assert 2 <= len(sizes) <= 4 and all(1 <= n <= 6 for n in sizes)
    assert shapes[0][1] == shapes[1][1]


@given(arrays((3, 4), low=0.1, high=1.0, min_abs=0.2))
def test_arrays_keep_away_from_zero(a):
    assert np.all(a >= 0.2) and np.all(a <= 1.0)
