"""The command line, run in-process through ``main([...])``: exit codes, --help everywhere,
one-line errors, train/evaluate/predict/download end to end on the bundled sample."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_mnist import cli, digits as digit_files, nn, serialize
from tinygrad_mnist.cli import main
from tinygrad_mnist.data import DownloadError, load_bundled_sample, write_idx

COMMANDS = ["train", "evaluate", "predict", "download", "explain", "diagnose", "graph", "show"]
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def empty_cache(tmp_path_factory, monkeypatch):
    """Every test sees an empty cache, so 'mnist' is always the bundled 10k/10k sample."""
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="module")
def sample():
    return load_bundled_sample()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A 784-30-10 model trained for 3 epochs on the bundled 10k digits (93% accurate)."""
    path = tmp_path_factory.mktemp("model") / "model.npz"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINYGRAD_MNIST_HOME", str(path.parent))  # empty: the bundled sample
        assert main(["train", "--epochs", "3", "--quiet", "--save", str(path)]) == 0
    return path


def run(capsys, *argv):
    """(exit status, stdout, stderr) of main(argv)."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "error:" in lines[0] and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# ------------------------------------------------------------------ help and usage errors
@pytest.mark.parametrize("argv", [["--help"]] + [[c, "--help"] for c in COMMANDS])
def test_help_exits_0(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    assert "usage: tinygrad-mnist" in capsys.readouterr().out


def test_every_train_option_is_documented(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for flag in ["--sizes", "--activation", "--loss", "--epochs", "--batch-size", "--lr", "--momentum",
                 "--weight-decay", "--optimizer", "--init", "--seed", "--dataset", "--data", "--limit",
                 "--save", "--metrics", "--plot", "--quiet", "--arch", "--lr-decay"]:
        assert flag in text


@pytest.mark.parametrize("argv", [
    [], ["bogus"], ["train", "--epochs", "0"], ["train", "--lr", "-1"], ["train", "--momentum", "1.5"],
    ["train", "--loss", "hinge"], ["train", "--init", "zeros"], ["train", "--sizes"],
    ["train", "--dataset", "mnist", "--data", "x"], ["evaluate"], ["predict", "m.npz"],
    ["download", "--dataset", "cifar"], ["train", "--seed", "-1"], ["train", "--sizes", "784", "0"],
    ["train", "--lr", "nan"], ["train", "--lr", "inf"], ["train", "--weight-decay", "-1"],
    ["train", "--batch-size", "1.5"], ["train", "--limit", "0"], ["train", "--lr-decay", "0"],
    ["train", "--lr-decay", "1.5"],
])
def test_argparse_errors_exit_2_with_usage_and_one_error_line(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("usage: ") and "error: " in lines[1]


def test_module_entry_point_runs_as_a_subprocess():
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "tinygrad_mnist", "--help"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 0 and "train" in proc.stdout and "predict" in proc.stdout


# ------------------------------------------------------------------ train
def test_train_with_no_arguments_reaches_90_percent(capsys):
    """The headline: `tinygrad-mnist train` alone, on the bundled sample, >= 90% on the
    official 10k test digits (93.7% measured)."""
    code, out, err = run(capsys, "train")
    assert code == 0, err
    assert "bundled sample" in out and out.count("bundled sample") == 1
    epochs = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert len(epochs) == cli.train.DEFAULT_EPOCHS and "10000 training / 10000 test images" in out
    final = out.strip().splitlines()[-1]
    assert final.startswith("test accuracy ")
    assert float(final.split()[2].rstrip("%")) >= 90.0


def test_train_saves_model_and_metrics(capsys, tmp_path, sample):
    model_path, metrics = tmp_path / "m.npz", tmp_path / "metrics.json"
    code, out, err = run(capsys, "train", "--limit", 500, "--epochs", 2, "--sizes", 784, 16, 10,
                         "--activation", "relu", "--init", "he", "--optimizer", "adam", "--lr", 0.01,
                         "--weight-decay", 1e-4, "--save", model_path, "--metrics", metrics)
    assert code == 0, err
    assert err == ""  # not a terminal: no progress bar
    assert len([line for line in out.splitlines() if line.startswith("epoch ")]) == 2
    history = json.loads(metrics.read_text())
    assert [r["epoch"] for r in history] == [1, 2]
    assert set(history[0]) == {"epoch", "train_loss", "test_loss", "test_accuracy", "seconds", "diverged"}
    model = serialize.load(model_path)
    assert model.sizes == [784, 16, 10] and model.activation == "relu"
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".tmp")] == []
    # the saved model reproduces the reported accuracy on the same 500 test digits
    acc = (nn.predict_proba(model, sample.X_test[:500]).argmax(1) == sample.y_test[:500]).mean()
    assert acc == pytest.approx(history[-1]["test_accuracy"])


def test_train_quadratic_cost_and_quiet(capsys):
    code, out, err = run(capsys, "train", "--limit", 300, "--epochs", 1, "--loss", "quadratic",
                         "--init", "normal", "--lr", 3.0, "--momentum", 0.5, "--quiet")
    assert code == 0, err
    assert out.strip().splitlines() == [out.strip()] and out.startswith("test accuracy")


def test_train_reads_an_idx_directory_given_with_data(capsys, tmp_path, sample):
    for name, arr in [("train-images-idx3-ubyte.gz", sample.X_train[:200]),
                      ("t10k-images-idx3-ubyte.gz", sample.X_test[:100])]:
        write_idx(tmp_path / name, np.rint(arr * 255).astype(np.uint8).reshape(-1, 28, 28))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", sample.y_train[:200].astype(np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", sample.y_test[:100].astype(np.uint8))
    code, out, err = run(capsys, "train", "--data", tmp_path, "--epochs", 1)
    assert code == 0, err
    assert "200 training / 100 test images" in out


def test_train_plot(capsys, tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib not installed (the [plot] extra)")
    curve = tmp_path / "curve.png"
    code, out, err = run(capsys, "train", "--limit", 200, "--epochs", 2, "--quiet", "--plot", curve)
    assert code == 0, err
    picture = digit_files.read_png(curve)  # matplotlib's PNG, read by our own decoder
    assert picture.ndim == 3 and picture.shape[0] > 100


def test_train_plot_without_matplotlib_exits_2_before_training(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    code, out, err = run(capsys, "train", "--limit", 200, "--epochs", 1, "--plot", tmp_path / "c.png")
    assert code == 2
    assert_one_line_error(err, "install tinygrad_mnist[plot] (matplotlib) for --plot")
    assert "epoch" not in out


@pytest.mark.parametrize("argv, fragment", [
    (["--sizes", 700, 10], "--sizes takes 700 inputs, but the images have 784"),
    (["--sizes", 784, 5], "5 outputs, but the labels go up to 9"),
    (["--sizes", 784], "at least an input and an output"),
    (["--optimizer", "adam", "--momentum", 0.9], "--momentum applies to --optimizer sgd"),
    (["--data", "/nonexistent/mnist"], "/nonexistent/mnist"),
    (["--save", "/nonexistent/m.npz"],
     "--save /nonexistent/m.npz: the directory /nonexistent does not exist"),
    (["--metrics", "."], "--metrics .: is a directory"),
    (["--save", ""], "--save '': give a file name"),
    (["--metrics", "/nonexistent-dir-for-test/"], "give a file name"),
    (["--sizes", 784, 10**6, 10], "--sizes 784 1000000 10 means 795,000,010 parameters, more than the 50,000,000"),
])
def test_train_bad_settings_exit_2_with_one_line(capsys, argv, fragment):
    code, out, err = run(capsys, "train", "--limit", 100, "--epochs", 1, *argv)
    assert code == 2
    assert_one_line_error(err, fragment)


def test_train_bad_data_file_exits_2(capsys, tmp_path):
    bad = tmp_path / "train.csv"
    bad.write_text("label,pixel0\n1,2\n")
    code, out, err = run(capsys, "train", "--data", bad)
    assert code == 2
    assert_one_line_error(err, str(bad))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_train_divergence_exits_1(capsys):
    code, out, err = run(capsys, "train", "--limit", 200, "--epochs", 1, "--lr", 1e38)  # float32 overflows
    assert code == 1
    assert_one_line_error(err, "learning rate")


# ------------------------------------------------------------------ evaluate
def test_evaluate_prints_accuracy_and_confusion_matrix(capsys, model_file):
    code, out, err = run(capsys, "evaluate", model_file, "--limit", 1000)
    assert code == 0, err
    lines = out.splitlines()
    acc_line = next(line for line in lines if line.startswith("accuracy"))
    assert "/ 1000 mnist test images)" in acc_line and float(acc_line.split()[1].rstrip("%")) > 80
    header = lines.index(next(line for line in lines if line.startswith("true\\pred")))
    rows = [list(map(int, line.split())) for line in lines[header + 1:header + 11]]
    assert [r[0] for r in rows] == list(range(10))
    assert sum(sum(r[1:]) for r in rows) == 1000
    assert sum(r[1 + i] for i, r in enumerate(rows)) == int(acc_line.split("(")[1].split()[0])


@pytest.mark.parametrize("make, fragment", [
    (lambda p: None, "No such file or directory"),
    (lambda p: p.write_text("not a model"), "not a readable .npz"),
    (lambda p: np.savez(p, x=np.zeros(3)), "no __architecture__"),
])
def test_evaluate_bad_model_files_exit_2(capsys, tmp_path, make, fragment):
    path = tmp_path / "model.npz"
    make(path)
    code, out, err = run(capsys, "evaluate", path)
    assert code == 2
    assert_one_line_error(err, str(path), fragment)


def test_evaluate_model_of_the_wrong_size_exits_2(capsys, tmp_path):
    serialize.save(nn.MLP([100, 10], seed=0), tmp_path / "small.npz")
    code, out, err = run(capsys, "evaluate", tmp_path / "small.npz", "--limit", 10)
    assert code == 2
    assert_one_line_error(err, "takes 100 inputs")


# ------------------------------------------------------------------ predict
def test_predict_png_pgm_npy(capsys, tmp_path, model_file, sample):
    digits = np.rint(sample.X_test[:3] * 255).astype(np.uint8).reshape(3, 28, 28)  # a 7, a 2, a 1
    assert list(sample.y_test[:3]) == [7, 2, 1]
    digit_files.write_png(tmp_path / "seven.png", digits[0])
    digit_files.write_pgm(tmp_path / "two.pgm", digits[1])
    np.save(tmp_path / "one.npy", sample.X_test[2])
    digit_files.write_png(tmp_path / "seven_on_white.png", np.stack([255 - digits[0]] * 3, axis=-1))
    files = [tmp_path / n for n in ("seven.png", "two.pgm", "one.npy")]
    code, out, err = run(capsys, "predict", model_file, *files)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert [line.split(": ")[1].split()[0] for line in lines] == ["7", "2", "1"]
    probs = [float(t.split(":")[1]) for t in lines[0].split()[3:]]
    assert len(probs) == 10 and sum(probs) == pytest.approx(1.0, abs=0.01)
    code, out, _ = run(capsys, "predict", model_file, "--invert", tmp_path / "seven_on_white.png")
    assert code == 0 and out.split(": ")[1].startswith("7 ")


@pytest.mark.parametrize("make, fragment", [
    (lambda p: p.write_text("hello"), "not a readable image"),
    (lambda p: digit_files.write_png(p, np.zeros((20, 20), np.uint8)), "no digit found"),
    (lambda p: None, "No such file or directory"),
])
def test_predict_bad_images_exit_2(capsys, tmp_path, model_file, make, fragment):
    path = tmp_path / "digit.png"
    make(path)
    code, out, err = run(capsys, "predict", model_file, path)
    assert code == 2
    assert_one_line_error(err, str(path), fragment)


# ------------------------------------------------------------------ download
def test_download_reports_progress_and_where(capsys, monkeypatch, tmp_path):
    calls = {}

    def fake_download(dataset, cache_dir=None, progress=None, deadline=None):
        calls["args"] = (dataset, cache_dir, deadline)
        progress("t10k-labels-idx1-ubyte.gz", 0, 100)
        progress("t10k-labels-idx1-ubyte.gz", 100, 100)
        return [tmp_path / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"]
    monkeypatch.setattr(cli.train, "download", fake_download)
    code, out, err = run(capsys, "download", "--dataset", "fashion-mnist", "--cache-dir", tmp_path)
    assert code == 0
    assert calls["args"] == ("fashion-mnist", str(tmp_path), 900.0)
    assert "downloading t10k-labels-idx1-ubyte.gz" in err
    assert f"fashion-mnist: 1 files in {tmp_path / 'fashion-mnist'}" in out


def test_download_failure_exits_1_with_one_line(capsys, monkeypatch):
    def failing(dataset, cache_dir=None, progress=None, deadline=None):
        raise DownloadError("train-images-idx3-ubyte.gz",
                            [("https://a/x", "HTTP 404"), ("https://b/x", "timed out")])
    monkeypatch.setattr(cli.train, "download", failing)
    code, out, err = run(capsys, "download")
    assert code == 1
    assert_one_line_error(err, "train-images-idx3-ubyte.gz", "https://a/x (HTTP 404)",
                          "https://b/x (timed out)")


def test_train_refuses_to_replace_a_pipe_or_device(capsys, tmp_path):
    os.mkfifo(tmp_path / "m.npz")
    code, out, err = run(capsys, "train", "--limit", 50, "--epochs", 1, "--save", tmp_path / "m.npz")
    assert code == 2
    assert_one_line_error(err, "m.npz: exists and is not a regular file")
    assert "epoch" not in out  # refused before training


# ---------------------------------------------------------------- issue 13's table: the command line
# Rows run as real processes are measured (helpers.run_measured): within a generous time bound
# (the machine is shared) and at most 200 MB above the bare interpreter.
from helpers import assert_bounded, cli_env, run_measured, tinygrad  # noqa: E402
from tinygrad_mnist.data import cache_root  # noqa: E402
from tinygrad_mnist.train import save_history  # noqa: E402

# A user id with no passwd entry (`docker --user 12345`): pwd knows nobody, and HOME is unset.
NO_PASSWD = ("import pwd, runpy, sys\n"
             "def nobody(uid):\n"
             "    raise KeyError(f'getpwuid(): uid not found: {uid}')\n"
             "pwd.getpwuid = nobody\n"
             "sys.argv[0] = 'tinygrad-mnist'\n"
             "runpy.run_module('tinygrad_mnist', run_name='__main__')\n")


def test_table_no_home_and_no_passwd_entry(tmp_path, model_file, sample):
    """HOME unset and a user id without a passwd entry: a traceback, exit 1. Now the cache
    falls back to a folder of our own in the temp dir, and commands work."""
    env = cli_env(tmp_path)
    for name in ("HOME", "TINYGRAD_MNIST_HOME", "XDG_CACHE_HOME"):
        env.pop(name, None)
    digit = tmp_path / "digit.npy"
    np.save(digit, sample.X_test[0])
    for argv, expected in ((["predict", model_file, digit], f"{digit}: {sample.y_test[0]} "),
                           (["train", "--limit", 100, "--epochs", 1, "--quiet"], "test accuracy")):
        m = run_measured([sys.executable, "-c", NO_PASSWD, *map(str, argv)], timeout=20, env=env)
        assert m.status == 0 and m.err == "", m.err
        assert expected in m.out
        assert_bounded(m, seconds=20)


def test_cache_root_order(monkeypatch, tmp_path):
    """$TINYGRAD_MNIST_HOME, then $XDG_CACHE_HOME, then ~/.cache, then the temp dir."""
    import pwd
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "mine"
    monkeypatch.delenv("TINYGRAD_MNIST_HOME")
    assert cache_root() == tmp_path / "xdg" / "tinygrad_mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")  # ignored, as the XDG specification says
    assert cache_root() == tmp_path / "home" / ".cache" / "tinygrad_mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.delenv("HOME")
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: (_ for _ in ()).throw(KeyError(uid)))
    fallback = cache_root()
    assert fallback.parent == Path(__import__("tempfile").gettempdir()) and fallback.name.startswith("tinygrad_mnist")


def test_table_divergence_on_the_very_last_step(tmp_path):
    """--epochs 1 --batch-size 10000 --lr 1e300: exit 0 with bare NaN in the metrics and a
    model evaluate refused. The one step's update is the last: now the weights are checked
    after each epoch, exit 1 with the advice, nothing written."""
    m = run_measured(tinygrad("train", "--epochs", 1, "--batch-size", 10000, "--lr", 1e300, "--limit", 2000,
                              "--save", tmp_path / "m.npz", "--metrics", tmp_path / "m.json"),
                     timeout=20, env=cli_env(tmp_path))
    assert m.status == 1
    assert_one_line_error(m.err, "training diverged: the last step's update made the weights (layers.0.weight) "
                                 "NaN or Inf in epoch 1", "lower --lr (now 1e+300)", "--detect-anomaly")
    assert not (tmp_path / "m.npz").exists() and not (tmp_path / "m.json").exists()
    assert_bounded(m, seconds=20)


def test_weight_decay_divergence_blames_the_weight_decay(capsys):
    code, out, err = run(capsys, "train", "--limit", 200, "--epochs", 2, "--lr", 0.5, "--weight-decay", 100)
    assert code == 1
    # epoch 1 diverged without a NaN yet: the warning (issue 12) comes first, with the same advice
    warning, _, error = err.partition("\n") if err.startswith("tinygrad-mnist train: warning: ") else ("", "", err)
    assert not warning or "--weight-decay 100 is too strong for --lr 0.5" in warning
    assert_one_line_error(error, "--weight-decay 100 is too strong for --lr 0.5", "multiplies the weights by -49",
                          "below 4")
    assert "learning rate" not in err


def test_metrics_json_is_strict(tmp_path):
    """NaN and Inf are written as null: json.dump would write bare NaN, which is not JSON."""
    save_history([{"epoch": 1, "train_loss": float("nan"), "test_loss": float("inf"), "test_accuracy": 0.5,
                   "seconds": 1.0}], tmp_path / "m.json")
    def refuse(name):
        raise ValueError(f"not strict JSON: {name}")
    assert json.loads((tmp_path / "m.json").read_text(), parse_constant=refuse) == [
        {"epoch": 1, "train_loss": None, "test_loss": None, "test_accuracy": 0.5, "seconds": 1.0}]


def test_table_output_paths_are_checked_before_the_first_epoch(tmp_path):
    """A 300-character --save name and --plot curve.txt were found only after all epochs, the
    message naming the temp file; now refused before training, naming the user's path."""
    long_name = tmp_path / ("m" * 300 + ".npz")
    m = run_measured(tinygrad("train", "--epochs", 50, "--save", long_name), timeout=20, env=cli_env(tmp_path))
    assert m.status == 2 and "epoch" not in m.out
    assert_one_line_error(m.err, f"--save {long_name}: the file name is 304 bytes, longer than the 255")
    assert_bounded(m, seconds=20)
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib")
    m = run_measured(tinygrad("train", "--epochs", 50, "--plot", tmp_path / "curve.txt"), timeout=20,
                     env=cli_env(tmp_path))
    assert m.status == 2 and "epoch" not in m.out
    assert_one_line_error(m.err, f"--plot {tmp_path / 'curve.txt'}: matplotlib cannot write .txt pictures")
    assert_bounded(m, seconds=20)


def test_a_failed_save_names_the_users_path_not_a_temp_file(capsys, monkeypatch, tmp_path):
    def full(f, **arrays):
        raise OSError(28, "No space left on device")  # as a write deep inside np.savez says it
    monkeypatch.setattr(np, "savez", full)
    code, out, err = run(capsys, "train", "--limit", 50, "--epochs", 1, "--save", tmp_path / "m.npz")
    assert code == 2
    assert_one_line_error(err, f"{tmp_path / 'm.npz'}: No space left on device")
    assert ".tmp-" not in err and list(tmp_path.iterdir()) == []


def test_long_header_errors_are_cut(capsys, model_file, tmp_path):
    """A .npy whose 9 kB header has a key too many: NumPy quotes the keys; one short line here."""
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (28, 28), '" + "x" * 9000 + "': 0}"
    header += " " * (63 - len(header) % 64) + "\n"
    path = tmp_path / "bad.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode())
    code, out, err = run(capsys, "predict", model_file, path)
    assert code == 2
    assert_one_line_error(err, f"{path}: not a readable .npy array")
    assert len(err) < 400


def test_show_names_its_own_option_and_caps_n(capsys, monkeypatch, model_file, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    code, out, err = run(capsys, "show", model_file, "-o", tmp_path / "w.png")
    assert code == 2
    assert_one_line_error(err, "install tinygrad_mnist[plot] (matplotlib) for show")
    with pytest.raises(SystemExit):
        main(["show", str(model_file), "-o", str(tmp_path / "w.png"), "--misclassified", "-n", "101"])
    assert "expected an integer from 1 to 100, got 101" in capsys.readouterr().err
