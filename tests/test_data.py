"""Readers, data-set loading and array helpers of tinygrad_mnist.data.

Small files are written to tmp_path; real data comes from the bundled sample (read through
importlib.resources), ../shared/data/mnist, and Debian's Fashion-MNIST when installed.
Hostile inputs are in test_hostile_files.py, downloads in test_download.py.
"""
import ast
import gzip
import hashlib
import io
import os
import pickle
import struct
import sys
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_mnist
from tinygrad_mnist.data import (BundledSampleWarning, Dataset, DataError, RestrictedUnpickler,
                                 batches, cache_root, dataset_dir, find_idx_files,
                                 load_bundled_sample, load_dataset, load_dir, load_file,
                                 load_idx_pair, load_mnist, load_path, one_hot, read_idx,
                                 read_kaggle_csv, read_mnist_pickle, standardize, write_idx)

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
STANDARD = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture(autouse=True)
def _private_home(tmp_path, monkeypatch):
    """Never read or write the real ~/.cache: the cache root is a fresh empty directory."""
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "home"))


def make_digits(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


def write_idx_set(directory, n_train=12, n_test=6, suffix=".gz", names=STANDARD):
    """Write the four standard IDX files; return the uint8 arrays written."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = (*make_digits(n_train, 1), *make_digits(n_test, 2))
    for name, a in zip(names, arrays):
        write_idx(directory / (name + suffix), a)
    return arrays


def py2_pickle(tree):
    """Assemble a protocol-2 pickle as Python 2 + numpy 1 wrote mnist.pkl.gz: globals named
    numpy.core.multiarray, array bytes as a BINSTRING (Python 2 str, so latin-1 is needed)."""
    def obj(x):
        if isinstance(x, tuple):
            return b"".join(obj(i) for i in x) + b"\x85\x86\x87"[len(x) - 1:len(x)]
        a = np.ascontiguousarray(x)
        order, code, data = a.dtype.str[:1].encode(), a.dtype.str[1:].encode(), a.tobytes()
        shape = b"".join(b"J" + struct.pack("<i", d) for d in a.shape)
        shape += b"\x85\x86\x87"[a.ndim - 1:a.ndim]
        return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R"
                b"(K\x01" + shape + b"cnumpy\ndtype\nU" + bytes([len(code)]) + code
                + b"K\x00K\x01\x87R(K\x03U\x01" + order
                + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T"
                + struct.pack("<I", len(data)) + data + b"tb")
    return b"\x80\x02" + obj(tree) + b"."


def nielsen_splits(sizes=(7, 3, 4)):
    rng = np.random.default_rng(3)
    return tuple((rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64))
                 for n in sizes)


def csv_text(X, y=None, header=True):
    rows = []
    if header:
        rows.append(",".join((["label"] if y is not None else [])
                             + [f"pixel{i}" for i in range(784)]))
    for i, row in enumerate(X):
        rows.append(",".join(([str(y[i])] if y is not None else []) + [str(v) for v in row]))
    return "\n".join(rows) + "\n"


# ----------------------------------------------------------------------------------- IDX
@settings(max_examples=30, deadline=None)
@given(a=hnp.arrays(st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32,
                                     np.float64]),
                    hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5)),
       gz=st.booleans())
def test_idx_round_trip(tmp_path_factory, a, gz):
    path = tmp_path_factory.mktemp("idx") / ("a-ubyte.gz" if gz else "a-ubyte")
    write_idx(path, a)
    b = read_idx(path)
    assert b.dtype == a.dtype.newbyteorder("=") and b.shape == a.shape
    np.testing.assert_array_equal(b, a)


def test_idx_header_is_big_endian_mnist_layout(tmp_path):
    images, _, _, _ = write_idx_set(tmp_path, suffix="")
    raw = (tmp_path / "train-images-idx3-ubyte").read_bytes()
    assert struct.unpack(">4I", raw[:16]) == (2051, 12, 28, 28)
    assert raw[16:] == images.tobytes()


def test_gzip_detected_by_content_not_name(tmp_path):
    a = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / "x.gz", a)
    (tmp_path / "gzipped-without-suffix").write_bytes((tmp_path / "x.gz").read_bytes())
    write_idx(tmp_path / "plain", a)
    (tmp_path / "plain-named.gz").write_bytes((tmp_path / "plain").read_bytes())
    for name in ("gzipped-without-suffix", "plain-named.gz"):
        np.testing.assert_array_equal(read_idx(tmp_path / name), a)


def test_load_idx_pair_scales_to_unit_float32(tmp_path):
    images, labels, _, _ = write_idx_set(tmp_path)
    X, y = load_idx_pair(tmp_path / "train-images-idx3-ubyte.gz",
                         tmp_path / "train-labels-idx1-ubyte.gz")
    assert X.shape == (12, 784) and X.dtype == np.float32
    assert y.shape == (12,) and y.dtype == np.int64
    np.testing.assert_array_equal(X * 255, images.reshape(12, 784).astype(np.float32))
    np.testing.assert_array_equal(y, labels)


@pytest.mark.parametrize("suffix", [".gz", ""])
@pytest.mark.parametrize("dotted", [False, True])
def test_load_dir_finds_standard_idx_names(tmp_path, suffix, dotted):
    names = [n.replace("-idx", ".idx") for n in STANDARD] if dotted else STANDARD
    arrays = write_idx_set(tmp_path / "d", suffix=suffix, names=names)
    ds = load_path(tmp_path / "d")
    assert [len(a) for a in ds] == [12, 12, 6, 6]
    np.testing.assert_array_equal(ds.y_test, arrays[3])
    assert str(tmp_path / "d") in ds.source


def test_find_idx_files_reports_missing(tmp_path):
    write_idx_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    found, missing = find_idx_files(tmp_path)
    assert len(found) == 3 and missing == ["t10k-labels-idx1-ubyte[.gz]"]
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        load_dir(tmp_path)


def test_single_idx_file_asks_for_its_directory(tmp_path):
    write_idx_set(tmp_path)
    with pytest.raises(DataError, match="pass the directory"):
        load_path(tmp_path / "train-images-idx3-ubyte.gz")


# ----------------------------------------------------------------------- Nielsen's pickle
@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_pickle_round_trip(tmp_path, protocol):
    splits = nielsen_splits(sizes=(7, 0, 4))  # an empty split too
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(splits, f, protocol=protocol)
    got = read_mnist_pickle(path)
    for (X, y), (Xg, yg) in zip(splits, got):
        assert Xg.dtype == np.float32 and yg.dtype == np.int64 and Xg.flags.writeable
        np.testing.assert_array_equal(Xg, X)
        np.testing.assert_array_equal(yg, y)


def test_pickle_rebuilds_byte_order_memory_order_and_scalars(tmp_path):
    objs = (np.arange(6, dtype=">f4").reshape(2, 3), np.asfortranarray(np.ones((2, 3))),
            np.float64(2.5), np.uint8(7), [np.array([True, False])])
    for protocol in (2, 5):
        got = RestrictedUnpickler(io.BytesIO(pickle.dumps(objs, protocol=protocol)), "t").load()
        for want, have in zip(objs, got):
            np.testing.assert_array_equal(have, want)
            assert np.asarray(have).dtype == np.asarray(want).dtype
        assert got[1].flags.f_contiguous and isinstance(got[4], list)


def test_python2_pickle_needs_and_gets_latin1(tmp_path):
    splits = nielsen_splits()
    blob = py2_pickle(splits)
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(blob)  # Python 3's default encoding cannot read Python 2 byte strings
    (tmp_path / "mnist.pkl.gz").write_bytes(gzip.compress(blob))
    got = read_mnist_pickle(tmp_path / "mnist.pkl.gz")
    np.testing.assert_array_equal(got[1][0], splits[1][0])
    np.testing.assert_array_equal(got[2][1], splits[2][1])


def test_load_dir_and_file_with_pickle_keep_validation_split(tmp_path):
    with gzip.open(tmp_path / "mnist.pkl.gz", "wb") as f:
        pickle.dump(nielsen_splits(), f)
    for ds in (load_dir(tmp_path), load_file(tmp_path / "mnist.pkl.gz")):
        assert [len(a) for a in ds] == [7, 7, 4, 4]
        assert ds.X_valid.shape == (3, 784) and ds.y_valid.shape == (3,)
        assert "Nielsen" in ds.source


# ------------------------------------------------------------------------------- Kaggle CSV
def test_kaggle_csv_labelled_and_unlabelled(tmp_path):
    X = np.random.default_rng(4).integers(0, 256, (5, 784))
    y = np.array([3, 1, 4, 1, 5])
    (tmp_path / "train.csv").write_text(csv_text(X, y))
    (tmp_path / "test.csv").write_text(csv_text(X))
    Xr, yr = read_kaggle_csv(tmp_path / "train.csv")
    assert Xr.dtype == np.float32 and Xr.shape == (5, 784) and yr.dtype == np.int64
    np.testing.assert_allclose(Xr, X / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(yr, y)
    Xt, yt = read_kaggle_csv(tmp_path / "test.csv")
    assert yt is None
    np.testing.assert_array_equal(Xt, Xr)


def test_kaggle_csv_without_header_gzipped_and_crlf(tmp_path):
    X = np.full((2, 784), 255)
    text = csv_text(X, [0, 9], header=False).replace("\n", "\r\n")
    (tmp_path / "train.csv.gz").write_bytes(gzip.compress(text.encode()))
    Xr, yr = read_kaggle_csv(tmp_path / "train.csv.gz")
    assert Xr.max() == 1.0 and list(yr) == [0, 9]


def test_csv_directory_holds_out_when_test_csv_is_unlabelled(tmp_path):
    X = np.random.default_rng(5).integers(0, 256, (12, 784))
    y = np.arange(12) % 10
    (tmp_path / "train.csv").write_text(csv_text(X, y))
    (tmp_path / "test.csv").write_text(csv_text(X[:3]))
    ds = load_path(tmp_path)
    assert [len(a) for a in ds] == [10, 10, 2, 2]
    np.testing.assert_array_equal(ds.y_test, y[10:])
    assert "held out" in ds.source and "no labels" in ds.source
    (tmp_path / "test.csv").write_text(csv_text(X[:3], y[:3]))
    assert [len(a) for a in load_path(tmp_path)] == [12, 12, 3, 3]
    assert [len(a) for a in load_path(tmp_path / "train.csv")] == [10, 10, 2, 2]


def test_unlabelled_csv_alone_is_not_a_dataset(tmp_path):
    (tmp_path / "test.csv").write_text(csv_text(np.zeros((3, 784), int)))
    with pytest.raises(DataError, match="no label column"):
        load_file(tmp_path / "test.csv")


def test_empty_directory_says_what_it_looked_for(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match=r"mnist\.pkl\.gz.*train\.csv.*found: notes\.txt"):
        load_dir(tmp_path)
    with pytest.raises(DataError, match="no such file"):
        load_path(tmp_path / "nope")


def test_the_data_layer_imports_only_the_standard_library_numpy_and_files():
    """data/ may share the stdlib-only files.py (atomic writes) and limits.py, never the engine."""
    package = Path(tinygrad_mnist.__file__).parent
    shared = ("files", "limits")
    for path in [*sorted((package / "data").glob("*.py")), package / "files.py", package / "limits.py"]:
        inside_data = path.parent.name == "data"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                ok = (node.level == 1 and inside_data) or \
                    (node.level == (2 if inside_data else 1) and node.module in shared)
                assert ok, f"{path.name}:{node.lineno}: from {'.' * node.level}{node.module or ''} import ..."
            else:
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if isinstance(node, ast.ImportFrom) else []
                for name in names:
                    top = name.split(".")[0]
                    assert top in sys.stdlib_module_names or top in ("numpy", "__future__"), \
                        f"{path.name}:{node.lineno}: import {name}"


def test_a_pipe_is_refused_unread_as_not_a_regular_file(tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    # Hold the pipe open with bytes in it (O_RDWR does not block on Linux), so that a reader that
    # did open it would get data instead of hanging the test; the bytes must still be there after.
    fd = os.open(pipe, os.O_RDWR | os.O_NONBLOCK)
    try:
        os.write(fd, b"label,pixel0\n")
        for load in (load_path, load_file):
            with pytest.raises(DataError, match=r"pipe: not a regular file \(a pipe or a device\?\)"):
                load(pipe)
        assert os.read(fd, 100) == b"label,pixel0\n"
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- named sets
def test_cache_location_follows_env_and_rejects_relative(tmp_path, monkeypatch):
    assert cache_root() == tmp_path / "home"
    assert dataset_dir("fashion-mnist") == tmp_path / "home" / "fashion-mnist"
    assert dataset_dir("mnist", cache_dir=tmp_path / "x") == tmp_path / "x" / "mnist"
    monkeypatch.delenv("TINYGRAD_MNIST_HOME")
    assert cache_root() == Path("~/.cache/tinygrad_mnist").expanduser()
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", "relative/dir")
    with pytest.raises(DataError, match="relative"):
        cache_root()
    with pytest.raises(DataError, match="unknown dataset 'kmnist'"):
        dataset_dir("kmnist")


def test_full_mnist_from_cache_without_warning(tmp_path):
    write_idx_set(tmp_path / "home" / "mnist", n_train=30, n_test=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load_mnist()
    assert [len(a) for a in ds] == [30, 30, 8, 8]
    assert ds.name == "mnist" and str(tmp_path / "home" / "mnist") in ds.source


def test_missing_mnist_falls_back_to_sample_with_one_warning(tmp_path):
    write_idx_set(tmp_path / "home" / "mnist")
    (tmp_path / "home" / "mnist" / "train-images-idx3-ubyte.gz").unlink()  # incomplete cache
    with pytest.warns(BundledSampleWarning) as record:
        ds = load_dataset("mnist")
    assert len(record) == 1 and "tinygrad-mnist download" in str(record[0].message)
    assert record[0].filename == __file__  # blamed on the caller's line
    assert [len(a) for a in ds] == [10000] * 4 and "bundled sample" in ds.source
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "bundled sample" in load_mnist(warn=False).source


def test_fashion_mnist_missing_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError) as err:
        load_dataset("fashion-mnist", search_dirs=[tmp_path / "not-installed"])
    msg = str(err.value)
    assert "tinygrad-mnist download --dataset fashion-mnist" in msg
    assert "dataset-fashion-mnist" in msg and str(tmp_path / "not-installed") in msg


def test_fashion_mnist_found_in_search_dir(tmp_path):
    write_idx_set(tmp_path / "fashion-mnist", n_train=9, n_test=3)
    ds = load_dataset("fashion-mnist", search_dirs=[tmp_path / "fashion-mnist"])
    assert ds.name == "fashion-mnist" and [len(a) for a in ds] == [9, 9, 3, 3]
    assert ds.classes[9] == "Ankle boot"
    assert load_path(tmp_path / "fashion-mnist").classes == ds.classes  # named by its folder


def test_dataset_unpacks_to_four_arrays_and_repr_is_short():
    ds = Dataset(np.zeros((2, 784), np.float32), np.zeros(2, np.int64),
                 np.zeros((1, 784), np.float32), np.zeros(1, np.int64), source="here")
    X_train, y_train, X_test, y_test = ds
    assert X_test.shape == (1, 784)
    assert repr(ds) == "Dataset(name='mnist', train=2, test=1, source='here')"


# ------------------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def sample():
    return load_bundled_sample()


def test_bundled_sample_is_real_mnist(sample):
    X_train, y_train, X_test, y_test = sample
    for X, y in ((X_train, y_train), (X_test, y_test)):
        assert X.shape == (10000, 784) and X.dtype == np.float32
        assert y.shape == (10000,) and y.dtype == np.int64
        assert X.min() == 0.0 and X.max() == 1.0
        counts = np.bincount(y, minlength=10)
        assert counts.sum() == 10000 and counts.min() > 800 and counts.max() < 1200
        assert 0.10 < X.mean() < 0.15  # MNIST's mean pixel is about 0.13
    assert y_train[0] == 5 and list(y_train[:5]) == [5, 0, 4, 1, 9]  # MNIST's first digits
    assert y_test[0] == 7
    assert sample.classes == tuple("0123456789")


def test_bundled_files_are_package_resources_not_cwd_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = resources.files("tinygrad_mnist") / "_data"
    names = sorted(p.name for p in base.iterdir() if p.name.endswith(".gz"))
    assert names == sorted(["train-images-idx3-ubyte-first10k.gz",
                            "train-labels-idx1-ubyte-first10k.gz",
                            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
    md5 = hashlib.md5((base / "t10k-labels-idx1-ubyte.gz").read_bytes()).hexdigest()
    assert md5 == "ec29112dd5afa0611ce80d1b7f02629c"  # the official file, byte for byte
    assert len(load_bundled_sample().y_test) == 10000


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="../shared/data/mnist not present")
def test_bundled_sample_matches_shared_real_data(sample):
    labels = read_idx(SHARED_MNIST / "train-labels-idx1-ubyte.gz")  # the official 60000
    assert labels.shape == (60000,)
    np.testing.assert_array_equal(sample.y_train, labels[:10000])
    X, y = load_idx_pair(SHARED_MNIST / "t10k-images-idx3-ubyte.gz",
                         SHARED_MNIST / "t10k-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(X, sample.X_test)


def test_fashion_mnist_full_size():
    if not FASHION_DIR.is_dir():
        pytest.skip(f"{FASHION_DIR} missing: install the Debian package dataset-fashion-mnist")
    ds = load_dataset("fashion-mnist")  # found in the default system location
    assert ds.X_train.shape == (60000, 784) and ds.X_test.shape == (10000, 784)
    assert ds.X_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert np.array_equal(np.bincount(ds.y_train), [6000] * 10)  # balanced by construction
    assert np.array_equal(np.bincount(ds.y_test), [1000] * 10)
    assert ds.y_train[0] == 9 and ds.classes[ds.y_train[0]] == "Ankle boot"
    assert 0.0 <= ds.X_train.min() and ds.X_train.max() == 1.0
    assert str(FASHION_DIR) in ds.source


# ------------------------------------------------------------------------------- helpers
def test_standardize_uses_train_statistics_and_survives_constant_features():
    rng = np.random.default_rng(6)
    X_train = rng.random((50, 4), dtype=np.float32) * np.float32([1, 2, 3, 0])  # last: constant
    X_test = rng.random((7, 4), dtype=np.float32)
    S_train, S_test = standardize(X_train, X_test)
    assert S_train.dtype == np.float32 and S_test.shape == (7, 4)
    np.testing.assert_allclose(S_train[:, :3].mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(S_train[:, :3].std(0), 1, rtol=1e-5)
    assert np.all(np.isfinite(S_test)) and np.all(S_train[:, 3] == 0)
    mean, std = X_train.mean(0), X_train.std(0)
    np.testing.assert_allclose(S_test[:, :3], (X_test[:, :3] - mean[:3]) / std[:3], rtol=1e-5)
    np.testing.assert_array_equal(S_test[:, 3], X_test[:, 3])  # centred on 0, not divided
    assert standardize(X_train)[1] is None
    with pytest.raises(ValueError, match=r"X_test should be \(M, 4\)"):
        standardize(X_train, X_test[:, :3])


def test_one_hot():
    out = one_hot(np.array([0, 3, 9]))
    assert out.shape == (3, 10) and out.dtype == np.float32
    np.testing.assert_array_equal(out.argmax(1), [0, 3, 9])
    assert out.sum() == 3
    assert one_hot(np.array([1]), n=2, dtype=np.float64).tolist() == [[0.0, 1.0]]
    assert one_hot(np.array([], dtype=np.int64)).shape == (0, 10)
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        one_hot(np.array([10]))
    with pytest.raises(ValueError, match="integer"):
        one_hot(np.array([0.5]))


@settings(max_examples=50, deadline=None)
@given(n=st.integers(0, 40), batch_size=st.integers(1, 12), shuffle=st.booleans(),
       drop_last=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_batches_cover_every_row_once(n, batch_size, shuffle, drop_last, seed):
    X, y = np.arange(n * 2).reshape(n, 2), np.arange(n)
    got = list(batches(X, y, batch_size, shuffle=shuffle, rng=seed, drop_last=drop_last))
    sizes = [len(yb) for _, yb in got]
    rows = np.concatenate([yb for _, yb in got]) if got else np.array([], int)
    for Xb, yb in got:
        np.testing.assert_array_equal(Xb[:, 0], 2 * yb)  # rows stay paired
    if drop_last:
        assert sizes == [batch_size] * (n // batch_size)
    else:
        assert sorted(rows) == list(range(n)) and all(s == batch_size for s in sizes[:-1])
    assert len(set(rows.tolist())) == len(rows)
    if not shuffle:
        assert list(rows) == list(range(len(rows)))


def test_batches_are_deterministic_per_seed_and_advance_with_a_generator():
    X, y = np.arange(100).reshape(50, 2), np.arange(50)
    order = lambda it: np.concatenate([yb for _, yb in it]).tolist()  # noqa: E731
    assert order(batches(X, y, 8, rng=1)) == order(batches(X, y, 8, rng=1))
    assert order(batches(X, y, 8, rng=1)) != order(batches(X, y, 8, rng=2))
    rng = np.random.default_rng(0)
    assert order(batches(X, y, 8, rng=rng)) != order(batches(X, y, 8, rng=rng))
    Xb, _ = next(batches(X, y, 8, shuffle=False))
    assert np.shares_memory(Xb, X)  # in-order batches are views


def test_batches_check_arguments_eagerly():
    X, y = np.zeros((4, 2)), np.zeros(3)
    with pytest.raises(ValueError, match="X has 4 rows but y has 3"):
        batches(X, y, 2)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            batches(X, np.zeros(4), bad)


# ------------------------------------------------------------------ limit=N reads only N
def test_limit_reads_only_the_first_records(tmp_path):
    """A gzip IDX file whose header claims a million images but holds 5: with limit=3 only the
    first 3 are read (the rest is neither read nor checked); without, the claim is refused."""
    images = np.arange(5 * 784, dtype=np.uint32).astype(np.uint8).reshape(5, 28, 28)
    blob = struct.pack(">IIII", 2051, 1_000_000, 28, 28) + images.tobytes()
    (tmp_path / "i.gz").write_bytes(gzip.compress(blob))
    np.testing.assert_array_equal(read_idx(tmp_path / "i.gz", limit=3), images[:3])
    with pytest.raises(DataError, match="header says 1000000 images"):
        read_idx(tmp_path / "i.gz")


def test_limit_on_a_single_csv_trains_on_the_first_n_rows_and_tests_on_the_next(tmp_path):
    X = (np.arange(40 * 784) % 256).reshape(40, 784)
    y = np.arange(40) % 10
    (tmp_path / "train.csv").write_text(csv_text(X, y))
    ds = load_file(tmp_path / "train.csv", limit=10)
    np.testing.assert_array_equal(ds.y_train, y[:10])
    np.testing.assert_array_equal(ds.y_test, y[10:20])
    assert "first 10 rows for training, the next 10 held out" in ds.source
    small = load_file(tmp_path / "train.csv", limit=30)  # fewer than 2N rows: the usual split, cut
    np.testing.assert_array_equal(small.y_train, y[:30])
    np.testing.assert_array_equal(small.y_test, y[34:])
    sample = load_bundled_sample(limit=7)
    assert [len(a) for a in sample] == [7, 7, 7, 7] and "first 7 images of each set" in sample.source
