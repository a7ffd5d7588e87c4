"""Ctrl-C during ``tinygrad-mnist train``: stops cleanly, keeps the last completed epoch's model
and metrics when --save/--metrics were given, says so in one line, exits 130."""
from __future__ import annotations

import io
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


@pytest.fixture(autouse=True)
def stop_signals_live():
    """A suite started under nohup, or as `cmd &` by a shell without job control, inherits SIGHUP
    or SIGINT ignored, and the CLI rightly keeps an inherited ignore (cli/signals.py); these
    tests send those signals to the CLI in this very process, so they need them live."""
    live = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL,
            signal.SIGHUP: signal.SIG_DFL}
    ignored = [s for s in live if signal.getsignal(s) is signal.SIG_IGN]
    for s in ignored:
        signal.signal(s, live[s])
    yield
    for s in ignored:
        signal.signal(s, signal.SIG_IGN)


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
    # the child gets Ctrl-C's default handling back: a pytest started as `cmd &` by a shell without
    # job control (some CI runners, nohup) inherits SIGINT ignored, and so would the child
    proc = subprocess.Popen([sys.executable, "-m", "tinygrad_mnist", "train", "--limit", "2000", "--epochs", "500",
                             "--save", str(model_path), "--metrics", str(metrics)], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
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



# ---------------------------------------------------------------- issue 13's table: signals, pipes
import random  # noqa: E402

from helpers import Launched, assert_bounded, cli_env, run_measured, tinygrad  # noqa: E402
from tinygrad_mnist.cli.signals import SignalGuard, shielded  # noqa: E402

STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}
WHAT = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated (SIGTERM)",
        signal.SIGHUP: "stopped by SIGHUP (the terminal went away)"}
RUN = ["train", "--limit", 2000, "--epochs", 6, "--batch-size", 10, "--sizes", 784, 32, 10]


def assert_model_of_last_epoch(model_path, metrics_path, limit=1000):
    """The saved model is complete and is the one of the last epoch its metrics list: its
    accuracy on the same test images is the one recorded for that epoch."""
    history = json.loads(metrics_path.read_text())
    sample = load_bundled_sample()
    X, y = sample.X_test[:limit], sample.y_test[:limit]
    acc = (nn.predict_proba(serialize.load(model_path), X).argmax(1) == y).mean()
    assert acc == pytest.approx(history[-1]["test_accuracy"]), (acc, history[-1])
    return len(history)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
@pytest.mark.parametrize("draw", [0, 1])
def test_table_signal_at_a_random_moment_keeps_the_last_completed_epoch(tmp_path, sig, draw):
    """SIGTERM or SIGHUP mid-training (`timeout`, `kill`, a closed ssh) killed the run silently,
    nothing saved. Now each of TERM, HUP and INT, at a random moment of the run (training, the
    final save, the end), leaves either nothing (no epoch done) or a complete model of the
    last completed epoch with its metrics, says so in one line, and exits 143/129/130 (0 if
    the run was over)."""
    # the moment: a random point of a random epoch; after the 6th epoch's line comes the save
    rng = random.Random(f"{sig.name}-{draw}")
    after, delay = rng.randint(0, 6), rng.uniform(0.0, 0.05)
    model_path, metrics = tmp_path / "m.npz", tmp_path / "m.json"
    run = Launched(tinygrad(*RUN, "--save", model_path, "--metrics", metrics), env=cli_env(tmp_path),
                   cwd=tmp_path, stdout=subprocess.PIPE)
    first = run.proc.stdout.readline()  # "data: ...": main runs, its handlers are in place
    assert first.startswith("data: "), first
    while after and not run.proc.stdout.readline().startswith(f"epoch {after}/"):
        pass
    time.sleep(delay)
    run.signal(sig)
    m = run.finish(timeout=30)
    note = f"signal {delay:.2f} s after epoch {after}: {m.err}"
    assert m.status in (STATUS[sig], 0), note
    if m.status == 0:  # the run was over before the signal
        assert m.err == "" and assert_model_of_last_epoch(model_path, metrics, limit=2000) == 6
        return
    lines = m.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"tinygrad-mnist train: {WHAT[sig]} "), note
    if lines[0].endswith("no epoch completed, nothing written"):
        assert not model_path.exists() and not metrics.exists()
    else:
        n = assert_model_of_last_epoch(model_path, metrics, limit=2000)
        assert lines[0].endswith((f"; wrote {model_path}, {metrics} as of epoch {n}",
                                  f"finished writing {model_path}, {metrics} first")), note
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp files
    assert_bounded(m, seconds=30)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_table_signal_during_the_final_save_finishes_that_save(capsys, monkeypatch, tmp_path, sig):
    """Ctrl-C during the final save: exit 130 and the trained model never written. Now the
    signal (delivered half-way through writing the archive) waits: the save completes, the
    exit status still says which signal came."""
    ref = tmp_path / "ref.npz"
    assert run(capsys, *TRAIN_QUICK, "--epochs", 2, "--quiet", "--save", ref)[0] == 0
    real_savez = np.savez

    def savez_then_signal(f, **arrays):
        half = dict(list(arrays.items())[:len(arrays) // 2])
        real_savez(io.BytesIO(), **half)
        os.kill(os.getpid(), sig)  # arrives now, in the middle of the save
        real_savez(f, **arrays)
    monkeypatch.setattr(np, "savez", savez_then_signal)
    model_path, metrics = tmp_path / "m.npz", tmp_path / "m.json"
    code, out, err = run(capsys, *TRAIN_QUICK, "--epochs", 2, "--save", model_path, "--metrics", metrics)
    assert code == STATUS[sig]
    assert err.strip() == (f"tinygrad-mnist train: {WHAT[sig]} while writing the results; finished writing "
                           f"{model_path}, {metrics} first")
    for a, b in zip(serialize.load(model_path).parameters(), serialize.load(ref).parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    assert [r["epoch"] for r in json.loads(metrics.read_text())] == [1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.npz", "ref.npz"]


def test_a_signal_is_held_back_while_shielded_and_raised_once():
    previous = signal.getsignal(signal.SIGTERM)
    with SignalGuard() as guard:
        with pytest.raises(KeyboardInterrupt) as stopped:
            with shielded():
                os.kill(os.getpid(), signal.SIGTERM)
                with shielded():
                    pass  # an inner shield ending raises nothing: the outer one is still up
                assert guard.pending == [signal.SIGTERM]
        assert stopped.value.status == 143
        os.kill(os.getpid(), signal.SIGTERM)  # once stopping, later signals are only recorded
        assert guard.pending == [signal.SIGTERM, signal.SIGTERM]
    assert signal.getsignal(signal.SIGTERM) is previous  # put back


def test_table_stdout_to_a_closed_pipe_or_a_full_disk_keeps_the_results(tmp_path):
    """`train ... | head -1` and stdout to /dev/full ended with exit 2 "Broken pipe" / "No space
    left", no model, no metrics. Now output is best effort: the run and its saves complete."""
    argv = tinygrad("train", "--limit", 300, "--epochs", 3, "--save", tmp_path / "m.npz", "--metrics",
                    tmp_path / "m.json")
    piped = Launched(argv, env=cli_env(tmp_path), stdout=subprocess.PIPE)
    assert piped.proc.stdout.readline().startswith("data: ")
    piped.proc.stdout.close()  # what head -1 does after its line
    m = piped.finish(timeout=30)
    assert m.status == 0 and m.err == "", m.err
    assert assert_model_of_last_epoch(tmp_path / "m.npz", tmp_path / "m.json", limit=300) == 3
    assert_bounded(m, seconds=30)
    if not os.path.exists("/dev/full"):  # Linux has it; elsewhere the closed pipe above must do
        return
    for p in (tmp_path / "m.npz", tmp_path / "m.json"):
        p.unlink()
    with open("/dev/full", "w") as full:
        m = run_measured(argv, timeout=30, env=cli_env(tmp_path), stdout=full)
    assert m.status == 0 and m.err == "", m.err
    assert assert_model_of_last_epoch(tmp_path / "m.npz", tmp_path / "m.json", limit=300) == 3
    assert_bounded(m, seconds=30)


def test_table_stderr_closed_writes_nothing_to_stdout_instead(tmp_path):
    """With stderr closed (2>&-) an error used to go to stdout; now nothing does, and the exit
    status tells."""
    m = run_measured(tinygrad("train", "--data", tmp_path / "missing"), timeout=20, env=cli_env(tmp_path),
                     close_stderr=True)
    assert m.status == 2 and m.out == ""
    m = run_measured(tinygrad("train", "--limit", 100, "--epochs", 1, "--save", tmp_path / "m.npz"), timeout=20,
                     env=cli_env(tmp_path), close_stderr=True)
    assert m.status == 0 and "wrote" in m.out
    serialize.load(tmp_path / "m.npz")  # a whole model: nothing of stderr's went into it
    assert_bounded(m, seconds=20)


def test_a_killed_saves_temp_file_is_swept_by_the_next_save(tmp_path):
    """SIGKILL or a power cut leave a save's temp file; the next save to that name removes it
    once it is a day old (a fresh one may be another process's, still writing)."""
    stale, fresh = tmp_path / ".m.npz.tmp-0123456789ab.npz", tmp_path / ".m.npz.tmp-ba9876543210.npz"
    for p in (stale, fresh):
        p.write_bytes(bytes(100))
    os.utime(stale, (time.time() - 2 * 86400,) * 2)
    serialize.save(nn.MLP([4, 3], seed=0), tmp_path / "m.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == [fresh.name, "m.npz"]
