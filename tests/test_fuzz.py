"""Fuzzing: the command line over real subcommands and flags with junk values, and the file
readers over random and mutated bytes. Every input must end in success or the documented,
clean failure; never a traceback, a stray warning, another exception type, or a hang.

CLI contract (``cli.py``): exit 0 (nothing on stderr), 1 (training diverged, a download
failed), 2 (bad arguments or files), 130 (Ctrl-C; not reached here). A failure prints one line
``tinygrad-mnist COMMAND: error: ...``; argparse's own errors print its usage, then one
``error:`` line. Runs are in-process on a 300-image cut of the bundled sample, so each costs
milliseconds whatever --limit says.
"""
from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import pickle
import signal
import time
import warnings
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tinygrad_mnist import cli, digits as digit_files, nn, serialize
from tinygrad_mnist.data import (DataError, DownloadError, load_bundled_sample, load_path, read_idx,
                                 read_kaggle_csv, read_mnist_pickle, write_idx)
from tinygrad_mnist.digits import ImageError
from helpers import peak_bytes

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=40)
STATUSES = {0, 1, 2}  # 130 needs a Ctrl-C


# ------------------------------------------------------------------ a world of files to point at
@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Good and bad files for every path-taking argument, and a CLI whose data loading is cached."""
    root = tmp_path_factory.mktemp("fuzz")
    sample = load_bundled_sample()
    X, y = sample.X_train[:60], sample.y_train[:60]
    serialize.save(nn.MLP([784, 30, 10], seed=0), root / "model.npz")
    serialize.save(nn.MLP([100, 10], seed=0), root / "small_model.npz")
    digits = np.rint(sample.X_test[:2] * 255).astype(np.uint8).reshape(2, 28, 28)
    digit_files.write_png(root / "digit.png", digits[0])
    digit_files.write_pgm(root / "digit.pgm", digits[1])
    np.save(root / "digit.npy", sample.X_test[2])
    digit_files.write_png(root / "big.png", np.zeros((40, 30), np.uint8))
    (root / "notes.txt").write_text("not a model, not an image\n")
    (root / "empty").mkdir()
    idx = root / "idx"
    idx.mkdir()
    for name, arr in (("train-images-idx3-ubyte.gz", digits), ("t10k-images-idx3-ubyte.gz", digits)):
        write_idx(idx / name, arr)
    for name in ("train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        write_idx(idx / name, np.array([7, 2], np.uint8))
    header = "label," + ",".join(f"pixel{i}" for i in range(784))
    rows = [",".join([str(label)] + [str(int(v * 255)) for v in row]) for label, row in zip(y, X)]
    (root / "train.csv").write_text("\n".join([header] + rows) + "\n")
    (root / "bad.csv").write_text(header + "\n5," + ",".join(["0"] * 783) + ",300\n")
    os.mkfifo(root / "pipe")
    real_load_dataset, loaded = cli.train.load_dataset, {}

    def cached_dataset(name="mnist", cache_dir=None, *, search_dirs=None, warn=True, limit=None):
        """load_dataset cut to 300 + 300 images and kept, so that every run is cheap."""
        if name not in loaded:
            d = sample if name == "mnist" else real_load_dataset(name, warn=False)
            loaded[name] = type(d)(d.X_train[:300], d.y_train[:300], d.X_test[:300], d.y_test[:300],
                                   name=d.name, source=f"{d.source} (first 300)", classes=d.classes)
        return loaded[name]

    def fake_download(dataset, cache_dir=None, progress=None, deadline=None):
        if dataset == "fashion-mnist":
            raise DownloadError("train-images-idx3-ubyte.gz", [("https://example.invalid/x", "HTTP 404")])
        return [root / "cache" / dataset / "train-images-idx3-ubyte.gz"]

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINYGRAD_MNIST_HOME", str(root / "cache"))
        mp.setattr(cli.train, "load_dataset", cached_dataset)
        mp.setattr(cli.train, "download", fake_download)
        mp.chdir(root)  # relative junk paths land here
        yield root


def run_cli(argv):
    """(status, stdout, stderr) of cli.main(argv), with every warning recorded as a failure."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            status = cli.main(argv)
        except SystemExit as e:  # argparse: --help, --version, usage errors
            status = e.code
    assert not caught, [str(w.message) for w in caught]
    return status, out.getvalue(), err.getvalue()


def check_clean(argv, status, out, err):
    """The CLI contract above, for one run."""
    assert status in STATUSES, (argv, status, err)
    assert "Traceback" not in err and "Traceback" not in out, (argv, err)
    # train's divergence warning may come first (once); apart from it, nothing or the error line
    lines = [line for line in err.strip().splitlines() if not line.startswith("tinygrad-mnist train: warning: ")]
    if status == 0:
        assert not lines, (argv, err)
        return
    assert lines, (argv, status, "no error message")
    assert ": error: " in lines[-1], (argv, err)
    if lines[0].startswith("usage: "):  # argparse: its usage (possibly wrapped), then one error line
        assert status == 2 and sum(": error: " in line for line in lines) == 1, (argv, err)
    else:
        assert len(lines) == 1 and lines[0].startswith("tinygrad-mnist "), (argv, err)


# ------------------------------------------------------------------ argument strategies
NUMBER_JUNK = ["", "abc", "nan", "-nan", "inf", "-inf", "1e3", "0x10", "1.5", "-1", "0", "99999999999999999999999"]
PATHS = ["model.npz", "small_model.npz", "digit.png", "digit.pgm", "digit.npy", "big.png", "notes.txt", "empty",
         "idx", "train.csv", "bad.csv", "pipe", "missing.npz", "missing/dir/x", "", ".", "/", "empty/"]
# outputs: new or overwritable names, and ones that must be refused; none of the inputs above,
# which later runs still read
OUT_PATHS = ["out.npz", "out.json", "curve.png", "", ".", "empty", "empty/", "missing/dir/x.npz", "pipe",
             "curve.xyz", "/"]

# flag -> (values that parse, junk); a value is junk one time in four, so most runs get past
# argparse and into the checks that come after it
TRAIN_VALUES = {
    "--sizes": ([["784", "30", "10"], ["784", "10"], ["784", "16", "16", "10"], ["784"], ["10", "10"],
                 ["784", "100000000", "10"], ["784", "5"], ["100", "10"], ["784", "1", "10"]],
                [["0"], [], ["784", "-5", "10"], ["784", "abc"], ["1e2"], [""]]),
    "--activation": (["sigmoid", "tanh", "relu"], ["softmax", "", "RELU"]),
    "--loss": (["cross-entropy", "quadratic"], ["hinge", ""]),
    "--epochs": (["1", "2"], NUMBER_JUNK[:-1]),  # never a huge valid count
    "--batch-size": (["1", "7", "100000", "99999999999999999999999"], NUMBER_JUNK[:-1]),
    "--optimizer": (["sgd", "adam"], ["SGD", ""]),
    "--lr": (["0.1", "3", "1e38", "1e308", "1e-320"], NUMBER_JUNK),
    "--momentum": (["0", "0.5", "0.999"], ["1", "2"] + NUMBER_JUNK),
    "--weight-decay": (["0", "1e-4", "1e300"], NUMBER_JUNK),
    "--init": (list(nn.INITS), ["zeros", ""]),
    "--seed": (["0", "7", "99999999999999999999999"], NUMBER_JUNK[:-1]),
    "--dataset": (["mnist", "fashion-mnist"], ["cifar", ""]),
    "--data": (PATHS, []),
    "--limit": (["1", "2", "50", "99999999999999999999999"], NUMBER_JUNK[:-1]),
    "--threads": (["1", "2"], NUMBER_JUNK),
    "--save": (OUT_PATHS, []),
    "--metrics": (OUT_PATHS, []),
    "--plot": (OUT_PATHS, []),
    "--quiet": ([[]], []),
    "--detect-anomaly": ([[]], []),
    "--bogus": ([], [["1"]]),
}


@st.composite
def value(draw, flag):
    valid, junk = TRAIN_VALUES[flag]
    chosen = draw(st.sampled_from(junk if not valid or junk and draw(st.integers(0, 3)) == 0 else valid))
    return chosen if isinstance(chosen, list) else [chosen]


@st.composite
def train_argv(draw):
    flags = draw(st.lists(st.sampled_from(sorted(TRAIN_VALUES)), unique=True, max_size=7))
    argv = ["train"]
    for flag in flags:
        argv += [flag, *draw(value(flag))]
    if "--epochs" not in flags:
        argv += ["--epochs", "1"]  # the default, 10, is a waste of time here
    return argv


@st.composite
def evaluate_argv(draw):
    argv = ["evaluate", draw(st.sampled_from(PATHS))]
    for flag in draw(st.lists(st.sampled_from(["--dataset", "--data", "--limit", "--quiet"]), unique=True,
                              max_size=3)):
        argv += [flag, *draw(value(flag))]
    return argv


@st.composite
def predict_argv(draw):
    argv = ["predict", draw(st.sampled_from(PATHS))] + draw(st.lists(st.sampled_from(PATHS), max_size=3))
    if draw(st.booleans()):
        argv.append("--invert")
    if draw(st.booleans()):
        argv = ["predict"] + draw(st.permutations(argv[1:]))
    return argv


@st.composite
def other_argv(draw):
    return draw(st.sampled_from([
        [], ["--help"], ["--version"], ["bogus"], ["train", "--help"], ["download"],
        ["download", "--dataset", "fashion-mnist"], ["download", "--dataset", "cifar"],
        ["download", "--cache-dir"], ["evaluate"], ["predict"], ["predict", "model.npz"],
        ["train", "--sizes"], ["train", "--epochs"], ["train", "--dataset", "mnist", "--data", "idx"],
        ["--", "train"], ["train", "--", "--epochs", "1"],
    ]))


def fuzz_cli(argv):
    status, out, err = run_cli(argv)
    check_clean(argv, status, out, err)
    event(f"exit {status}" + (" (argparse)" if err.startswith("usage:") else ""))
    return status


@settings(FUZZ, max_examples=120)
@given(argv=train_argv())
def test_fuzz_train(world, argv):
    fuzz_cli(argv)


@settings(FUZZ, max_examples=50)
@given(argv=evaluate_argv())
def test_fuzz_evaluate(world, argv):
    fuzz_cli(argv)


@settings(FUZZ, max_examples=50)
@given(argv=predict_argv())
def test_fuzz_predict(world, argv):
    fuzz_cli(argv)


@settings(FUZZ, max_examples=17)
@given(argv=other_argv())
def test_fuzz_other_commands(world, argv):
    fuzz_cli(argv)


# Hand-picked combinations that the random draw may miss, with the status and the text they give.
EXPECTED = [
    (["train", "--sizes", "0"], 2, "argument --sizes: expected a positive integer, got 0"),
    (["train", "--sizes", "784"], 2, "--sizes needs at least an input and an output size"),
    (["train", "--sizes", "10", "10"], 2, "--sizes takes 10 inputs, but the images have 784 pixels"),
    (["train", "--sizes", "784", "5"], 2, "--sizes has 5 outputs, but the labels go up to 9"),
    (["train", "--sizes", "784", "1000000000000", "10"], 2, "parameters, more than the 50,000,000"),
    (["train", "--epochs", "0"], 2, "argument --epochs: expected a positive integer, got 0"),
    (["train", "--epochs", "nan"], 2, "argument --epochs: expected a positive integer, got 'nan'"),
    (["train", "--lr", "nan"], 2, "argument --lr: expected a number in (0, inf), got nan"),
    (["train", "--lr", "-1"], 2, "argument --lr: expected a number in (0, inf), got -1"),
    (["train", "--momentum", "1"], 2, "argument --momentum: expected a number in [0, 1), got 1"),
    (["train", "--seed", "-1"], 2, "argument --seed: expected a non-negative integer, got -1"),
    (["train", "--dataset", "cifar"], 2, "argument --dataset: invalid choice: 'cifar'"),
    (["train", "--data", "missing.npz"], 2, "missing.npz: no such file or directory"),
    (["train", "--data", "pipe"], 2, "pipe: not a regular file (a pipe or a device?)"),
    (["train", "--data", "empty"], 2, "no MNIST data found"),
    (["train", "--data", "model.npz"], 2, "model.npz: unrecognised format"),
    (["train", "--data", "bad.csv"], 2, "bad.csv, line 2, column 785 (pixel783): 300 is outside 0..255"),
    (["train", "--data", "train.csv", "--epochs", "1", "--quiet"], 0, ""),
    (["train", "--data", "idx", "--epochs", "1", "--quiet"], 0, ""),
    (["train", "--lr", "1e38", "--epochs", "1", "--limit", "50"], 1, "rerun with --detect-anomaly"),
    (["train", "--lr", "1e38", "--epochs", "1", "--detect-anomaly"], 1, "--detect-anomaly: in the forward pass"),
    (["train", "--save", "empty"], 2, "--save empty: is a directory"),
    (["train", "--save", "missing/dir/x.npz"], 2, "the directory"),
    (["train", "--metrics", "pipe"], 2, "--metrics pipe: exists and is not a regular file"),
    (["evaluate", "small_model.npz"], 2, "small_model.npz takes 100 inputs, but the images have 784 pixels"),
    (["evaluate", "notes.txt"], 2, "notes.txt: not a readable .npz model file"),
    (["evaluate", "pipe"], 2, "pipe: not a regular file"),
    (["evaluate", "empty"], 2, "empty: Is a directory"),
    (["evaluate", "missing.npz"], 2, "missing.npz: No such file or directory"),
    (["predict", "model.npz", "big.png"], 2, "big.png: no digit found: the image is blank"),
    (["predict", "model.npz", "pipe"], 2, "pipe: not a regular file"),
    (["predict", "model.npz", "notes.txt"], 2, "notes.txt: not a readable image"),
    (["predict", "small_model.npz", "digit.png"], 2, "the model takes 100 inputs; a 28x28 image has 784"),
    (["predict", "model.npz", "digit.png", "digit.pgm", "digit.npy"], 0, ""),
    (["download", "--dataset", "fashion-mnist"], 1, "download failed from every mirror"),
    (["graph", "--sizes", "784", "100000000", "10", "-o", "out.svg"], 2, "parameters, more than the 50,000,000"),
    (["graph", "--batch", "1000000000", "-o", "out.svg"], 2, "graph draws batches of at most 100,000"),
    (["graph", "-o", "pipe"], 2, "-o pipe: exists and is not a regular file"),
    (["explain", "--seed", "-1"], 2, "argument --seed: expected a non-negative integer, got -1"),
    (["diagnose", "empty"], 2, "empty: is a directory; expected a .py file defining backprop()"),
    (["show", "model.npz", "-o", "pipe"], 2, "-o pipe: exists and is not a regular file"),
]


@pytest.mark.parametrize("argv, status, fragment", EXPECTED, ids=[" ".join(a) for a, _, _ in EXPECTED])
def test_hand_picked_bad_inputs(world, argv, status, fragment):
    got, out, err = run_cli(argv)
    check_clean(argv, got, out, err)
    assert got == status, (argv, err)
    assert fragment in (err if status else out + err), err


# ------------------------------------------------------------------ file readers
@contextlib.contextmanager
def time_limit(seconds: float):
    """Fail instead of hanging: SIGALRM after ``seconds`` (Unix)."""
    def expire(signum, frame):
        raise TimeoutError(f"still reading after {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _real_files() -> dict:
    """Valid bytes of every format the readers take, small enough to mutate quickly."""
    digits = (np.arange(2 * 28 * 28) % 256).astype(np.uint8).reshape(2, 28, 28)
    blobs = {}
    for name, arr in (("idx_images", digits), ("idx_labels", np.array([3, 9], np.uint8))):
        header = bytes([0, 0, 8, arr.ndim]) + b"".join(n.to_bytes(4, "big") for n in arr.shape)
        blobs[name] = header + arr.tobytes()
    blobs["idx_gz"] = gzip.compress(blobs["idx_labels"])
    split = (np.linspace(0, 1, 2 * 784, dtype=np.float32).reshape(2, 784), np.array([1, 2]))
    blobs["pickle"] = pickle.dumps((split, split, split), protocol=2)
    blobs["pickle_gz"] = gzip.compress(pickle.dumps((split, split, split), protocol=4))
    header = "label," + ",".join(f"pixel{i}" for i in range(784))
    blobs["csv"] = (header + "\n" + "\n".join(",".join([str(k)] + [str((k * 7 + i) % 256) for i in range(784)])
                                               for k in range(3)) + "\n").encode()
    model = nn.MLP([6, 4, 3], seed=0)
    arrays = {name: p.data for name, p in model.named_parameters()}
    arrays[serialize.ARCH_KEY] = np.array(json.dumps(model.config()))
    for key, save in (("npz", np.savez), ("npz_deflated", np.savez_compressed)):
        buf = io.BytesIO()
        save(buf, **arrays)
        blobs[key] = buf.getvalue()
    ring = (np.hypot(*np.mgrid[-14:14, -14:14]) // 4 == 2).astype(np.uint8) * 255  # a drawn 0
    blobs["png"] = digit_files.encode_png(ring)
    blobs["pgm"] = b"P5\n28 28\n255\n" + ring.tobytes()
    blobs["pgm_ascii"] = b"P2\n28 28\n255\n" + " ".join(map(str, ring.ravel())).encode()
    buf = io.BytesIO()
    np.save(buf, digits[0])
    blobs["npy"] = buf.getvalue()
    return blobs


REAL = _real_files()


@st.composite
def hostile_bytes(draw):
    """Random bytes, or a real file of any format mutated: bytes flipped, cut short, junk
    inserted, a slice repeated."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=300))
    data = bytearray(REAL[draw(st.sampled_from(sorted(REAL)))])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "repeat", "set"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "set" and data:
            data[at:at + 4] = draw(st.sampled_from([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff"]))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "repeat":
            data[at:at] = data[at:at + draw(st.integers(1, 64))] * draw(st.integers(1, 4))
    return bytes(data)


# reader -> the one error type it may raise (all ValueError subclasses)
READERS = {
    "read_idx": (read_idx, DataError),
    "read_mnist_pickle": (read_mnist_pickle, DataError),
    "read_kaggle_csv": (read_kaggle_csv, DataError),
    "load_path": (load_path, DataError),
    "serialize.load": (serialize.load, serialize.ModelFileError),
    "load_digit": (digit_files.load_digit, ImageError),
}


@settings(FUZZ, max_examples=60)
@given(blob=hostile_bytes(), reader=st.sampled_from(sorted(READERS)))
def test_fuzz_readers_return_or_raise_their_documented_error(tmp_path_factory, blob, reader):
    fn, error = READERS[reader]
    path = tmp_path_factory.mktemp("blob") / "file"
    path.write_bytes(blob)
    with time_limit(10):
        try:
            fn(path)
        except error as e:
            assert isinstance(e, ValueError) and str(e), e
            assert str(path) in str(e), e  # names the file


@settings(FUZZ, max_examples=40)
@given(blob=hostile_bytes())
def test_fuzz_every_reader_on_the_same_bytes(tmp_path_factory, blob):
    """Each format's bytes, mutated, fed to every reader: only documented errors, naming the file."""
    path = tmp_path_factory.mktemp("blob") / "file"
    path.write_bytes(blob)
    for name, (fn, error) in READERS.items():
        with time_limit(10):
            try:
                fn(path)
            except error as e:
                assert str(path) in str(e), (name, e)


@pytest.mark.parametrize("key", sorted(REAL))
def test_the_unmutated_files_are_read(tmp_path, key):
    """The fuzz starts from valid files: each is read by its own reader."""
    path = tmp_path / key
    path.write_bytes(REAL[key])
    reader = {"idx": read_idx, "pic": read_mnist_pickle, "csv": read_kaggle_csv, "npz": serialize.load,
              "png": digit_files.load_digit, "pgm": digit_files.load_digit, "npy": digit_files.load_digit}[key[:3]]
    assert reader(path) is not None


# ------------------------------------------------------------------ pickles of shared references
SPLIT = (np.linspace(0, 1, 3 * 784, dtype=np.float32).reshape(3, 784), np.array([4, 0, 9]))


@st.composite
def shared_reference_pickles(draw):
    """(pickle bytes, expected): a DAG of lists and tuples where each new container refers to
    earlier objects, often the same one many times, so the expanded tree can be astronomically
    large (40 ** 12 leaves) while the pickle stays small. One time in four it is shaped like
    Nielsen's file, its three splits sharing their arrays: a valid pickle that must load."""
    protocol = draw(st.integers(0, pickle.HIGHEST_PROTOCOL))
    if draw(st.integers(0, 3)) == 0:
        pair = (SPLIT[0], SPLIT[1]) if draw(st.booleans()) else SPLIT  # shared pair, or shared arrays only
        return pickle.dumps((pair, SPLIT, pair), protocol=protocol), "valid"
    nodes = draw(st.lists(st.one_of(st.none(), st.integers(-3, 3), st.binary(max_size=4),
                                    st.just(SPLIT[0]), st.just(SPLIT[1])), min_size=1, max_size=4))
    for _ in range(draw(st.integers(1, 14))):
        width = draw(st.integers(1, 40))
        picks = draw(st.lists(st.integers(0, len(nodes) - 1), min_size=width, max_size=width))
        kind = draw(st.sampled_from([list, tuple]))
        nodes.append(kind(nodes[i] for i in picks))
    return pickle.dumps(nodes[-1], protocol=protocol), "hostile"


@settings(FUZZ, max_examples=60)
@given(case=shared_reference_pickles())
def test_fuzz_pickles_of_shared_references_are_bounded(tmp_path_factory, case):
    """However many times the pickle's objects refer to each other, reading is bounded by the
    pickle's size: a DataError or Nielsen's three splits, quickly and in little memory."""
    blob, kind = case
    path = tmp_path_factory.mktemp("shared") / "mnist.pkl"
    path.write_bytes(blob)
    event(kind)
    outcome = {}

    def read():
        try:
            outcome["splits"] = read_mnist_pickle(path)
        except DataError as e:
            outcome["error"] = str(e)

    start = time.perf_counter()
    with time_limit(10):  # the old reader expanded the tree: 10**16 items for the table's file
        peak = peak_bytes(read)
    assert time.perf_counter() - start < 2.0 and peak < 20 * (1 << 20), (time.perf_counter() - start, peak)
    if kind == "valid":
        for X, y in outcome["splits"]:
            np.testing.assert_array_equal(X, SPLIT[0])
            np.testing.assert_array_equal(y, SPLIT[1])
    else:
        assert str(path) in outcome["error"]
