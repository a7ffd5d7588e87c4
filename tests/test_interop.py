"""PyTorch interop: to_torch gives the same outputs and gradients as the engine (float32,
1e-6), from_torch brings a torch model back, state_dict keys and layouts are PyTorch's, and
layers without a counterpart are named. Runs where torch is installed (CI installs the CPU
build, torch==2.13.0); skips with the reason elsewhere."""
from __future__ import annotations

import numpy as np
import pytest

from tinygrad_mnist import Tensor
from tinygrad_mnist.data import load_bundled_sample
from tinygrad_mnist.interop import from_torch, to_torch
from tinygrad_mnist.nn import MLP, Linear, Module, ReLU, Sequential, Softmax

torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0 (CPU build)")
F = torch.nn.functional
TOL = {"rtol": 1e-6, "atol": 1e-6}


@pytest.fixture(scope="module")
def batch():
    sample = load_bundled_sample()
    return sample.X_test[:64], sample.y_test[:64]


def engine_and_torch_grads(model, X, y, loss):
    """(engine output, {key: engine grad}, torch output, {key: torch grad}) for one batch."""
    out = model(Tensor(X))
    (out.softmax_cross_entropy(y) if loss == "cross-entropy" else out.quadratic_cost(y)).backward()
    names = dict(zip(model.state_dict(), model.parameters()))  # state_dict keeps parameters() order
    mine = {k: p.grad for k, p in names.items()}
    tmodel = to_torch(model)
    tout = tmodel(torch.from_numpy(X))
    if loss == "cross-entropy":
        tloss = F.cross_entropy(tout, torch.from_numpy(y))
    else:  # the textbook's mean over the batch of 1/2 |a - y|^2
        tloss = 0.5 * ((tout - F.one_hot(torch.from_numpy(y), 10).float()) ** 2).sum(dim=1).mean()
    tloss.backward()
    theirs = {k: p.grad.numpy() for k, p in tmodel.named_parameters()}
    return out.data, mine, tout.detach().numpy(), theirs


@pytest.mark.parametrize("sizes, activation, output, loss", [
    ([784, 30, 10], "sigmoid", None, "cross-entropy"),
    ([784, 128, 128, 10], "sigmoid", "sigmoid", "quadratic"),
    ([784, 64, 32, 10], "relu", None, "cross-entropy"),
    ([784, 40, 10], "tanh", "softmax", "quadratic"),
])
def test_to_torch_gives_the_same_outputs_and_gradients(batch, sizes, activation, output, loss):
    X, y = batch
    model = MLP(sizes, activation=activation, output=output, seed=0)
    out, mine, tout, theirs = engine_and_torch_grads(model, X, y, loss)
    assert tout.dtype == np.float32 and out.dtype == np.float32
    np.testing.assert_allclose(tout, out, **TOL)
    assert list(theirs) == list(mine) == list(model.state_dict())
    for key in mine:
        np.testing.assert_allclose(theirs[key], mine[key], **TOL, err_msg=key)


def test_a_trained_model_keeps_its_accuracy_in_torch(batch):
    from tinygrad_mnist.train import fit
    sample = load_bundled_sample()
    model = MLP([784, 30, 10], seed=0)
    fit(model, sample.X_train[:2000], sample.y_train[:2000], epochs=1, lr=0.5)
    X = sample.X_test[:1000]
    engine = model(Tensor(X)).data.argmax(1)
    with torch.no_grad():
        theirs = to_torch(model)(torch.from_numpy(X)).numpy().argmax(1)
    np.testing.assert_array_equal(theirs, engine)


def test_state_dict_uses_pytorchs_keys_and_layouts():
    model = MLP([784, 30, 10], seed=0)
    state = model.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [v.shape for v in state.values()] == [(30, 784), (30,), (10, 30), (10,)]
    reference = torch.nn.Sequential(torch.nn.Linear(784, 30), torch.nn.Sigmoid(), torch.nn.Linear(30, 10))
    assert list(reference.state_dict()) == list(state)
    state["0.weight"][:] = 0  # a copy: the model is untouched
    assert np.abs(model.layers[0].weight.data).sum() > 0


def test_state_dict_round_trips_through_torch_and_back():
    model = MLP([784, 16, 16, 10], activation="tanh", seed=3)
    back = from_torch(to_torch(model))
    assert isinstance(back, Sequential) and [type(m).__name__ for m in back.layers] == \
        ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    for (k1, v1), (k2, v2) in zip(model.state_dict().items(), back.state_dict().items()):
        assert k1 == k2 and v1.dtype == v2.dtype
        np.testing.assert_array_equal(v1, v2)
    x = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    np.testing.assert_array_equal(back(x).data, model(x).data)


def test_from_torch_takes_a_pytorch_trained_model_and_float64():
    tmodel = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(),
                                 torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Softmax(dim=1))).double()
    model = from_torch(tmodel)
    assert list(model.state_dict()) == list(tmodel.state_dict()) == ["0.weight", "0.bias", "2.0.weight", "2.0.bias"]
    x = np.random.default_rng(1).standard_normal((5, 6))
    with torch.no_grad():
        expected = tmodel(torch.from_numpy(x)).numpy()
    got = model(Tensor(x)).data
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_load_state_dict_takes_torch_tensors_and_checks_keys_and_shapes():
    model = MLP([4, 3, 2], seed=0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Sigmoid(), torch.nn.Linear(3, 2))
    kept = model.layers[0].weight.data
    assert model.load_state_dict(tmodel.state_dict()) == ([], [])
    assert model.layers[0].weight.data is kept  # copied in place, as PyTorch does
    np.testing.assert_array_equal(kept, tmodel[0].weight.detach().numpy())
    with pytest.raises(ValueError, match=r"missing key\(s\) in state_dict: '2.bias'; unexpected key\(s\) "
                                         r"in state_dict: 'extra'"):
        model.load_state_dict({**{k: v for k, v in model.state_dict().items() if k != "2.bias"}, "extra": 1})
    bad = {**model.state_dict(), "0.weight": np.zeros((4, 3))}
    with pytest.raises(ValueError, match=r"'0.weight': the state_dict holds shape \(4,3\), the model's parameter "
                                         r"has \(3,4\)"):
        model.load_state_dict(bad)
    np.testing.assert_array_equal(kept, tmodel[0].weight.detach().numpy())  # nothing written
    partial = model.load_state_dict({"2.bias": np.array([5.0, 6.0])}, strict=False)
    assert partial.missing_keys == ["0.weight", "0.bias", "2.weight"] and partial.unexpected_keys == []
    np.testing.assert_array_equal(model.layers[2].bias.data, [5.0, 6.0])


def test_layers_without_a_counterpart_are_named():
    tmodel = torch.nn.Sequential(torch.nn.BatchNorm1d(3), torch.nn.ReLU())
    with pytest.raises(TypeError, match=r"layer 0 \(BatchNorm1d.*a torch.nn.BatchNorm1d\) has no tinygrad_mnist "
                                        r"equivalent; these convert: Sequential, Linear"):
        from_torch(tmodel)
    with pytest.raises(TypeError, match="dilation"):
        from_torch(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, dilation=2)))
    with pytest.raises(TypeError, match="has no bias"):
        from_torch(torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False)))
    with pytest.raises(TypeError, match="dim 0"):
        from_torch(torch.nn.Sequential(torch.nn.Softmax(dim=0)))

    class Twice(Module):
        def forward(self, x):
            return x * 2

    with pytest.raises(TypeError, match=r"to_torch: layer 1 \(.*a Twice\) has no PyTorch counterpart"):
        to_torch(Sequential(Linear(3, 2, rng=0), Twice()))


def test_softmax_output_converts_both_ways():
    model = Sequential(Linear(5, 3, rng=0), ReLU(), Linear(3, 4, rng=1), Softmax())
    tmodel = to_torch(model)
    assert isinstance(tmodel[3], torch.nn.Softmax) and tmodel[3].dim == -1
    assert isinstance(from_torch(tmodel).layers[3], Softmax)


def test_a_conv_net_converts_with_the_same_outputs_and_gradients_both_ways(batch):
    """LeNet-style layers (Unflatten, Conv2d with padding and stride, both poolings, Flatten,
    Dropout in eval mode) give PyTorch's outputs and gradients, and come back unchanged."""
    from tinygrad_mnist.nn import AvgPool2d, Conv2d, Dropout, Flatten, MaxPool2d, Unflatten
    X, y = batch
    model = Sequential(Unflatten(1, (1, 28, 28)), Conv2d(1, 4, 5, padding=2, rng=0), ReLU(), MaxPool2d(2),
                       Conv2d(4, 6, 3, stride=2, rng=1), ReLU(), AvgPool2d(2), Flatten(), Dropout(0.5, rng=0),
                       Linear(6 * 3 * 3, 10, rng=2)).eval()
    out, mine, tout, theirs = engine_and_torch_grads(model, X[:16], y[:16], "cross-entropy")
    np.testing.assert_allclose(tout, out, **TOL)
    assert list(theirs) == list(mine)
    for key in mine:
        np.testing.assert_allclose(theirs[key], mine[key], **TOL, err_msg=key)
    back = from_torch(to_torch(model)).eval()
    assert repr(back) == repr(model)
    np.testing.assert_array_equal(back(X[:4]).data, model(X[:4]).data)

