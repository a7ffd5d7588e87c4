"""train: fit/evaluate/predict/confusion_matrix on small synthetic data, input checks, the
callback protocol, reproducibility, and one short real-data run with a loose accuracy bar."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tinygrad_mnist import train
from tinygrad_mnist.data import load_bundled_sample
from tinygrad_mnist.nn import MLP
from tinygrad_mnist.optim import SGD, Adam
from tinygrad_mnist.tensor import Tensor, no_grad
from tinygrad_mnist.train import History, confusion_matrix, evaluate, fit, predict

HISTORY_KEYS = {"epoch", "train_loss", "test_loss", "test_accuracy", "seconds", "diverged"}


def blobs(n=300, seed=0):
    """Three well-separated Gaussian clusters in 2-D: (X float32 (n, 2), y int64 (n,))."""
    rng = np.random.default_rng(seed)
    centres = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]])
    y = rng.integers(0, 3, n)
    X = centres[y] + 0.5 * rng.standard_normal((n, 2))
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def data():
    X, y = blobs(400)
    return X[:300], y[:300], X[300:], y[300:]


# ------------------------------------------------------------------ fit on synthetic data
def test_fit_learns_blobs_with_cross_entropy(data):
    X, y, Xt, yt = data
    model = MLP([2, 8, 3], activation="tanh", seed=0)
    history = fit(model, X, y, Xt, yt, epochs=5, batch_size=10, lr=0.5, seed=0)
    assert isinstance(history, History) and len(history) == 5
    assert [r["epoch"] for r in history] == [1, 2, 3, 4, 5]
    assert all(set(r) == HISTORY_KEYS for r in history)
    assert history[-1]["test_accuracy"] > 0.95
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    json.dumps(history)  # plain JSON-able data


def test_fit_quadratic_cost_on_a_sigmoid_output_network_takes_integer_labels(data):
    X, y, Xt, yt = data
    model = MLP([2, 8, 3], activation="sigmoid", output="sigmoid", init="normal", seed=0)
    history = fit(model, X, y, Xt, yt, loss="quadratic", epochs=10, batch_size=10, lr=3.0, seed=0)
    assert history[-1]["test_accuracy"] > 0.9
    # the loss reported is the textbook cost 1/2 |a - y|^2 averaged over the batch
    loss, _ = evaluate(model, Xt, yt, loss="quadratic")
    with no_grad():
        a = model(Tensor(Xt)).data.astype(np.float64)
    onehot = np.eye(3)[yt]
    assert loss == pytest.approx(0.5 * ((a - onehot) ** 2).sum(axis=1).mean(), rel=1e-5)


def test_fit_accepts_one_hot_targets(data):
    X, y, Xt, yt = data
    history = fit(MLP([2, 8, 3], seed=0), X, np.eye(3)[y], Xt, np.eye(3)[yt], epochs=3, lr=0.5)
    assert history[-1]["test_accuracy"] > 0.9


def test_fit_with_adam_and_without_a_test_set(data):
    X, y, _, _ = data
    model = MLP([2, 8, 3], activation="relu", init="he", seed=0)
    history = fit(model, X, y, optimizer=Adam(model.parameters(), lr=0.01), epochs=3, batch_size=16)
    assert history[-1]["test_accuracy"] is None and history[-1]["test_loss"] is None
    assert evaluate(model, X, y)[1] > 0.9


def test_fit_is_reproducible_by_seed(data):
    X, y, Xt, yt = data

    def run(seed):
        model = MLP([2, 8, 3], seed=1)
        h = fit(model, X, y, Xt, yt, epochs=2, batch_size=7, lr=0.3, seed=seed)
        return [(r["train_loss"], r["test_loss"]) for r in h], model.linears[0].weight.data.copy()

    (h1, w1), (h2, w2), (h3, w3) = run(0), run(0), run(1)
    assert h1 == h2
    np.testing.assert_array_equal(w1, w2)
    assert not np.array_equal(w1, w3)  # another seed shuffles differently


def test_each_epoch_visits_every_row_once(data):
    X, y, _, _ = data
    seen_rows = []

    class Spy(MLP):
        def forward(self, x):
            seen_rows.append(x.data[:, 0].copy())
            return super().forward(x)

    fit(Spy([2, 3], seed=0), X, y, epochs=2, batch_size=32, lr=0.1)
    sizes = [len(r) for r in seen_rows]
    assert sizes == ([32] * 9 + [12]) * 2  # 300 = 9 x 32 + 12, per epoch
    epoch1 = np.concatenate(seen_rows[:10])
    epoch2 = np.concatenate(seen_rows[10:])
    np.testing.assert_array_equal(np.sort(epoch1), np.sort(X[:, 0]))
    np.testing.assert_array_equal(np.sort(epoch2), np.sort(X[:, 0]))
    assert not np.array_equal(epoch1, epoch2)  # reshuffled each epoch


def test_data_is_converted_once_to_the_models_float32(data):
    X, y, _, _ = data
    model = MLP([2, 4, 3], seed=0)
    fit(model, X.astype(np.float64), y.astype(np.int32), epochs=1, lr=0.1)
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_callback_reports_batches_and_epochs(data):
    X, y, Xt, yt = data
    events = []
    fit(MLP([2, 4, 3], seed=0), X, y, Xt, yt, epochs=2, batch_size=1, lr=0.1, callback=events.append)
    batches = [e for e in events if e["event"] == "batch"]
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert HISTORY_KEYS <= set(epochs[0])
    assert len(batches) <= 2 * (train.PROGRESS_UPDATES + 1)  # throttled: 300 steps, ~100 events
    last = [e for e in batches if e["epoch"] == 1][-1]
    assert last["seen"] == last["total"] == 300 and last["epochs"] == 2
    assert events.index(epochs[0]) > events.index(last)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_fit_raises_when_training_diverges(data):
    X, y, _, _ = data
    with pytest.raises(FloatingPointError, match="learning rate"):
        fit(MLP([2, 16, 3], activation="relu", seed=0), X * 1e3, y, epochs=1, lr=1e6)


# ------------------------------------------------------------------ input checks
@pytest.mark.parametrize("X, y, match", [
    (np.array([[0.0, np.nan]] * 3), np.zeros(3, int), "NaN or Inf .*row 0, column 1"),
    (np.array([[0.0, np.inf]] * 3), np.zeros(3, int), "NaN or Inf"),
    (np.array([["a", "b"]] * 3), np.zeros(3, int), "numeric"),
    ([[1.0, 2.0], [3.0]], np.zeros(2, int), "numeric"),
    (np.zeros(3), np.zeros(3, int), r"shape \(N, n_features\)"),
    (np.zeros((3, 2)), np.zeros(4, int), "3 rows but 4 labels"),
    (np.zeros((3, 2)), np.array([0.5, 1.0, 2.0]), "labels must be integers"),
    (np.zeros((3, 2)), np.array([0, -1, 2]), ">= 0"),
    (np.array([[0.0, -np.inf]] * 3, np.float32), np.zeros(3, int), "NaN or Inf .*row 0, column 1"),
    (np.zeros((3, 2), complex), np.zeros(3, int), "expected a numeric array, got dtype complex128"),
    (np.array([[object(), 1.0]] * 3), np.zeros(3, int), "expected a numeric array, got dtype object"),
    (np.array([["1", "2"]] * 3), np.zeros(3, int), "got dtype <U1"),
    ([[1.0, None]] * 3, np.zeros(3, int), "got dtype object"),
    (np.zeros((3, 2)), np.array(["0", "1", "2"]), "labels must be integers .* got <U1"),
    (np.zeros((3, 2)), np.array([0, 1, 2], complex), "labels must be integers"),
    (np.zeros((3, 2)), np.array([[0.5, np.nan]] * 3), "targets contain NaN or Inf"),
    (np.zeros((3, 2)), np.zeros((3, 2), object), "labels must be integers"),
    (np.zeros((0, 2)), np.zeros(0, int), "X_train is empty"),
])
def test_bad_training_data_is_rejected_before_training(X, y, match):
    model = MLP([2, 3], seed=0)
    before = model.linears[0].weight.data.copy()
    with pytest.raises(ValueError, match=match):
        fit(model, X, y, epochs=1)
    np.testing.assert_array_equal(model.linears[0].weight.data, before)


def test_bad_settings(data):
    X, y, Xt, yt = data
    model = MLP([2, 3], seed=0)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        fit(model, X, y, loss="hinge")
    with pytest.raises(ValueError, match="batch_size"):
        fit(model, X, y, batch_size=0)
    with pytest.raises(ValueError, match="both X_test and y_test"):
        fit(model, X, y, Xt)
    with pytest.raises(ValueError, match="lr is set by the optimizer"):
        fit(model, X, y, optimizer=SGD(model.parameters(), lr=0.1), lr=0.5)
    with pytest.raises(ValueError, match="X_test has 3 features"):
        fit(model, X, y, np.zeros((2, 3)), np.zeros(2, int))
    with pytest.raises(ValueError, match="X_test: contains NaN"):
        fit(model, X, y, np.full((2, 2), np.nan), np.zeros(2, int))


# ------------------------------------------------------------------ evaluate / predict / confusion
def test_evaluate_matches_a_direct_computation(data):
    X, y, _, _ = data
    model = MLP([2, 5, 3], seed=2)
    with no_grad():
        logits = model(Tensor(X)).data.astype(np.float64)
    logp = logits - logits.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    loss, acc = evaluate(model, X, y, batch_size=64)  # chunked: 300 rows in 5 chunks
    assert loss == pytest.approx(-logp[np.arange(len(y)), y].mean(), rel=1e-5)
    assert acc == pytest.approx((logits.argmax(1) == y).mean())
    np.testing.assert_array_equal(predict(model, X, batch_size=64), logits.argmax(1))


def test_confusion_matrix_by_hand():
    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], n_classes=3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert cm.sum() == 6 and np.trace(cm) == 4
    assert confusion_matrix(np.array([3]), np.array([3])).shape == (10, 10)


@pytest.mark.parametrize("t, p, match", [
    ([0, 1], [0], "one length"),
    ([0, 10], [0, 1], "y_true holds 0..10"),
    ([0.0, 1.0], [0, 1], "integer"),
])
def test_confusion_matrix_errors(t, p, match):
    with pytest.raises(ValueError, match=match):
        confusion_matrix(np.array(t), np.array(p))


# ------------------------------------------------------------------ save_history
def test_save_history_writes_json_atomically(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    history = [{"epoch": 1, "train_loss": 0.5, "test_loss": None, "test_accuracy": None, "seconds": 0.1}]
    train.save_history(history, path)
    assert json.loads(path.read_text()) == history

    def broken_dump(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(train.json, "dump", broken_dump)
    with pytest.raises(OSError):
        train.save_history(history * 2, path)
    assert json.loads(path.read_text()) == history
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


# ------------------------------------------------------------------ real data
def test_short_run_on_the_bundled_mnist_sample():
    """Two epochs of the 784-30-10 network on the first 10k training digits; the official
    10k test digits must reach a loose 90% (about 92% is typical)."""
    d = load_bundled_sample()
    assert d.X_train.shape == (10000, 784) and d.X_test.shape == (10000, 784)
    model = MLP([784, 30, 10], activation="sigmoid", seed=0)
    history = fit(model, d.X_train, d.y_train, d.X_test, d.y_test, epochs=2, batch_size=10, lr=0.5, seed=0)
    assert history[-1]["test_accuracy"] > 0.90
    cm = confusion_matrix(d.y_test, predict(model, d.X_test))
    assert cm.sum() == 10000 and np.trace(cm) == round(history[-1]["test_accuracy"] * 10000)
