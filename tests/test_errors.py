"""Errors that teach: every op, layer and VJP mismatch names the op, the shapes and the rule
broken (ShapeError, a ValueError), and suggests the fix where one fits."""
from __future__ import annotations

import re

import numpy as np
import pytest

from tinygrad_mnist import ShapeError, Tensor, ops
from tinygrad_mnist.errors import fmt_shape


def leaf(values, dtype=np.float64) -> Tensor:
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def test_matmul_mismatch_names_the_op_the_shapes_and_a_fix():
    with pytest.raises(ShapeError) as e:
        Tensor(np.ones((1, 10))) @ Tensor(np.ones((1, 30)))
    assert all(s in str(e.value) for s in ("matmul", "(1,10)", "(1,30)", "did you mean a.T @ b?"))


def test_broadcasting_mismatch_names_the_op_and_both_shapes():
    with pytest.raises(ShapeError) as e:
        Tensor(np.ones((2, 3))) + Tensor(np.ones(4))
    assert all(s in str(e.value) for s in ("add", "(2,3)", "(4,)"))
    assert isinstance(e.value, ValueError)


def T(*shape, dtype=np.float64) -> Tensor:
    return Tensor(np.ones(shape, dtype), requires_grad=True)


# Every op's operand check: (the bad call, the error type, what the message must say). Each
# message names the op, the shapes involved and the rule that was broken.
BAD_OPERANDS = {
    "add": (lambda: T(2, 3) + T(4), ShapeError,
            r"add: \(2,3\) \+ \(4,\): shapes do not broadcast: axis -1 has sizes 3 and 4; .*equal or one of them 1"),
    "sub": (lambda: T(2, 3) - T(3, 2), ShapeError, r"sub: \(2,3\) - \(3,2\): .*axis -1 has sizes 3 and 2"),
    "mul": (lambda: T(4, 2, 3) * T(5, 1, 3), ShapeError, r"mul: \(4,2,3\) \* \(5,1,3\): .*axis -3 has sizes 4 and 5"),
    "div": (lambda: T(5) / T(4), ShapeError, r"div: \(5,\) / \(4,\): shapes do not broadcast"),
    "bias per row": (lambda: T(2, 3) + T(2), ShapeError, r"use b\[:, None\] \(shape \(2,1\)\)"),
    "matmul a.T": (lambda: T(1, 10) @ T(1, 30), ShapeError,
                   r"matmul: \(1,10\) @ \(1,30\): inner dimensions 10 and 1 differ; did you mean a\.T @ b\?"),
    "matmul b.T": (lambda: T(10, 3) @ T(4, 3), ShapeError, r"inner dimensions 3 and 4 differ; did you mean a @ b\.T\?"),
    "matmul x @ W": (lambda: T(784) @ T(30, 784), ShapeError, r"\(784,\) @ \(30,784\): .*did you mean a @ b\.T\?"),
    "matmul scalar": (lambda: T(3) @ Tensor(2.0), ShapeError, r"matmul: scalar operand \(3,\) @ \(\); use \*"),
    "matmul batch": (lambda: T(2, 3, 4) @ T(3, 4, 5), ShapeError,
                     r"matmul: \(2,3,4\) @ \(3,4,5\): batch dimensions \(2,\) and \(3,\) do not broadcast"),
    "reshape": (lambda: T(2, 3).reshape(4, 2), ShapeError,
                r"reshape: cannot reshape \(2,3\) \(6 entries\) to \(4,2\): that holds 8 entries; a reshape keeps"),
    "reshape -1": (lambda: T(2, 3).reshape(-1, -1), ShapeError, r"reshape: .*at most one -1"),
    "transpose range": (lambda: T(2, 3).transpose(0, 2), ShapeError,
                        r"transpose: \(2,3\) with axes \(0, 2\): axis 2 is out of bounds.*each of 0\.\.1 once"),
    "transpose repeat": (lambda: T(2, 3).transpose(0, 0), ShapeError, r"transpose: .*repeated axis"),
    "transpose count": (lambda: T(2, 3, 4).transpose(0, 1), ShapeError, r"transpose: \(2,3,4\) with axes \(0, 1\)"),
    "index": (lambda: T(2, 3)[5], IndexError, r"getitem: \(2,3\)\[5\]: index 5 is out of bounds for axis 0 with size 2"),
    "index axis 1": (lambda: T(2, 3)[:, 7], IndexError, r"getitem: \(2,3\)\[:, 7\]: index 7 .* axis 1 with size 3"),
    "index array": (lambda: T(2, 3)[np.array([0, 9])], IndexError, r"getitem: \(2,3\)\[<int64 array \(2,\)>\]: index 9"),
    "index too many": (lambda: T(2, 3)[0, 0, 0], IndexError, r"getitem: \(2,3\)\[0, 0, 0\]: too many indices"),
    "index float": (lambda: T(2, 3)[1.5], IndexError, r"getitem: \(2,3\)\[1\.5\]: only integers"),
    "sum axis": (lambda: T(2, 3).sum(axis=2), ShapeError, r"sum: \(2,3\): axis 2 is out of bounds for array of dimension 2"),
    "mean axis": (lambda: T(2, 3).mean(axis=(0, 5)), ShapeError, r"mean: \(2,3\): axis 5 is out of bounds"),
    "max axis": (lambda: T(2, 3).max(axis=-3), ShapeError, r"max: \(2,3\): axis -3 is out of bounds"),
    "softmax axis": (lambda: T(2, 3).softmax(axis=2), ShapeError, r"softmax: \(2,3\): axis 2 is out of bounds"),
    "log_softmax axis": (lambda: T(2, 3).log_softmax(axis=-3), ShapeError, r"log_softmax: \(2,3\): axis -3"),
    "cross-entropy labels": (lambda: T(2, 3).softmax_cross_entropy(np.array([0, 1, 2])), ShapeError,
                             r"softmax_cross_entropy: predictions \(2,3\) with integer labels \(3,\): expected"),
    "integer one-hot": (lambda: T(2, 3).softmax_cross_entropy(np.eye(3, dtype=int)[[0, 2]]), ShapeError,
                        r"integer labels \(2,3\): .*pass one-hot rows as floats \(y\.astype\(np\.float32\)\)"),
    "cross-entropy rank": (lambda: T(3).softmax_cross_entropy(np.array([0])), ShapeError,
                           r"softmax_cross_entropy: logits must be \(B,C\), got \(3,\)"),
    "cross-entropy probs": (lambda: T(2, 3).softmax_cross_entropy(np.ones((2, 4))), ShapeError,
                            r"logits \(2,3\) and target \(2,4\) differ in shape; expected integer labels \(B,\) or"),
    "float labels": (lambda: T(2, 3).softmax_cross_entropy(np.array([0.0, 1.0])), ShapeError,
                     r"a \(B,\) target must hold integers, not float64 \(use y\.astype\(np\.int64\)\)"),
    "label range": (lambda: T(2, 3).softmax_cross_entropy(np.array([0, 3])), ValueError,
                    r"softmax_cross_entropy: labels must lie in \[0, 3\) for 3 classes, got values from 0 to 3"),
    "string target": (lambda: T(2, 3).softmax_cross_entropy(np.array(["a", "b"])), TypeError,
                      r"softmax_cross_entropy: target has dtype <U1; expected integer class labels"),
    "quadratic": (lambda: T(2, 3).quadratic_cost(np.ones((2, 4))), ShapeError,
                  r"quadratic_cost: predictions \(2,3\) and target \(2,4\) differ in shape"),
    "mse": (lambda: T(2, 3).mse(np.ones((3, 2))), ShapeError, r"mse: predictions \(2,3\) and target \(3,2\)"),
    "bce": (lambda: T(2, 3).binary_cross_entropy(np.ones(3)), ShapeError,
            r"binary_cross_entropy: probabilities \(2,3\) and target \(3,\) differ in shape"),
    "bce strings": (lambda: T(2).binary_cross_entropy(np.array(["a", "b"])), TypeError, r"binary_cross_entropy: target has dtype"),
    "string constant": (lambda: T(2) + "a", TypeError, r"add: float64 \(2,\) and str: "),
    "None constant": (lambda: T(2) * None, TypeError, r"mul: float64 \(2,\) and NoneType: "),
    "astype string": (lambda: T(2).astype(str), TypeError, r"astype: expected a numeric dtype"),
    "backward grad": (lambda: T(2, 3).sum(axis=0).backward(np.ones(4)), ShapeError,
                      r"backward: grad has shape \(4,\), tensor has \(3,\)"),
}


@pytest.mark.parametrize("case", BAD_OPERANDS)
def test_every_op_names_itself_the_shapes_and_the_rule(case):
    call, error, message = BAD_OPERANDS[case]
    with pytest.raises(error, match=message) as e:
        call()
    assert "Traceback" not in str(e.value) and "\n" not in str(e.value)
    if error is ShapeError:
        assert isinstance(e.value, ValueError)


def test_index_errors_are_shape_errors_and_index_errors_so_iteration_stops():
    with pytest.raises(ShapeError):
        T(2, 3)[2]
    rows = list(Tensor(np.arange(6.0).reshape(3, 2)))  # iteration stops at the IndexError
    assert [r.data.tolist() for r in rows] == [[0, 1], [2, 3], [4, 5]]


@pytest.mark.parametrize("x", [np.ones(30), np.ones((2, 30)), np.float32(1.0), np.ones((5, 783))])
def test_layers_name_themselves_and_the_shape_they_expected(x):
    from tinygrad_mnist.nn import MLP, Linear
    for layer in (Linear(784, 30, rng=0), MLP([784, 30, 10], seed=0)):
        with pytest.raises(ShapeError, match=rf"Linear\(784->30\) got input of shape {re.escape(fmt_shape(np.shape(x)))}; "
                                             r"expected \(B,784\)"):
            layer(x)


def test_a_vjp_count_mismatch_names_the_op():
    def half_done(a, b):
        return a * b, (lambda g: g * b,)

    with pytest.raises(TypeError, match=r"half_done: returned 1 VJPs for 2 inputs"):
        Tensor.apply(half_done, leaf([1.0]), leaf([2.0]))


def test_a_vjp_of_the_wrong_shape_names_the_op_and_the_shapes():
    def squash(x):
        return x.sum(), (lambda g: np.ones(5),)

    y = Tensor.apply(squash, leaf(np.ones(3)))
    with pytest.raises(ShapeError, match=r"squash: .*input 0.*\(5,\).*\(3,\)"):
        y.backward()

