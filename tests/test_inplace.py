"""In-place edits of a parameter between an op and the backward through it are caught
(PyTorch's rule), while optimizer steps, which come after backward, stay allowed."""
import numpy as np
import pytest

from tinygrad_mnist import Tensor, no_grad
from tinygrad_mnist.nn import MLP
from tinygrad_mnist.optim import SGD, Adam
from tinygrad_mnist.tensor import TrackedArray


def setup():
    w = Tensor([1.0, 1.0, 1.0], requires_grad=True, name="w")
    x = Tensor([2.0, 2.0, 2.0], requires_grad=True, name="x")
    return w, x, (w * x).sum()


@pytest.mark.parametrize("edit", [
    lambda d: d.__imul__(50),                       # w.data *= 50 (the case)
    lambda d: d.__setitem__(0, 7.0),                # w.data[0] = 7
    lambda d: d[1:].__iadd__(1.0),                  # through a view
    lambda d: d.fill(0.0),
    lambda d: np.multiply(d, 3.0, out=d),
    lambda d: d.reshape(3, 1).T.__setitem__((0, 2), -1.0),  # a view of a view
], ids=["imul", "setitem", "view-iadd", "fill", "ufunc-out", "view-of-view"])
def test_backward_through_an_op_whose_parameter_changed_in_place_raises(edit):
    w, x, loss = setup()
    edit(w.data)
    with pytest.raises(RuntimeError, match=r"input 0 of 'mul', the parameter 'w' \(3,\), was modified in place"):
        loss.backward()
    assert w.grad is None and x.grad is None  # nothing half-written


def test_without_an_edit_the_gradient_is_right_and_a_copy_may_change_freely():
    w, x, loss = setup()
    scratch = w.data.copy()
    scratch[0] = 100.0
    loss.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(w.grad, [2.0, 2.0, 2.0])


def test_computations_on_parameter_data_give_plain_arrays():
    w, _, _ = setup()
    assert isinstance(w.data, TrackedArray)
    assert type(w.data * 2) is np.ndarray and not isinstance(w.data @ w.data, np.ndarray)
    assert type(np.exp(w.data)) is np.ndarray and type(w.data.copy() + 1) is np.ndarray


def test_assigning_new_data_is_not_an_edit_and_is_tracked_from_the_next_op():
    w, x, loss = setup()
    w.data = np.array([5.0, 5.0, 5.0])  # the VJP keeps the old array: its gradient stays right
    loss.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 1.0])
    loss = (w * x).sum()
    w.data[0] = 0.0
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.5, momentum=0.9), lambda ps: Adam(ps, lr=0.05)])
def test_optimizer_steps_after_backward_train_and_old_graphs_are_refused(make):
    model = MLP([4, 8, 3], seed=0)
    opt = make(model.parameters())
    X = np.random.default_rng(0).random((16, 4), dtype=np.float32)
    y = np.arange(16) % 3
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = model(X).softmax_cross_entropy(y)
        loss.backward(retain_graph=True)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]  # it trains: the steps were allowed
    with pytest.raises(RuntimeError, match="modified in place.*optimizer.step"):
        loss.backward()  # this graph saw the weights before the last step


def test_no_grad_records_no_versions():
    w, x, _ = setup()
    with no_grad():
        y = (w * x).sum()
    w.data *= 2  # nothing was recorded, so nothing is at stake
    assert y.node is None
