"""The PyTorch-familiar pieces of Tensor (issue 12): float()/int()/bool(), comparisons, abs,
sqrt, ** with a Tensor exponent, each with PyTorch's meaning; checked against torch itself
where it is installed. (Gradients of the new ops are in test_ops' table.)"""
from __future__ import annotations

import numpy as np
import pytest

from tinygrad_mnist import Tensor


def test_python_numbers_from_one_element_tensors():
    loss = Tensor(np.array([[2.75]], np.float32))
    assert float(loss) == 2.75 and isinstance(float(loss), float)
    assert int(Tensor(-2.7)) == -2 and int(Tensor(np.array(7))) == 7
    assert bool(Tensor(0.5)) and not bool(Tensor(np.array([0.0])))
    with pytest.raises(ValueError, match=r"float: only a one-element tensor converts to a Python number, this "
                                         r"one has shape \(2,\)"):
        float(Tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"bool: the truth value of a tensor of shape \(3,\) is ambiguous"):
        if Tensor([1.0, 2.0, 3.0]):
            pass


def test_comparisons_give_bool_tensors_without_a_graph():
    t = Tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    checks = {"<": (t < 0, [True, False, False]), "<=": (t <= 0, [True, True, False]),
              ">": (t > 0, [False, False, True]), ">=": (t >= 0, [False, True, True]),
              "==": (t == Tensor([-1.0, 1.0, 2.0]), [True, False, True]),
              "!=": (t != 0, [True, False, True]),
              "reflected": (np.zeros(3) < t, [False, False, True])}
    for name, (got, expected) in checks.items():
        assert isinstance(got, Tensor) and got.dtype == np.bool_, name
        assert got.data.tolist() == expected, name
        assert not got.requires_grad and got.is_leaf, name
    assert (t > 0).data.mean() == pytest.approx(1 / 3)


def test_tensors_still_hash_by_identity():
    a, b = Tensor([1.0]), Tensor([1.0])
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b" and len({a, b}) == 2
    assert a in [a] and a in table


def test_abs_sqrt_and_tensor_powers():
    x = Tensor(np.array([-4.0, 1.0, 9.0]), requires_grad=True)
    np.testing.assert_array_equal(abs(x).data, [4.0, 1.0, 9.0])
    np.testing.assert_array_equal(x.abs().sqrt().data, [2.0, 1.0, 3.0])
    e = Tensor(np.array([2.0, 3.0, 0.5]), requires_grad=True)
    y = x.abs() ** e
    np.testing.assert_allclose(y.data, [16.0, 1.0, 3.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [-8.0, 3.0, 0.5 / 3.0])                     # sign(x) p |x|^(p-1)
    np.testing.assert_allclose(e.grad, [16 * np.log(4.0), 0.0, 3 * np.log(9.0)])  # y ln|x|
    np.testing.assert_allclose((2 ** Tensor([3.0])).data, [8.0])


def test_same_values_and_gradients_as_torch_at_the_awkward_points():
    torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0 (CPU build)")
    x0 = np.array([-2.0, 0.0, 0.0, 0.5, 3.0])
    p0 = np.array([2.0, 0.0, 1.5, -1.0, 0.5])
    cases = {"abs": lambda x, p: abs(x), "sqrt of abs": lambda x, p: abs(x).sqrt() if isinstance(x, Tensor)
             else x.abs().sqrt(), "pow": lambda x, p: x ** p, "rpow": lambda x, p: 2.0 ** x}
    for name, f in cases.items():
        x, p = Tensor(x0, requires_grad=True), Tensor(p0, requires_grad=True)
        tx, tp = torch.tensor(x0, requires_grad=True), torch.tensor(p0, requires_grad=True)
        with np.errstate(divide="ignore", invalid="ignore"):  # sqrt'(0) = inf, as in torch
            out = f(x, p)
            out.backward(np.ones(5))
        tout = f(tx, tp)
        tout.backward(torch.ones(5, dtype=torch.float64))
        np.testing.assert_allclose(out.data, tout.detach().numpy(), err_msg=name)
        np.testing.assert_allclose(x.grad, tx.grad.numpy(), err_msg=name)
        if name == "pow":
            np.testing.assert_allclose(p.grad, tp.grad.numpy(), err_msg=name)
