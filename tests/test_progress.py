"""fit(..., progress=True): a bar redrawn in place on a terminal, one line per epoch on a pipe or
a log, an HTML bar in a notebook (here its HTML; the notebook test shows it live)."""
from __future__ import annotations

import io
import sys

import pytest

from tinygrad_mnist.data import load_bundled_sample
from tinygrad_mnist.nn import MLP
from tinygrad_mnist.progress import ProgressBar, epoch_line
from tinygrad_mnist.train import fit


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture(scope="module")
def data():
    s = load_bundled_sample()
    return s.X_train[:300], s.y_train[:300], s.X_test[:100], s.y_test[:100]


def test_progress_on_a_terminal_redraws_one_line(monkeypatch, data):
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    events = []
    fit(MLP([784, 10, 10], seed=0), *data, epochs=2, lr=0.5, progress=True, callback=events.append)
    text = term.getvalue()
    assert "\repoch 1/2 [" in text and "\repoch 2/2 [########################] 100%" in text
    lines = [line.split("\r")[-1] for line in text.split("\n")]
    assert lines[0].startswith("epoch 1/2, train loss ") and "test accuracy" in lines[0]
    assert lines[1].startswith("epoch 2/2, train loss ") and lines[2] == ""
    assert [e["event"] for e in events].count("epoch") == 2  # the caller's callback still runs


def test_progress_on_a_pipe_prints_epoch_lines_only(capsys, data):
    fit(MLP([784, 10, 10], seed=0), *data, epochs=2, lr=0.5, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "\r" not in err
    assert [line.split(",")[0] for line in err.splitlines()] == ["epoch 1/2", "epoch 2/2"]


def test_progress_html_for_notebooks():
    bar = ProgressBar(stream=io.StringIO(), notebook=True)
    bar.lines.append("epoch 1/3, train loss 0.5000, 1.0 s")
    html = bar.html({"event": "batch", "epoch": 2, "epochs": 3, "seen": 50, "total": 200, "loss": 0.25,
                     "seconds": 0.5})
    assert '<progress value="50" max="200"' in html and "epoch 2/3  25%  loss 0.2500  100 samples/s" in html
    assert html.index("epoch 1/3, train loss") < html.index("<progress")


def test_epoch_line_shows_a_warning():
    line = epoch_line({"epoch": 1, "epochs": 1, "train_loss": 9e9, "test_loss": None, "test_accuracy": None,
                       "seconds": 0.2, "warning": "the training loss grew"})
    assert line == "epoch 1/1, train loss 9000000000.0000, 0.2 s, WARNING: the training loss grew"
