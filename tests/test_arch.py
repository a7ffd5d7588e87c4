"""Layer lists from text (``arch.build_arch``, ``train --arch``): the grammar, inferred input
sizes, the lenet preset, one-line errors naming the token, and conv models through the command
line: train, evaluate, predict, show, explain and graph."""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from tinygrad_mnist import cli, serialize
from tinygrad_mnist.arch import PRESETS, ArchError, build_arch, parse_arch
from tinygrad_mnist.digits import write_png
from tinygrad_mnist.nn import Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Unflatten


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def empty_cache(tmp_path_factory, monkeypatch):
    """An empty cache, so 'mnist' is always the bundled 10k/10k sample."""
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path_factory.mktemp("cache")))


# ------------------------------------------------------------------ the grammar
def test_lenet_preset():
    model = build_arch("lenet", seed=0)
    assert [type(m).__name__ for m in model.layers] == [
        "Unflatten", "Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten",
        "Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert sum(p.size for p in model.parameters()) == 61_706
    assert model.layers[1].padding == (2, 2) and model.layers[8].n_in == 400
    assert model(np.zeros((3, 784), np.float32)).shape == (3, 10)
    assert build_arch(" LeNet ", seed=0).config() == model.config()


def test_the_issues_layer_list_infers_every_input_size():
    model = build_arch("conv(6,5) relu maxpool(2) conv(16,5) relu maxpool(2) flatten linear(120) relu "
                       "linear(84) relu linear(10)")
    convs = [m for m in model.layers if isinstance(m, Conv2d)]
    linears = [m for m in model.layers if isinstance(m, Linear)]
    assert [(c.c_in, c.c_out) for c in convs] == [(1, 6), (6, 16)]
    assert [(m.n_in, m.n_out) for m in linears] == [(256, 120), (120, 84), (84, 10)]


def test_arguments_positional_and_by_name_and_every_word():
    model = build_arch("reshape(1,28,28) conv(4, 3, stride=2, padding=1) tanh avgpool(2, 1) "
                       "maxpool(kernel=2) flatten dropout(0.25) linear(n_out=10) sigmoid",
                       init="xavier", seed=1)
    kinds = [type(m).__name__ for m in model.layers]
    assert kinds == ["Unflatten", "Conv2d", "Tanh", "AvgPool2d", "MaxPool2d", "Flatten", "Dropout", "Linear",
                     "Sigmoid"]  # the explicit reshape is not doubled
    conv, avg, drop = model.layers[1], model.layers[3], model.layers[6]
    assert (conv.stride, conv.padding, avg.kernel, avg.stride, drop.p) == ((2, 2), (1, 1), (2, 2), (1, 1), 0.25)
    assert model.layers[7].n_in == 4 * 6 * 6
    assert model(np.zeros((2, 784), np.float32)).shape == (2, 10)
    tokens = parse_arch("conv(6,5,padding=2) relu")
    assert [(t.word, t.args, t.kwargs, t.index) for t in tokens] == [("conv", (6, 5), {"padding": 2}, 1),
                                                                    ("relu", (), {}, 2)]


def test_images_in_the_input_shape_need_no_reshape_and_seeds_repeat():
    a = build_arch("conv(2,3) flatten linear(3)", input_shape=(1, 8, 8), seed=3)
    assert not isinstance(a.layers[0], Unflatten)
    b = build_arch("conv(2,3) flatten linear(3)", input_shape=(1, 8, 8), seed=3)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.parametrize("spec, message", [
    ("", "the layer list is empty"),
    ("conv(6,5) relu maxpol(2)", "layer 3 'maxpol(2)': unknown layer 'maxpol'; known: conv, maxpool"),
    ("conv(6)", "layer 1 'conv(6)': missing kernel; conv takes conv(channels, kernel[, stride][, padding])"),
    ("conv(6,5,1,0,7)", "layer 1 'conv(6,5,1,0,7)': too many arguments"),
    ("conv(6,5,size=3)", "conv has no argument 'size'"),
    ("conv(6,5,kernel=3)", "kernel is given twice"),
    ("conv(padding=1,6,5)", "positional argument '6' after a name=value one"),
    ("conv(6,2.5)", "kernel must be a whole number, got '2.5'"),
    ("dropout(half)", "layer 1 'dropout(half)': p must be a number"),
    ("relu(2)", "relu takes no arguments"),
    ("conv(6,5)relu", "layer 1 'conv(6,5)relu': expected a layer such as conv(6,5)"),
    ("conv(6,5) linear(10)", "layer 2 'linear(10)': needs flat rows but gets (B,6,24,24); put flatten before it"),
    ("linear(30) conv(6,5)", "layer 2 'conv(6,5)': needs images (C,H,W) but gets (B,30); put reshape(C,H,W)"),
    ("conv(6,29)", "layer 1 'conv(6,29)': on input (B,1,28,28)"),
    ("conv(6,5,stride=0)", "Conv2d: stride must be a positive integer"),
    ("dropout(1.5)", "layer 1 'dropout(1.5)'"),
    ("reshape(1,28,27)", "dimension 1 must hold 756"),
    ("conv(3000,5) conv(3000,5)", "layer 2 'conv(3000,5)': the network would have"),
])
def test_bad_layer_lists_name_the_token(spec, message):
    with pytest.raises(ArchError) as info:
        build_arch(spec, max_parameters=50_000_000)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_a_non_square_input_needs_an_explicit_reshape():
    with pytest.raises(ArchError, match="rows of 780 values, not a square number of pixels"):
        build_arch("conv(2,3)", input_shape=(780,))


# ------------------------------------------------------------------ the command line
@pytest.mark.parametrize("argv, fragments", [
    (["--arch", "conv(6,5) relu maxpol(2)"], ["--arch: layer 3 'maxpol(2)': unknown layer 'maxpol'"]),
    (["--arch", "conv(6,5) flatten linear(5)", "--limit", 50], ["--arch has 5 outputs, but the labels go up to 9"]),
    (["--arch", "conv(6,5)", "--limit", 50], ["end the layer list with linear(10)"]),
    (["--arch", "lenet", "--activation", "relu"], ["--activation applies to --sizes"]),
    (["--arch", "conv(3000,5) conv(3000,5)"], ["more than the 50,000,000 allowed"]),
    (["--arch", "conv(100000,5)"], ["would output 57,600,000 numbers per sample, more than the 3,125,000"]),
])
def test_train_arch_errors_are_one_line_and_exit_2(argv, fragments):
    status, _, err = run("train", "--quiet", *argv)
    assert status == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith("tinygrad-mnist train: error: ") and fragments[0] in err


def test_arch_and_sizes_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--arch", "lenet", "--sizes", "784", "10"])
    assert info.value.code == 2
    assert "argument --sizes: not allowed with argument --arch" in capsys.readouterr().err


@pytest.fixture(scope="module")
def conv_model(tmp_path_factory):
    """A small conv net trained 1 epoch on 600 digits through `train --arch` (defaults: Adam, batch 32)."""
    path = tmp_path_factory.mktemp("conv") / "conv.npz"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINYGRAD_MNIST_HOME", str(path.parent))
        status, out, err = run("train", "--arch", "conv(4,5) relu maxpool(2) flatten dropout(0.1) linear(10)",
                               "--epochs", 1, "--limit", 600, "--save", path)
    assert status == 0, err
    return path, out


def test_train_arch_prints_the_model_and_saves_it(conv_model):
    path, out = conv_model
    assert "model: Sequential(Unflatten(1, (1, 28, 28)), Conv2d(1->4, 5x5), ReLU(), MaxPool2d(2), Flatten(), " \
           "Dropout(p=0.1), Linear(576->10))" in out
    assert "adam lr 0.001, batch 32" in out
    model = serialize.load(path)
    assert [type(m) for m in model.layers] == [Unflatten, Conv2d, ReLU, MaxPool2d, Flatten, Dropout, Linear]
    accuracy = float(out.split("test accuracy ")[-1].split("%")[0])
    status, out, _ = run("evaluate", path, "--limit", 600)
    assert status == 0 and out.splitlines()[1].startswith(f"accuracy {accuracy:.2f}%")


def test_lr_decay_shrinks_the_rate_after_every_epoch(monkeypatch):
    from tinygrad_mnist.optim import Adam
    rates = []
    step = Adam.step
    monkeypatch.setattr(Adam, "step", lambda self: (rates.append(self.lr), step(self))[1])
    status, out, err = run("train", "--arch", "flatten linear(10)", "--epochs", 3, "--limit", 64,
                           "--batch-size", 64, "--lr", 0.01, "--lr-decay", 0.5)
    assert status == 0, err
    assert "adam lr 0.01 x0.5 per epoch, batch 64" in out
    assert rates == pytest.approx([0.01, 0.005, 0.0025])


def test_predict_and_show_on_a_conv_model(conv_model, tmp_path):
    path, _ = conv_model
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 12:16] = 255  # a 1
    write_png(tmp_path / "one.png", digit)
    status, out, err = run("predict", path, tmp_path / "one.png")
    assert status == 0, err
    assert out.startswith(f"{tmp_path / 'one.png'}: ") and out.count(":") >= 11
    pytest.importorskip("matplotlib")
    status, out, err = run("show", path, "-o", tmp_path / "filters.png")
    assert status == 0 and "4 filters of the first convolution" in out
    assert (tmp_path / "filters.png").read_bytes()[:4] == b"\x89PNG"


def test_explain_and_graph_take_arch(tmp_path):
    status, out, err = run("explain", "--arch", "conv(2,3) relu maxpool(2) flatten linear(10)", "--batch", 2)
    assert status == 0, err
    assert "z1 (B,2,26,26) = conv2d(x, W1, b1)" in out
    assert "dL/dW1 (2,1,3,3) = correlate(x (B,1,28,28), dL/dz1 (B,2,26,26))" in out
    assert "dL/da1 (B,2,26,26) =" in out and "max_pool2d(a1)" in out
    status, out, err = run("graph", "--arch", "lenet", "-o", tmp_path / "g.dot", "--text")
    assert status == 0, err
    assert "conv2d" in (tmp_path / "g.dot").read_text() and "W1 = layers.1.weight (6,1,5,5)" in out
    status, _, err = run("explain", "--arch", "lenet", "--check")
    assert status == 2 and "hand-derived reference" in err and len(err.strip().splitlines()) == 1
    assert set(PRESETS) == {"lenet"}
