"""Divergence without NaN (issue 12): fit flags an epoch whose loss grew by orders of magnitude
or whose accuracy sits at chance (history "diverged", the epoch event's "warning"), and
`train` says so on stderr once, with --detect-anomaly-style advice, and still exits 0."""
from __future__ import annotations

import pytest

from tinygrad_mnist import cli
from tinygrad_mnist.data import load_bundled_sample
from tinygrad_mnist.nn import MLP
from tinygrad_mnist.train import chance, divergence, fit, loss_grew


@pytest.fixture(scope="module")
def sample():
    return load_bundled_sample()


def test_divergence_rules():
    assert divergence(0.3, 2.3, 0.9, 0.11) is None
    assert divergence(2.3, 2.3) is None and divergence(5.0, None) is None
    assert divergence(4.4e12, 35.7, 0.5, 0.11) == "the training loss grew from 35.7 to 4.4e+12 (x1.2e+11)"
    both = divergence(4.4e12, 35.7, 0.1, 0.11)
    assert both.endswith("; test accuracy 10.00% is at chance (11.00% by always answering the most common class)")
    assert loss_grew(4.4e12, 35.7) and not loss_grew(35.0, 35.7) and not loss_grew(1.0, None)
    stuck = divergence(2.3, 2.3, 0.1010, 0.1135)
    assert stuck.startswith("test accuracy 10.10% is at chance (11.35% by always answering the most common class)")
    assert "not learning" in stuck
    assert divergence(2.3, 2.3, 0.0, 1.0) is None  # one test label: chance means nothing


def test_chance_is_the_most_common_label_share():
    assert chance([1, 1, 2, 3]) == 0.5
    assert chance([[0.0, 1.0], [1.0, 0.0], [0.2, 0.8]]) == pytest.approx(2 / 3)
    assert chance([]) is None


def test_fit_flags_a_run_that_blows_up_without_nan(sample):
    events = []
    model = MLP([784, 30, 10], activation="relu", init="normal", seed=0)
    history = fit(model, sample.X_train[:1000], sample.y_train[:1000], sample.X_test[:1000], sample.y_test[:1000],
                  epochs=1, lr=1e4, callback=events.append)
    assert history[0]["diverged"] is True
    epoch = [e for e in events if e["event"] == "epoch"][0]
    assert epoch["warning"].startswith("the training loss grew from") and epoch["loss_grew"]


def test_fit_does_not_flag_a_healthy_run(sample):
    events = []
    history = fit(MLP([784, 30, 10], seed=0), sample.X_train[:1000], sample.y_train[:1000],
                  sample.X_test[:500], sample.y_test[:500], epochs=2, lr=0.5, callback=events.append)
    assert [r["diverged"] for r in history] == [False, False]
    assert [e["warning"] for e in events if e["event"] == "epoch"] == [None, None]


def test_train_warns_once_and_exits_0(capsys, tmp_path):
    metrics = tmp_path / "m.json"
    code = cli.main(["train", "--lr", "1e4", "--activation", "relu", "--init", "normal", "--limit", "1000",
                     "--epochs", "2", "--metrics", str(metrics)])
    out, err = capsys.readouterr()
    assert code == 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinygrad-mnist train: warning: epoch 1: the training loss grew")
    assert ": the learning rate is probably too high: lower --lr (now 10000); or rerun with --detect-anomaly" \
        in lines[0]
    assert '"diverged": true' in metrics.read_text()


def test_the_warning_blames_weight_decay_when_the_decay_alone_grows_the_weights(capsys):
    """The same advice as the divergence error: SGD's decay past lr * wd = 2 (1 + momentum)."""
    code = cli.main(["train", "--limit", "100", "--epochs", "1", "--weight-decay", "100"])
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("tinygrad-mnist train: warning: epoch 1: the training loss grew"), err
    assert "--weight-decay 100 is too strong for --lr 0.5" in err[0]
    assert code == 0 or err[-1].startswith("tinygrad-mnist train: error: training diverged")
