"""Ctrl-C during ``tinygrad-mnist train``: stops cleanly, keeps the last completed epoch's model
and metrics when --save/--metrics were given, says so in one line, exits 130."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tinygrad_mnist import cli, nn, train
from tinygrad_mnist import serialize
from tinygrad_mnist.data import load_bundled_sample
from test_cli import REPO, empty_cache, run  # noqa: F401  (empty_cache: autouse fixture)


def interrupt_after(monkeypatch, epochs_done: int, batches: int = 3):
    """Make cli's fit raise KeyboardInterrupt mid-epoch, ``batches`` progress reports into the
    epoch after ``epochs_done`` completed ones (the weights are then half-updated)."""
    real_fit = cli.train.fit

    def fit(*args, callback, **kwargs):
        seen = {"n": 0}

        def report(ev):
            callback(ev)
            if ev["event"] == "batch" and ev["epoch"] == epochs_done + 1:
                seen["n"] += 1
                if seen["n"] == batches:
                    raise KeyboardInterrupt
        return real_fit(*args, callback=report, **kwargs)
    monkeypatch.setattr(cli.train, "fit", fit)


TRAIN_QUICK = ["train", "--limit", 500, "--batch-size", 5, "--sizes", 784, 20, 10]


def test_ctrl_c_keeps_the_last_completed_epochs_model_and_metrics(capsys, monkeypatch, tmp_path):
    ref, model_path, metrics = tmp_path / "ref.npz", tmp_path / "m.npz", tmp_path / "m.json"
    assert run(capsys, *TRAIN_QUICK, "--epochs", 2, "--quiet", "--save", ref)[0] == 0
    interrupt_after(monkeypatch, epochs_done=2)
    code, out, err = run(capsys, *TRAIN_QUICK, "--epochs", 50, "--save", model_path, "--metrics", metrics)
    assert code == 130
    assert err.strip() == f"tinygrad-mnist train: interrupted during epoch 3; wrote {model_path}, {metrics} as of epoch 2"
    assert [line.split(",")[0] for line in out.splitlines() if line.startswith("epoch")] == ["epoch 1/50", "epoch 2/50"]
    assert [r["epoch"] for r in json.loads(metrics.read_text())] == [1, 2]
    saved, reference = serialize.load(model_path), serialize.load(ref)  # epoch 2's weights, not epoch 3's half-way ones
    for a, b in zip(saved.parameters(), reference.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["m.json", "m.npz", "ref.npz"]


def test_ctrl_c_in_the_first_epoch_writes_nothing_and_keeps_an_old_model(capsys, monkeypatch, tmp_path):
    old = tmp_path / "m.npz"
    serialize.save(nn.MLP([784, 20, 10], seed=5), old)
    before = old.read_bytes()
    interrupt_after(monkeypatch, epochs_done=0)
    code, out, err = run(capsys, *TRAIN_QUICK, "--epochs", 5, "--save", old, "--metrics", tmp_path / "m.json")
    assert code == 130
    assert err.strip() == "tinygrad-mnist train: interrupted during epoch 1; no epoch completed, nothing written"
    assert old.read_bytes() == before and sorted(f.name for f in tmp_path.iterdir()) == ["m.npz"]


def test_ctrl_c_without_save_says_nothing_was_written(capsys, monkeypatch):
    interrupt_after(monkeypatch, epochs_done=1)
    code, out, err = run(capsys, *TRAIN_QUICK, "--epochs", 5, "--quiet")
    assert code == 130
    assert err.strip() == ("tinygrad-mnist train: interrupted during epoch 2; 1 epoch completed; nothing "
                           "written (no --save or --metrics)")


@pytest.mark.parametrize("target", ["savez", "dump"])
def test_ctrl_c_or_a_full_disk_while_writing_keeps_the_old_files(capsys, monkeypatch, tmp_path, target):
    model_path, metrics = tmp_path / "m.npz", tmp_path / "m.json"
    assert run(capsys, *TRAIN_QUICK, "--epochs", 1, "--quiet", "--save", model_path, "--metrics", metrics)[0] == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    owner, real = (np, np.savez) if target == "savez" else (train.json, train.json.dump)
    failing = model_path if target == "savez" else metrics  # the model is written first

    def half_then(exc):
        def write(*args, **kwargs):
            real(*args, **kwargs)
            f = args[0] if target == "savez" else args[1]
            f.seek(f.tell() // 2)
            f.truncate()  # what reached the disk before the failure
            raise exc
        return write
    for exc, status in ((OSError(28, "No space left on device"), 2), (KeyboardInterrupt(), 130)):
        monkeypatch.setattr(owner, target, half_then(exc))
        code, out, err = run(capsys, *TRAIN_QUICK, "--epochs", 1, "--seed", 7, "--quiet", "--save", model_path,
                             "--metrics", metrics)
        assert code == status
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert (status == 2) == ("No space left on device" in err)
        assert failing.read_bytes() == before[failing.name]  # intact ...
        assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.npz"]  # ... and no temp files


def test_ctrl_c_to_a_real_process_saves_the_last_epoch_and_exits_130(tmp_path):
    """SIGINT to `python -m tinygrad_mnist train` as soon as it prints its first epoch."""
    env = dict(os.environ, TINYGRAD_MNIST_HOME=str(tmp_path / "cache"),
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    model_path, metrics = tmp_path / "m.npz", tmp_path / "m.json"
    proc = subprocess.Popen([sys.executable, "-m", "tinygrad_mnist", "train", "--limit", "2000", "--epochs", "500",
                             "--save", str(model_path), "--metrics", str(metrics)], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        for line in proc.stdout:  # blocks per line; the first epoch takes well under a second
            if line.startswith("epoch 1/500") or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    n = len(json.loads(metrics.read_text()))
    assert lines[0].endswith(f"; wrote {model_path}, {metrics} as of epoch {n}") and n >= 1
    assert lines[0].startswith(f"tinygrad-mnist train: interrupted during epoch {n + 1}")
    history = json.loads(metrics.read_text())
    sample = load_bundled_sample()
    acc = (nn.predict_proba(serialize.load(model_path), sample.X_test[:2000]).argmax(1) == sample.y_test[:2000]).mean()
    assert acc == pytest.approx(history[-1]["test_accuracy"])  # the weights of that same epoch

