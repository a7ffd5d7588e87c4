"""nn and optim: MLP shapes for the classic networks, initialiser statistics, SGD and Adam
against hand-computed updates, save/load round trips and every kind of broken model file."""
from __future__ import annotations

import ast
import functools
import io
import json
import os
import stat
import subprocess
import sys
import zipfile

from pathlib import Path

import numpy as np
import pytest

import tinygrad_mnist

from helpers import peak_bytes
from tinygrad_mnist import nn, serialize
from tinygrad_mnist.errors import ModelFileError
from tinygrad_mnist.nn import INITS, MLP, Linear, Sequential, Sigmoid
from tinygrad_mnist.optim import SGD, Adam
from tinygrad_mnist.tensor import Tensor

MB = 1 << 20


# ------------------------------------------------------------------ shapes
@pytest.mark.parametrize("sizes", [
    [784, 30, 10],             # Nielsen's network.py
    [784, 128, 128, 10],       # the deep quadratic-cost example
    [784] + [50] * 6 + [10],   # six hidden layers of 50
    [3, 4, 1],                 # "A Neural Network in 11 lines of Python"
])
def test_mlp_weight_shapes_follow_n_out_by_n_in(sizes):
    model = MLP(sizes, seed=0)
    shapes = [(p.weight.shape, p.bias.shape) for p in model.linears]
    assert shapes == [((n_out, n_in), (n_out,)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    assert model(np.zeros((5, sizes[0]), np.float32)).shape == (5, sizes[-1])
    assert len(model.parameters()) == 2 * (len(sizes) - 1)


def test_mlp_784_30_10_names_and_layout():
    model = MLP([784, 30, 10], activation="sigmoid", output="sigmoid", seed=0)
    named = {name: p.shape for name, p in model.named_parameters()}
    assert named == {"layers.0.weight": (30, 784), "layers.0.bias": (30,),
                     "layers.2.weight": (10, 30), "layers.2.bias": (10,)}
    assert [type(layer).__name__ for layer in model.layers] == ["Linear", "Sigmoid", "Linear", "Sigmoid"]
    out = model(np.random.default_rng(0).random((4, 784), dtype=np.float32)).data
    assert out.dtype == np.float32 and ((out > 0) & (out < 1)).all()


def test_linear_computes_x_W_transpose_plus_b():
    layer = Linear(3, 2, rng=0)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(layer(x).data, x @ layer.weight.data.T + layer.bias.data, rtol=1e-6)


def test_mlp_rejects_bad_configuration():
    with pytest.raises(ValueError, match="sizes"):
        MLP([784])
    with pytest.raises(ValueError, match="activation 'swish'"):
        MLP([2, 2], activation="swish")
    with pytest.raises(ValueError, match="unknown init 'zeros'"):
        MLP([2, 2], init="zeros")


def test_mlp_float64_dtype():
    model = MLP([4, 3, 2], dtype=np.float64, seed=0)
    assert all(p.dtype == np.float64 for p in model.parameters())


# ------------------------------------------------------------------ initialisers
N_IN, N_OUT = 400, 300  # 120,000 weights: sample statistics within ~1% of the population's


def _weights(init, seed=0):
    layer = Linear(N_IN, N_OUT, init=init, rng=seed)
    return layer.weight.data.astype(np.float64), layer.bias.data.astype(np.float64)


@pytest.mark.parametrize("init, w_std, b_std", [
    ("normal", 1.0, 1.0),
    ("scaled_normal", 1 / np.sqrt(N_IN), 1.0),
    ("uniform", 1 / np.sqrt(3), 1 / np.sqrt(3)),          # U(-1, 1): variance 1/3
    ("xavier", np.sqrt(6 / (N_IN + N_OUT) / 3), 0.0),      # U(-l, l): variance l^2 / 3
    ("he", np.sqrt(2 / N_IN), 0.0),
])
def test_initialiser_statistics(init, w_std, b_std):
    W, b = _weights(init)
    assert W.shape == (N_OUT, N_IN)
    assert abs(W.mean()) < 0.05 * w_std
    assert W.std() == pytest.approx(w_std, rel=0.03)
    if b_std == 0.0:
        assert not b.any()
    else:
        assert b.std() == pytest.approx(b_std, rel=0.2)  # only 300 biases: looser


@pytest.mark.parametrize("init, limit", [("uniform", 1.0), ("xavier", np.sqrt(6 / (N_IN + N_OUT)))])
def test_uniform_initialisers_stay_inside_their_limits(init, limit):
    W, _ = _weights(init)
    assert np.abs(W).max() <= limit
    assert np.abs(W).max() > 0.99 * limit  # and fill the interval


@pytest.mark.parametrize("init", INITS)
def test_initialisers_are_reproducible_by_seed(init):
    W0, _ = _weights(init, seed=7)
    W1, _ = _weights(init, seed=7)
    W2, _ = _weights(init, seed=8)
    np.testing.assert_array_equal(W0, W1)
    assert not np.array_equal(W0, W2)


def test_mlp_seed_reproducible_and_layers_differ():
    a, b = MLP([20, 20, 20], seed=3), MLP([20, 20, 20], seed=3)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    assert not np.array_equal(a.linears[0].weight.data, a.linears[1].weight.data)


# ------------------------------------------------------------------ optimizers
def _param(values, grad):
    p = Tensor(np.array(values, dtype=np.float64), requires_grad=True)
    p.grad = np.array(grad, dtype=np.float64)
    return p


def test_sgd_plain_step():
    p = _param([1.0, -2.0], [0.5, 0.25])
    SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [1.0 - 0.05, -2.0 - 0.025])


def test_sgd_weight_decay_adds_decay_times_p_to_the_gradient():
    p = _param([1.0, -2.0], [0.5, 0.25])
    SGD([p], lr=0.1, weight_decay=0.01).step()
    np.testing.assert_allclose(p.data, [1.0 - 0.1 * (0.5 + 0.01), -2.0 - 0.1 * (0.25 - 0.02)])


def test_sgd_momentum_two_steps_by_hand():
    p = _param([1.0], [1.0])
    opt = SGD([p], lr=0.1, momentum=0.9)
    opt.step()                         # v = g = 1;           p = 1 - 0.1 * 1 = 0.9
    np.testing.assert_allclose(p.data, [0.9])
    p.grad = np.array([0.5])
    opt.step()                         # v = 0.9 * 1 + 0.5;   p = 0.9 - 0.1 * 1.4 = 0.76
    np.testing.assert_allclose(p.data, [0.76])


def test_sgd_skips_parameters_without_grad_and_zero_grad_clears():
    p, q = _param([1.0], [1.0]), _param([5.0], [0.0])
    q.grad = None
    opt = SGD([p, q], lr=1.0)
    opt.step()
    assert p.data[0] == 0.0 and q.data[0] == 5.0
    opt.zero_grad()
    assert p.grad is None


def test_adam_two_steps_by_hand():
    p = _param([1.0, -1.0], [0.1, -0.2])
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    opt = Adam([p], lr=lr, betas=(b1, b2), eps=eps)
    x = np.array([1.0, -1.0])
    m = v = np.zeros(2)
    for t, g in enumerate([np.array([0.1, -0.2]), np.array([-0.3, 0.4])], 1):
        p.grad = g
        opt.step()
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x = x - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        np.testing.assert_allclose(p.data, x, rtol=1e-12)
    # the first Adam step moves every coordinate by ~lr, whatever the gradient's scale
    q = _param([0.0, 0.0], [1e-3, -1e3])
    Adam([q], lr=0.01).step()
    np.testing.assert_allclose(q.data, [-0.01, 0.01], rtol=1e-4)


def test_adam_weight_decay():
    p = _param([2.0], [0.0])
    Adam([p], lr=0.1, weight_decay=0.5).step()   # g = 0 + 0.5 * 2 > 0: first step is -lr
    np.testing.assert_allclose(p.data, [1.9], rtol=1e-6)


def test_optimizer_updates_the_models_arrays_in_place():
    model = MLP([3, 2], seed=0)
    W = model.linears[0].weight
    before = W.data.copy()
    array_id = id(W.data)
    opt = SGD(model.parameters(), lr=0.1)
    model(np.ones((1, 3), np.float32)).sum().backward()
    opt.step()
    assert id(W.data) == array_id and not np.array_equal(W.data, before)


@pytest.mark.parametrize("make, match", [
    (lambda ps: SGD(ps, lr=0.0), "lr must be positive"),
    (lambda ps: SGD(ps, lr=0.1, momentum=1.0), "momentum"),
    (lambda ps: SGD(ps, lr=0.1, weight_decay=-1), "weight_decay"),
    (lambda ps: Adam(ps, betas=(1.0, 0.9)), "betas"),
    (lambda ps: SGD([], lr=0.1), "empty"),
])
def test_optimizer_argument_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make([_param([1.0], [1.0])])


# ------------------------------------------------------------------ save / load
@pytest.fixture
def trained(tmp_path):
    model = MLP([784, 30, 10], activation="relu", output="sigmoid", seed=1)
    path = tmp_path / "model.npz"
    serialize.save(model, path)
    return model, path


def test_save_load_round_trip_gives_identical_predictions(trained):
    model, path = trained
    loaded = serialize.load(path)
    assert isinstance(loaded, MLP) and loaded.sizes == [784, 30, 10]
    assert (loaded.activation, loaded.output) == ("relu", "sigmoid")
    X = np.random.default_rng(0).random((50, 784), dtype=np.float32)
    np.testing.assert_array_equal(loaded(X).data, model(X).data)
    np.testing.assert_array_equal(nn.predict_proba(loaded, X), nn.predict_proba(model, X))
    np.testing.assert_allclose(nn.predict_proba(model, X).sum(axis=1), 1.0, rtol=1e-5)


def test_save_load_sequential(tmp_path):
    model = Sequential(Linear(4, 3, rng=0), Sigmoid(), Linear(3, 2, rng=1))
    serialize.save(model, tmp_path / "seq.npz")
    loaded = serialize.load(tmp_path / "seq.npz")
    x = np.ones((2, 4), np.float32)
    np.testing.assert_array_equal(loaded(x).data, model(x).data)


def test_failed_save_leaves_the_old_file_intact(trained, monkeypatch):
    model, path = trained
    before = path.read_bytes()

    def broken_savez(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", broken_savez)
    other = MLP([784, 30, 10], seed=2)
    with pytest.raises(OSError, match="disk full"):
        serialize.save(other, path)
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == ["model.npz"]  # no temporary file left behind


def _write(path, arrays):
    np.savez(path, **arrays)
    return path


def _good_arrays(model):
    arrays = {name: p.data for name, p in model.named_parameters()}
    arrays[serialize.ARCH_KEY] = np.array(json.dumps(model.config()))
    return arrays


@pytest.mark.parametrize("corrupt, match", [
    (lambda a: a.pop("layers.2.bias"), r"missing \['layers.2.bias'\]"),
    (lambda a: a.update(extra=np.zeros(3)), r"unexpected \['extra'\]"),
    (lambda a: a.update({"layers.0.weight": np.zeros((30, 783))}),
     r"'layers.0.weight' has shape \(30, 783\)"),
    (lambda a: a.update({"layers.0.bias": np.array([object()] * 30)}), "without pickle"),
    (lambda a: a.update({"layers.0.bias": np.zeros(30, dtype=np.int32)}), "expected floats"),
    (lambda a: a.update({serialize.ARCH_KEY: np.array("{not json")}), "not valid JSON"),
    (lambda a: a.pop(serialize.ARCH_KEY), "no __architecture__"),
    (lambda a: a.update({serialize.ARCH_KEY: np.array(json.dumps({"type": "Conv3d"}))}), "unknown layer type"),
    (lambda a: a.update({serialize.ARCH_KEY: np.array(json.dumps({"type": "MLP", "sizes": [784, 20, 10]}))}),
     r"has shape \(30, 784\), the architecture needs \(20, 784\)"),
    (lambda a: a.update({serialize.ARCH_KEY: np.array(json.dumps({"type": "MLP", "sizes": "abc"}))}), "invalid"),
])
def test_load_rejects_broken_files(tmp_path, corrupt, match):
    arrays = _good_arrays(MLP([784, 30, 10], seed=0))
    corrupt(arrays)
    path = _write(tmp_path / "bad.npz", arrays)
    with pytest.raises(ModelFileError, match=match):
        serialize.load(path)


def test_load_rejects_a_file_that_is_not_npz(tmp_path):
    path = tmp_path / "model.npz"
    path.write_text("hello")
    with pytest.raises(ModelFileError, match="not a readable .npz"):
        serialize.load(path)


def test_load_missing_file_is_an_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        serialize.load(tmp_path / "nope.npz")


# ------------------------------------------------------------------ hostile model files
def _npy_bytes(array=None, header=None, data=b"") -> bytes:
    """A .npy entry: np.save's bytes, or a hand-written header dict followed by ``data``."""
    buf = io.BytesIO()
    if header is None:
        np.save(buf, array, allow_pickle=True)
    else:
        np.lib.format.write_array_header_1_0(buf, header)
        buf.write(data)
    return buf.getvalue()


def _zip(path, entries: dict, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, blob in entries.items():
            zf.writestr(name, blob)
    return path


def _arch(config) -> bytes:
    return _npy_bytes(np.array(config if isinstance(config, str) else json.dumps(config)))


class _Evil:
    """Unpickling it would run ``touch victim``."""

    def __init__(self, victim):
        self.victim = str(victim)

    def __reduce__(self):
        return os.system, (f"touch {self.victim}",)


def test_gigantic_architecture_is_refused_before_allocating(tmp_path):
    # 4 bytes of weights, an architecture of 10**10 numbers (40 GB): refused by counting
    path = _zip(tmp_path / "huge.npz", {serialize.ARCH_KEY + ".npy": _arch({"type": "MLP", "sizes": [100_000, 100_000]}),
                                        "layers.0.bias.npy": _npy_bytes(np.zeros(1, np.float32))})
    with pytest.raises(ModelFileError, match=r"needs 10000100000 numbers but the file holds 1; .*different architecture"):
        serialize.load(path)
    assert peak_bytes(lambda: pytest.raises(ModelFileError, serialize.load, path)) < 10 * MB


def test_npy_header_claiming_10_to_the_12_numbers_is_refused_without_allocating(tmp_path):
    fake = _npy_bytes(header={"descr": "<f4", "fortran_order": False, "shape": (10**12,)}, data=bytes(16))
    path = _zip(tmp_path / "m.npz", {serialize.ARCH_KEY + ".npy": _arch({"type": "Linear", "n_in": 2, "n_out": 2}),
                                     "weight.npy": fake})
    with pytest.raises(ModelFileError, match=r"'weight' claims shape \(1000000000000,\) \(4000000000000 bytes\) "
                                             r"but the archive holds 16 bytes"):
        serialize.load(path)
    peak = peak_bytes(lambda: pytest.raises(ModelFileError, serialize.load, path))
    assert peak < 10 * MB


@pytest.mark.parametrize("entry", ["arch", "weight"])
def test_pickled_objects_in_a_model_never_run(tmp_path, entry):
    victim = tmp_path / "pwned"
    evil = _npy_bytes(np.array([_Evil(victim)], dtype=object))
    good = _good_arrays(MLP([4, 3], seed=0))
    entries = {f"{k}.npy": _npy_bytes(v) for k, v in good.items()}
    entries[(serialize.ARCH_KEY if entry == "arch" else "layers.0.weight") + ".npy"] = evil
    path = _zip(tmp_path / "m.npz", entries)
    with pytest.raises(ModelFileError, match=r"holds Python objects \(dtype object\), which cannot be read without pickle"):
        serialize.load(path)
    assert not victim.exists()


@pytest.mark.parametrize("config, match", [
    ('{"type": "Sequential", "layers": [' * 5_000 + "]}" * 5_000, "nests too deeply"),  # JSON's own limit
    ('{"type": "Sequential", "layers": [' * 50_000 + "]}" * 50_000, "more than the 1000000 an architecture"),
    (json.dumps(functools.reduce(lambda c, _: {"type": "Sequential", "layers": [c]}, range(150),
                                 {"type": "Sigmoid"})), "nests deeper than 100"),
    (json.dumps({"type": "Sequential", "layers": [{"type": "Sigmoid"}] * 20_000}), "more than 10000 layers"),
    (json.dumps({"type": "MLP", "sizes": [1] * 20_000}), "more than 10000 layers"),
    (json.dumps({"type": "MLP", "sizes": [784, 30.5, 10]}), "sizes must be positive integers"),
    (json.dumps({"type": "MLP", "sizes": [784, True, 10]}), "sizes must be positive integers"),
    (json.dumps({"type": "MLP", "sizes": [784, -30, 10]}), "sizes must be positive integers"),
    (json.dumps({"type": "Linear", "n_in": "784", "n_out": 10}), "sizes must be positive integers"),
    (json.dumps({"type": "MLP", "sizes": [784, 30, 10], "output": ["sigmoid"]}), "invalid"),
    (json.dumps([1, 2, 3]), "must be a JSON object"),
    (json.dumps("MLP"), "must be a JSON object"),
])
def test_hostile_architectures_are_refused(tmp_path, config, match):
    path = _zip(tmp_path / "m.npz", {serialize.ARCH_KEY + ".npy": _arch(config)})
    with pytest.raises(ModelFileError, match=match):
        serialize.load(path)


def test_a_model_saved_by_a_different_architecture(tmp_path):
    arrays = _good_arrays(MLP([784, 30, 10], seed=0))
    arrays[serialize.ARCH_KEY] = np.array(json.dumps({"type": "MLP", "sizes": [784, 30, 30, 10]}))
    with pytest.raises(ModelFileError, match=r"missing \['layers.4.bias', 'layers.4.weight'\]"):
        serialize.load(_write(tmp_path / "deeper.npz", arrays))
    arrays[serialize.ARCH_KEY] = np.array(json.dumps({"type": "Sequential", "layers": [{"type": "Linear", "n_in": 784, "n_out": 30}]}))
    with pytest.raises(ModelFileError, match=r"do not match the architecture: missing none, "
                                             r"unexpected \['layers.2.bias', 'layers.2.weight'\]"):
        serialize.load(_write(tmp_path / "sequential.npz", arrays))


def test_non_finite_weights_and_foreign_entries_are_refused(tmp_path):
    model = MLP([4, 3], seed=0)
    model.linears[0].weight.data[1, 2] = np.inf
    serialize.save(model, tmp_path / "inf.npz")
    with pytest.raises(ModelFileError, match=r"'layers.0.weight' contains NaN or Inf"):
        serialize.load(tmp_path / "inf.npz")
    path = _zip(tmp_path / "m.npz", {serialize.ARCH_KEY + ".npy": _arch({"type": "Sigmoid"}), "notes.txt": b"hello"})
    with pytest.raises(ModelFileError, match=r"entry 'notes.txt' is not a .npy array"):
        serialize.load(path)


def test_every_corruption_of_a_compressed_model_is_a_model_file_error(tmp_path):
    arrays = _good_arrays(MLP([6, 4, 3], seed=0))
    np.savez_compressed(tmp_path / "good.npz", **arrays)
    blob = (tmp_path / "good.npz").read_bytes()
    rng = np.random.default_rng(0)
    for i, offset in enumerate(range(0, len(blob), 3)):
        bad = bytearray(blob)
        bad[offset] ^= int(rng.integers(1, 256))
        (tmp_path / "bad.npz").write_bytes(bytes(bad))
        try:
            serialize.load(tmp_path / "bad.npz")
        except ModelFileError as e:
            assert str(tmp_path / "bad.npz") in str(e)
    for cut in range(0, len(blob), 50):  # truncated anywhere
        (tmp_path / "cut.npz").write_bytes(blob[:cut])
        with pytest.raises(ModelFileError):
            serialize.load(tmp_path / "cut.npz")


def test_load_refuses_pipes_and_devices_instead_of_hanging(tmp_path):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match="not a regular file"):
        serialize.load(fifo)  # opening a pipe for reading would block until a writer came
    with pytest.raises(IsADirectoryError):
        serialize.load(tmp_path)


# ------------------------------------------------------------------ atomic save
class _Crash(Exception):
    pass


@pytest.mark.parametrize("crash", [_Crash, KeyboardInterrupt])
def test_a_save_that_dies_mid_write_keeps_the_old_model_and_leaves_no_temp_file(trained, monkeypatch, crash):
    model, path = trained
    before = path.read_bytes()
    real_savez = np.savez

    def savez_half_then_die(f, **arrays):
        real_savez(f, **arrays)  # the whole archive goes into the temp file ...
        f.seek(len(before) // 2)
        f.truncate()  # ... is cut in half, as by a full disk ...
        raise crash("power cut")  # ... and the process dies before the rename
    monkeypatch.setattr(np, "savez", savez_half_then_die)
    with pytest.raises(crash):
        serialize.save(MLP([784, 30, 10], seed=2), path)
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == ["model.npz"]
    np.testing.assert_array_equal(serialize.load(path).linears[0].weight.data, model.linears[0].weight.data)


def test_the_file_format_lives_in_serialize_and_nn_does_not_import_it():
    from tinygrad_mnist import files
    assert (tinygrad_mnist.save, tinygrad_mnist.load) == (serialize.save, serialize.load)
    assert serialize.atomic_file is files.atomic_file
    assert not hasattr(nn, "load") and not hasattr(nn, "_build")  # moved, not copied
    for path in Path(nn.__file__).parent.glob("*.py"):  # the nn package, every file
        imported = ast.parse(path.read_text(encoding="utf-8"))
        modules = {node.module for node in ast.walk(imported) if isinstance(node, ast.ImportFrom)}
        assert "serialize" not in modules and "files" not in modules, path.name


@pytest.mark.parametrize("first", ["tinygrad_mnist.serialize", "tinygrad_mnist.nn", "tinygrad_mnist"])
def test_serialize_and_nn_import_in_either_order(tmp_path, first):
    path = str(tmp_path / "m.npz")
    code = (f"import {first}\nfrom tinygrad_mnist.serialize import load, save\nfrom tinygrad_mnist.nn import MLP\n"
            f"save(MLP([3, 2], seed=0), {path!r}); print(load({path!r}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout == "MLP(3-2, activation='sigmoid')\n", done.stderr


def test_save_gives_the_usual_permissions_and_refuses_to_replace_a_pipe(tmp_path):
    old = os.umask(0o022)
    try:
        serialize.save(MLP([4, 3], seed=0), tmp_path / "m.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.npz").st_mode) == 0o644  # not mkstemp's 0o600
    os.mkfifo(tmp_path / "pipe.npz")
    with pytest.raises(FileExistsError, match="not a regular file"):
        serialize.save(MLP([4, 3], seed=0), tmp_path / "pipe.npz")
    assert stat.S_ISFIFO(os.lstat(tmp_path / "pipe.npz").st_mode)
    assert sorted(os.listdir(tmp_path)) == ["m.npz", "pipe.npz"]


@pytest.mark.parametrize("blob", [
    b"\x93NUMPY\x01\x00v\x00{\x93NUMPY\x01\x00v\x00{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }"
    + b" " * 56 + b"\n\x00\x00",  # NumPy's parser raises tokenize.TokenError here
    b"\x93NUMPY\x09\x00" + bytes(10),  # an unknown format version
    b"PK\x03\x04 not numpy at all",
])
def test_garbled_npy_entries_are_model_file_errors(tmp_path, blob):
    path = _zip(tmp_path / "m.npz", {serialize.ARCH_KEY + ".npy": _arch({"type": "Linear", "n_in": 1, "n_out": 1}),
                                     "weight.npy": blob})
    with pytest.raises(ModelFileError, match=str(path)):
        serialize.load(path)
