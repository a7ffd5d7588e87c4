"""The learning commands (explain, diagnose, graph, show), called in-process through
``cli.main``: output, files written, exit codes, one-line errors."""
import contextlib
import io
import os
import shutil
import stat
import textwrap

import pytest

from tinygrad_mnist import cli
from tinygrad_mnist.tools import graphviz
from tinygrad_mnist import serialize
from tinygrad_mnist.nn import MLP


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(argv))
    return status, out.getvalue(), err.getvalue()


CORRECT = """
import numpy as np

def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))

def backprop(weights, biases, x, y):
    zs, activations = [], [x]
    for w, b in zip(weights, biases):
        zs.append(np.dot(w, activations[-1]) + b)
        activations.append(sigmoid(zs[-1]))
    delta = (activations[-1] - y) * activations[-1] * (1 - activations[-1]) / x.shape[1]
    nabla_w, nabla_b = [None] * len(weights), [None] * len(weights)
    for l in range(len(weights) - 1, -1, -1):
        nabla_w[l] = np.dot(delta, activations[l].T)
        nabla_b[l] = delta.sum(axis=1, keepdims=True)
        if l:
            delta = np.dot(weights[l].T, delta) * activations[l] * (1 - activations[l])
    return nabla_w, nabla_b
"""


def test_explain_textbook_columns_with_check_agrees_on_every_line():
    status, out, err = run("explain", "--sizes", "784", "30", "10", "--batch", "1", "--columns", "--check")
    assert status == 0 and err == ""
    assert "BP1  delta^L = (a^L - y) * s'(z^L)" in out
    checked = [line for line in out.splitlines() if "manual: max|diff|" in line]
    assert len(checked) == 4 and all(line.rstrip().endswith("agrees") for line in checked)
    assert any("dC/dW^1 (30,784) = delta^1 (30,B) x^T (B,784)" in line for line in checked)
    assert any("dC/dW^2 (10,30) = delta^2 (10,B) (a^1)^T (B,30)" in line for line in checked)
    assert out.rstrip().endswith("every parameter gradient agrees with manual")


def test_explain_rows_cross_entropy_and_module_names():
    status, out, _ = run("explain", "--batch", "3", "--loss", "cross-entropy", "--module-names")
    assert status == 0
    assert "dL/dz2 (B,10) = (softmax(z2) - y) (B,10) / B" in out
    assert "dL/dlayers.0.bias (30,) = dL/dz1 (B,30) summed over axis 0 [undoes broadcasting, B=3]" in out


def test_explain_bad_sizes_is_one_line_and_status_2():
    status, out, err = run("explain", "--sizes", "100", "10")
    assert status == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("tinygrad-mnist explain: error: --sizes must start with 784")


def test_bad_argument_values_are_argparse_errors():
    with pytest.raises(SystemExit) as info:
        run("explain", "--batch", "0")
    assert info.value.code == 2


def test_diagnose_a_correct_file_and_nielsens_per_sample_code(tmp_path):
    good = tmp_path / "good.py"
    good.write_text(CORRECT)
    status, out, _ = run("diagnose", str(good))
    assert status == 0 and "match the engine's" in out
    nielsen = tmp_path / "nielsen.py"   # his per-sample code: no sum, no 1/B, and correct
    nielsen.write_text(CORRECT.replace(" / x.shape[1]", "").replace("delta.sum(axis=1, keepdims=True)", "delta"))
    status, out, _ = run("diagnose", str(nielsen), "--batch", "5")
    assert status == 0 and "match the engine's" in out, out
    assert "note: it takes one sample at a time (x (n_in,1), y (n_out,1)): called once per sample on the B=5" in out


def test_diagnose_rows_convention(tmp_path):
    rows = tmp_path / "rows.py"
    rows.write_text(textwrap.dedent("""
        import numpy as np
        def backprop(weights, biases, x, y):
            a1 = 1 / (1 + np.exp(-(x @ weights[0] + biases[0])))
            a2 = 1 / (1 + np.exp(-(a1 @ weights[1] + biases[1])))
            d2 = (a2 - y) * a2 * (1 - a2) / len(x)
            d1 = (d2 @ weights[1].T) * a1 * (1 - a1)
            return [d1.T @ x, d2.T @ a1], [d1.sum(0), d2.sum(0)]     # delta.T @ a: transposed
    """))
    status, out, _ = run("diagnose", str(rows), "--convention", "rows")
    assert status == 1 and "likely cause: transposed gradient (dW1, dW2)" in out


def test_diagnose_missing_or_broken_file_is_status_2(tmp_path):
    status, _, err = run("diagnose", str(tmp_path / "missing.py"))
    assert status == 2 and "missing.py: No such file" in err
    broken = tmp_path / "broken.py"
    broken.write_text("def backprop(:\n")
    status, _, err = run("diagnose", str(broken))
    assert status == 2 and "syntax error" in err and err.count("\n") == 1


def test_graph_writes_a_dot_file_and_the_text_tree(tmp_path):
    status, out, _ = run("graph", "--sizes", "784", "30", "10", "-o", str(tmp_path / "net.dot"), "--text")
    assert status == 0 and out.splitlines()[0] == "L ()  = quadratic_cost"
    assert (tmp_path / "net.dot").read_text().startswith("digraph")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get install graphviz)")
def test_graph_renders_svg_with_dot(tmp_path):
    status, out, _ = run("graph", "--sizes", "784", "30", "10", "-o", str(tmp_path / "net.svg"))
    assert status == 0 and out.strip() == f"wrote {tmp_path / 'net.svg'}"
    assert "layers.0.weight" in (tmp_path / "net.svg").read_text()


def test_graph_without_dot_says_how_to_render(tmp_path, monkeypatch):
    monkeypatch.setattr(graphviz.shutil, "which", lambda name: None)
    status, out, _ = run("graph", "-o", str(tmp_path / "net.svg"))
    assert status == 0 and "install graphviz" in out and (tmp_path / "net.dot").exists()


def test_show_weights_and_misclassified(tmp_path):
    pytest.importorskip("matplotlib", reason="show needs matplotlib (tinygrad_mnist[plot])")
    model = tmp_path / "model.npz"
    serialize.save(MLP([784, 16, 10], seed=0), model)
    status, out, _ = run("show", str(model), "-o", str(tmp_path / "w.png"))
    assert status == 0 and out.strip() == f"wrote {tmp_path / 'w.png'}: 16 hidden units"
    status, out, _ = run("show", str(model), "-o", str(tmp_path / "m.png"), "--misclassified", "-n", "8")
    assert status == 0 and "8 misclassified test digits" in out and (tmp_path / "m.png").exists()


def test_show_bad_model_is_status_2(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    status, _, err = run("show", str(bad), "-o", str(tmp_path / "w.png"))
    assert status == 2 and err.startswith("tinygrad-mnist show: error:") and err.count("\n") == 1
    assert not (tmp_path / "w.png").exists()


# ------------------------------------------------------------------ refused up front
@pytest.mark.parametrize("argv, fragment", [
    (["graph", "--sizes", "784", "100000000", "10"], "--sizes 784 100000000 10 means 79,500,000,010 parameters, "
                                                     "more than the 50,000,000"),
    (["graph", "--batch", "1000000000"], "--batch 1000000000: graph draws batches of at most 100,000"),
    # just over the activation limit (so that a regression costs a few GB, not an OOM kill)
    (["graph", "--sizes", "784", "2000", "10", "--batch", "60000"], "means 120,000,000 numbers in one activation"),
    (["explain", "--sizes", "784", "100000000", "10"], "79,500,000,010 parameters, more than the 50,000,000"),
    (["explain", "--sizes", "784", "12000", "10", "--batch", "9000"], "means 108,000,000 numbers in one activation"),
    (["explain", "--batch", "1000000000"], "--batch 1000000000 is larger than the 10000 bundled training digits"),
    (["diagnose", "missing.py", "--sizes", "784", "100000000", "10"], "79,500,000,010 parameters"),  # before the file
])
def test_absurd_sizes_and_batches_are_refused_before_anything_is_allocated(tmp_path, monkeypatch, argv, fragment):
    monkeypatch.chdir(tmp_path)  # graph's default output, net.svg, would land here
    status, out, err = run(*argv)
    assert status == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"tinygrad-mnist {argv[0]}: error: ") and fragment in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["explain"], ["diagnose", "my_backprop.py"], ["graph"]])
def test_a_negative_seed_is_an_argparse_error_naming_the_flag(capsys, command):
    with pytest.raises(SystemExit) as info:
        cli.main([*command, "--seed", "-1"])
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == \
        f"tinygrad-mnist {command[0]}: error: argument --seed: expected a non-negative integer, got -1"


def test_graph_refuses_a_device_or_a_pipe_and_writes_nothing_beside_it(tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    for target in ("/dev/null", str(pipe)):
        status, out, err = run("graph", "-o", target)
        assert status == 2 and out == "" and err.count("\n") == 1
        assert f"-o {target}: exists and is not a regular file" in err
    assert not os.path.exists("/dev/null.dot")
    assert os.listdir(tmp_path) == ["pipe"]
    with pytest.raises(FileExistsError, match="not a regular file"):  # the library function refuses too
        graphviz.render("digraph {}", pipe)
    assert os.listdir(tmp_path) == ["pipe"]


def test_graph_writes_atomically_with_the_usual_permissions(tmp_path, monkeypatch):
    fake_dot = tmp_path / "dot"  # prints half a picture, then fails
    fake_dot.write_text("#!/bin/sh\necho '<svg partial'\necho 'syntax error in line 1' >&2\nexit 1\n")
    fake_dot.chmod(0o755)
    old = tmp_path / "net.svg"
    old.write_text("<svg>the previous picture</svg>")
    monkeypatch.setattr(graphviz.shutil, "which", lambda name: str(fake_dot))
    status, _, err = run("graph", "-o", str(old))
    assert status == 2 and "dot -Tsvg failed" in err and "syntax error in line 1" in err
    assert old.read_text() == "<svg>the previous picture</svg>"
    assert sorted(os.listdir(tmp_path)) == ["dot", "net.svg"]  # no temp file left behind
    monkeypatch.setattr(graphviz.shutil, "which", lambda name: None)
    umask = os.umask(0o027)
    try:
        status, _, _ = run("graph", "-o", str(tmp_path / "net.png"))
    finally:
        os.umask(umask)
    assert status == 0 and stat.S_IMODE((tmp_path / "net.dot").stat().st_mode) == 0o640  # not mkstemp's 0o600


def test_show_refuses_a_device_or_a_pipe(tmp_path):
    model = tmp_path / "model.npz"
    serialize.save(MLP([784, 16, 10], seed=0), model)
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    for target in ("/dev/null", str(pipe)):
        status, out, err = run("show", str(model), "-o", target)
        assert status == 2 and out == "" and f"-o {target}: exists and is not a regular file" in err
    assert sorted(os.listdir(tmp_path)) == ["model.npz", "pipe"]


def test_show_writes_the_picture_atomically(tmp_path):
    pytest.importorskip("matplotlib", reason="show needs matplotlib (tinygrad_mnist[plot])")
    model = tmp_path / "model.npz"
    serialize.save(MLP([784, 16, 10], seed=0), model)
    old = tmp_path / "w.xyz"
    old.write_text("previous")
    status, _, err = run("show", str(model), "-o", str(old))  # matplotlib: "Format 'xyz' is not supported"
    assert status == 2 and "xyz" in err and err.count("\n") == 1
    assert old.read_text() == "previous" and sorted(os.listdir(tmp_path)) == ["model.npz", "w.xyz"]
    status, out, _ = run("show", str(model), "-o", str(tmp_path / "weights"))  # no extension: png, that name
    assert status == 0 and out.strip() == f"wrote {tmp_path / 'weights'}: 16 hidden units"
    assert (tmp_path / "weights").read_bytes()[:4] == b"\x89PNG"


def test_diagnose_a_directory_or_a_pipe_says_what_it_is(tmp_path):
    status, _, err = run("diagnose", str(tmp_path))
    assert status == 2 and err == f"tinygrad-mnist diagnose: error: {tmp_path}: is a directory; expected a .py " \
                                  f"file defining backprop()\n"
    os.mkfifo(tmp_path / "pipe.py")
    status, _, err = run("diagnose", str(tmp_path / "pipe.py"))  # importing it would block
    assert status == 2 and "pipe.py: not a regular file" in err and err.count("\n") == 1


def test_explain_mse_with_check_says_what_n_is():
    status, out, err = run("explain", "--loss", "mse", "--batch", "5", "--check")
    assert status == 0 and err == ""
    assert "N = B x 10 = 50: every element of a2 (B,10); mse averages over all of them" in out
    assert out.rstrip().endswith("every parameter gradient agrees with manual")


def test_explain_takes_the_activation_and_the_init(monkeypatch):
    from tinygrad_mnist.cli import learn
    built = []
    monkeypatch.setattr(learn, "MLP", lambda *a, **k: built.append(k) or MLP(*a, **k))
    status, out, _ = run("explain", "--activation", "tanh", "--init", "uniform", "--batch", "2")
    assert status == 0 and "a1 (B,30) = tanh(z1)" in out and "dL/dz1 (B,30) = dL/da1 (B,30) * (1 - a1^2) (B,30)" in out
    assert built[0]["activation"] == "tanh" and built[0]["init"] == "uniform"
    status, out, err = run("explain", "--activation", "relu", "--check")
    assert status == 2 and out == "" and err.count("\n") == 1
    assert "manual has no formula for ReLU layers, so there is nothing to check against" in err
