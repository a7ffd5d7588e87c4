"""The convolutional layers (Conv2d, MaxPool2d, AvgPool2d, Flatten, Unflatten, Dropout) and the
train/eval modes: shapes and errors, every layer saved and loaded through the registry,
Dropout's inverted scaling, seeding and eval-mode identity, the modes fit/evaluate/predict use,
and a conv net trained by fit that evaluates the same after save/load."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tinygrad_mnist import serialize
from tinygrad_mnist.data import load_bundled_sample
from tinygrad_mnist.errors import ModelFileError, ShapeError
from tinygrad_mnist.nn import (LAYERS, AvgPool2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, Module, ReLU,
                               Sequential, Unflatten, predict_proba, training_mode)
from tinygrad_mnist.optim import Adam
from tinygrad_mnist.tensor import Tensor
from tinygrad_mnist.train import evaluate, fit, predict


def small_convnet(seed=0, p=0.0):
    """(B,784) -> (B,10) through every new layer, with a non-square kernel, stride and padding."""
    rng = np.random.default_rng(seed)
    return Sequential(
        Unflatten(1, (1, 28, 28)),
        Conv2d(1, 4, (3, 5), stride=2, padding=(1, 2), rng=rng),  # (B,4,14,14)
        ReLU(),
        MaxPool2d(2),                                              # (B,4,7,7)
        Conv2d(4, 6, 3, rng=rng),                                  # (B,6,5,5)
        ReLU(),
        AvgPool2d((2, 1), stride=1),                               # (B,6,4,5)
        Flatten(),                                                 # (B,120)
        Dropout(p, rng=rng),
        Linear(120, 10, init="he", rng=rng),
    )


# ------------------------------------------------------------------ shapes, init, errors
def test_conv2d_shapes_init_and_parameter_count():
    conv = Conv2d(3, 8, 5, stride=1, padding=2, rng=0)
    assert conv.weight.shape == (8, 3, 5, 5) and conv.bias.shape == (8,)
    assert [n for n, _ in conv.named_parameters()] == ["weight", "bias"]
    assert conv(np.zeros((2, 3, 9, 7), np.float32)).shape == (2, 8, 9, 7)
    assert Conv2d.count_parameters(conv.config()) == conv.weight.size + conv.bias.size == 608
    big = Conv2d(16, 64, 5, rng=0)  # He: std sqrt(2 / fan_in), fan_in = 16*5*5; biases 0
    assert big.weight.data.std() == pytest.approx(np.sqrt(2 / 400), rel=0.05)
    assert not big.bias.data.any() and big.weight.dtype == np.float32
    assert repr(Conv2d(1, 6, (3, 5), stride=2, padding=1)) == "Conv2d(1->6, 3x5, stride=2, padding=1)"


def test_every_new_layer_is_registered():
    assert {"Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "Unflatten", "Dropout"} <= set(LAYERS)


def test_layer_shapes_through_the_small_network():
    x = Tensor(np.random.default_rng(0).random((3, 784), dtype=np.float32))
    shapes = []
    for layer in small_convnet().layers:
        x = layer(x)
        shapes.append(x.shape[1:])
    assert shapes == [(1, 28, 28), (4, 14, 14), (4, 14, 14), (4, 7, 7), (6, 5, 5), (6, 5, 5), (6, 4, 5),
                      (120,), (120,), (10,)]


def test_flatten_and_unflatten_are_pytorchs():
    x = Tensor(np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5))
    assert Flatten()(x).shape == (2, 60)
    assert Flatten(2)(x).shape == (2, 3, 20)
    assert Flatten(0, 1)(x).shape == (6, 4, 5)
    np.testing.assert_array_equal(Unflatten(1, (3, 4, 5))(Flatten()(x)).data, x.data)
    with pytest.raises(ShapeError, match=r"Flatten\(\) got input of shape \(5,\)"):
        Flatten()(Tensor(np.zeros(5, np.float32)))
    with pytest.raises(ShapeError, match=r"dimension 1 must hold 784 = 1x28x28 values"):
        Unflatten(1, (1, 28, 28))(Tensor(np.zeros((2, 780), np.float32)))
    with pytest.raises(ValueError, match="positive integers"):
        Unflatten(1, (1, 0, 28))


@pytest.mark.parametrize("layer, x_shape, fragments", [
    (Conv2d(1, 6, 5), (64, 784), ["Conv2d(1->6, 5x5) got input of shape (64,784)", "(B,1,H,W)",
                                  "Unflatten(1, (1, 28, 28)) in front of it"]),
    (Conv2d(3, 6, 5), (2, 1, 28, 28), ["Conv2d(3->6, 5x5) got input of shape (2,1,28,28)", "(B,3,H,W)"]),
    (Conv2d(1, 6, 5), (2, 1, 4, 4), ["5x5 window does not fit in the 4x4 image"]),
    (Conv2d(1, 6, 5, padding=1), (2, 1, 2, 2), ["does not fit in the 4x4 image (padding included)"]),
    (MaxPool2d(2), (8, 784), ["MaxPool2d(2) got input of shape (8,784)", "(B,C,H,W)"]),
    (AvgPool2d(3), (1, 2, 2, 9), ["AvgPool2d(3) got input of shape (1,2,2,9)", "3x3 window"]),
    (Linear(400, 10), (2, 16, 5, 5), ["Linear(400->10) got input of shape (2,16,5,5)"]),
])
def test_shape_errors_name_the_layer_and_the_shapes(layer, x_shape, fragments):
    with pytest.raises(ShapeError) as info:
        layer(Tensor(np.zeros(x_shape, np.float32)))
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize("make, match", [
    (lambda: Conv2d(0, 6, 5), "channel counts must be positive"),
    (lambda: Conv2d(1, 6, 0), "kernel must be a positive integer"),
    (lambda: Conv2d(1, 6, (3, 3, 3)), "kernel must be a positive integer or a pair"),
    (lambda: Conv2d(1, 6, 3, padding=-1), "padding must be an integer >= 0"),
    (lambda: MaxPool2d(2, stride=0), "MaxPool2d: stride must be a positive integer"),
    (lambda: Dropout(1.5), r"Dropout: p is the probability .* in \[0, 1\]"),
    (lambda: Conv2d(1, 6, 3, init="zeros"), "unknown init 'zeros'"),
])
def test_bad_layer_settings_are_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ------------------------------------------------------------------ save and load
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_new_layer_saves_and_loads(tmp_path, dtype):
    model = small_convnet(p=0.5)
    for p in model.parameters():
        p.data = p.data.astype(dtype)
    serialize.save(model, tmp_path / "conv.npz")
    loaded = serialize.load(tmp_path / "conv.npz")
    assert loaded.config() == model.config()
    assert repr(loaded) == repr(model)
    assert [p.dtype for p in loaded.parameters()] == [dtype] * 6
    X = np.random.default_rng(1).random((5, 784)).astype(dtype)
    model.eval(), loaded.eval()
    np.testing.assert_array_equal(loaded(X).data, model(X).data)
    np.testing.assert_array_equal(predict_proba(loaded, X), predict_proba(model, X))
    # the architecture's parameter count, from the configs alone, matches what the file holds
    config = json.loads(str(np.load(tmp_path / "conv.npz")[serialize.ARCH_KEY]))
    assert serialize._count_params(config, "conv.npz") == sum(p.size for p in model.parameters())


@pytest.mark.parametrize("config, match", [
    ({"type": "Conv2d", "c_in": 100000, "c_out": 100000, "kernel": 5}, "needs 250000100000 numbers"),
    ({"type": "Conv2d", "c_in": 1, "c_out": 2, "kernel": "5"}, "kernel must be a positive integer"),
    ({"type": "Conv2d", "c_in": 1, "c_out": 2}, "architecture"),
    ({"type": "MaxPool2d", "kernel": [2, 2, 2]}, "kernel must be a positive integer or a pair"),
    ({"type": "Unflatten", "dim": 1, "unflattened_size": [1, -28, 28]}, "positive integers"),
    ({"type": "Dropout", "p": "half"}, "Dropout: p is the probability"),
])
def test_hostile_conv_architectures_are_model_file_errors(tmp_path, config, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **{serialize.ARCH_KEY: np.array(json.dumps(config))})
    with pytest.raises(ModelFileError, match=match):
        serialize.load(path)


# ------------------------------------------------------------------ Dropout and the modes
def test_dropout_is_inverted_seeded_and_the_identity_in_eval_mode():
    x = Tensor(np.ones((200, 500), np.float32), requires_grad=True)
    drop = Dropout(0.25, rng=7)
    y = drop(x)
    kept = y.data != 0
    assert y.dtype == np.float32
    assert kept.mean() == pytest.approx(0.75, abs=0.01)              # each entry kept with prob 1 - p
    np.testing.assert_allclose(y.data[kept], 1 / 0.75, rtol=1e-6)    # survivors scaled by 1/(1-p)
    assert y.data.mean() == pytest.approx(1.0, abs=0.02)             # so the expected value is x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.data)                    # the gradient goes through the mask
    again = Dropout(0.25, rng=7)(x).data
    np.testing.assert_array_equal(again, y.data)                     # same seed, same mask
    assert not np.array_equal(drop(x).data, y.data)                  # the next call draws a new mask
    drop.eval()
    assert drop(x) is x                                              # eval: the identity itself
    assert Dropout(0.0)(x) is x
    assert not Dropout(1.0)(x).data.any()


def test_train_and_eval_recurse_and_return_the_module():
    inner = Sequential(Linear(4, 4), Dropout(0.5))
    model = Sequential(inner, Dropout(0.1), Linear(4, 2))
    assert model.training and all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    assert len(list(model.modules())) == 6
    assert model.train() is model and all(m.training for m in model.modules())
    model.train(False)
    assert not inner.layers[1].training


def test_training_mode_restores_each_modules_own_flag_even_after_an_error():
    model = Sequential(Dropout(0.5), Sequential(Dropout(0.5)))
    model.layers[1].eval()
    with pytest.raises(RuntimeError):
        with training_mode(model, True):
            assert all(m.training for m in model.modules())
            raise RuntimeError
    assert [m.training for m in model.modules()] == [True, True, False, False]


class ModeSpy(Module):
    """Records the mode of every forward pass."""

    def __init__(self):
        self.seen = []

    def forward(self, x):
        self.seen.append(self.training)
        return x


def test_fit_trains_in_train_mode_and_evaluates_in_eval_mode_then_restores():
    spy = ModeSpy()
    model = Sequential(Linear(784, 10, rng=0), spy).eval()
    data = load_bundled_sample()
    X, y = data.X_train[:40], data.y_train[:40]
    fit(model, X, y, X[:20], y[:20], epochs=1, batch_size=20)
    assert spy.seen == [True, True, False]        # two training batches, then the test evaluation
    assert not model.training                     # as before fit
    model.train()
    spy.seen.clear()
    evaluate(model, X, y), predict(model, X), predict_proba(model, X)
    assert spy.seen == [False, False, False] and model.training


# ------------------------------------------------------------------ training end to end
def test_a_conv_net_trains_with_fit_and_evaluates_the_same_after_save_and_load(tmp_path):
    data = load_bundled_sample()
    model = small_convnet(seed=0, p=0.1)
    history = fit(model, data.X_train[:1000], data.y_train[:1000], data.X_test[:500], data.y_test[:500],
                  optimizer=Adam(model.parameters(), lr=0.003), epochs=2, batch_size=32)
    assert history[-1]["test_accuracy"] > 0.6 and history[-1]["train_loss"] < history[0]["train_loss"]
    serialize.save(model, tmp_path / "m.npz")
    loaded = serialize.load(tmp_path / "m.npz")
    assert evaluate(loaded, data.X_test[:500], data.y_test[:500]) == \
        evaluate(model, data.X_test[:500], data.y_test[:500])
    assert evaluate(model, data.X_test[:500], data.y_test[:500])[1] == history[-1]["test_accuracy"]
