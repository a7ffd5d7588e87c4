"""diagnose on the code learners really have, unchanged: Nielsen's network.py (the book's file,
written out in tests/learner_code/), one-line variants of it, a function wrapped around it, and
a StackOverflow-style class that updates its weights in place; and the loader that runs a file's
definitions but never its top-level training code."""
import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_mnist import cli
from tinygrad_mnist.data import load_bundled_sample
from tinygrad_mnist.diagnose import (diagnose_file, diagnose_network, diagnose_step, find_parameters,
                                     load_definitions)
from tinygrad_mnist.nn import MLP

CODE = Path(__file__).resolve().parent / "learner_code"
BOOK = (CODE / "network.py").read_text()
SO = (CODE / "so_network.py").read_text()
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def digits():
    data = load_bundled_sample()
    return data.X_train[:4], data.y_train[:4]


@pytest.fixture
def model():
    return MLP([784, 30, 10], output="sigmoid", seed=0)


def write(folder: Path, name: str, text: str, *changes) -> Path:
    """``text`` with each (old, new) replaced, where ``old`` occurs exactly once, as folder/name."""
    for old, new in changes:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    path = folder / name
    path.write_text(text)
    return path


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(argv))
    return status, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------- the book's file
def test_the_books_network_py_unchanged_is_a_match(monkeypatch):
    monkeypatch.chdir(CODE)
    status, out, err = run("diagnose", "network.py")
    assert status == 0 and err == "", out + err
    assert "note: your backprop returns (nabla_b, nabla_w): checked in that order" in out
    assert "backprop(self, x, y) called once per sample (x (784,1), y (10,1)) on the B=4 samples" in out
    assert "diagnose: your gradients match the engine's" in out
    assert "update_mini_batch: the step matches W - eta/len(mini_batch) * (the sum of your backprop's gradients)" in out
    assert "likely cause" not in out and "warning" not in out


def test_the_module_command_on_the_books_file():
    """``python -m tinygrad_mnist diagnose network.py``, no other argument, exactly as a learner types it."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-m", "tinygrad_mnist", "diagnose", "network.py"], cwd=CODE, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "match the engine's" in done.stdout, done.stdout + done.stderr


SPRIME_A = ("            sp = sigmoid_prime(z)\n", "            sp = sigmoid_prime(activations[-l])\n")


def test_sigmoid_prime_of_the_activation_from_the_command_line(tmp_path, monkeypatch):
    write(tmp_path, "network.py", BOOK, SPRIME_A)
    monkeypatch.chdir(tmp_path)
    status, out, _ = run("diagnose", "network.py")
    assert status == 1
    assert "likely cause: s'() applied to the activation instead of z" in out
    assert "  -> network.py:119  sp = sigmoid_prime(activations[-l])" in out
    assert "update_mini_batch: the step matches" in out    # the step follows backprop, bug and all


# one-line changes to the book's file: (old, new), where the report names it, causes, the line
VARIANTS = {
    "sigmoid_prime(activations[-l])": (
        SPRIME_A, "backprop", ["sigmoid_prime_of_activation"], "network.py:119  sp = sigmoid_prime(activations[-l])"),
    "cost_derivative returns y - a": (
        ("        return (output_activations-y)\n", "        return (y-output_activations)\n"),
        "backprop", ["wrong_sign"], "network.py:137  return (y-output_activations)"),
    "hidden nabla_w transposed": (
        ("            nabla_w[-l] = np.dot(delta, activations[-l-1].transpose())\n",
         "            nabla_w[-l] = np.dot(activations[-l-1], delta.transpose())\n"),
        "backprop", ["transposed"], "network.py:122  nabla_w[-l] = np.dot(activations[-l-1], delta.transpose())"),
    "update_mini_batch without /len(mini_batch)": (
        ("        self.weights = [w-(eta/len(mini_batch))*nw\n", "        self.weights = [w-eta*nw\n"),
        "step", ["missing_1_over_B"], "network.py:85  self.weights = [w-eta*nw"),
    "update_mini_batch divides twice": (
        ("        self.weights = [w-(eta/len(mini_batch))*nw\n", "        self.weights = [w-(eta/len(mini_batch)**2)*nw\n"),
        "step", ["extra_1_over_B"], "network.py:85  self.weights = [w-(eta/len(mini_batch)**2)*nw"),
    "update_mini_batch applies eta twice": (
        ("        self.weights = [w-(eta/len(mini_batch))*nw\n", "        self.weights = [w-eta*(eta/len(mini_batch))*nw\n"),
        "step", ["eta_twice"], "network.py:85  self.weights = [w-eta*(eta/len(mini_batch))*nw"),
    "update_mini_batch climbs with the biases": (
        ("        self.biases = [b-(eta/len(mini_batch))*nb\n", "        self.biases = [b+(eta/len(mini_batch))*nb\n"),
        "step", ["wrong_sign"], "network.py:87  self.biases = [b+(eta/len(mini_batch))*nb"),
    "update_mini_batch never updates the biases": (
        ("        self.biases = [b-(eta/len(mini_batch))*nb\n                       for b, nb in zip(self.biases, "
         "nabla_b)]\n", ""),
        "step", ["not_updated"], "no line of network.py found for it"),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_one_line_changes_to_the_book_are_named(name, tmp_path, digits, model):
    change, where, causes, line = VARIANTS[name]
    report = diagnose_file(write(tmp_path, "network.py", BOOK, change), model, *digits)
    assert not report.ok and report.causes == causes, report.render()
    checked = report if where == "backprop" else report.step
    assert [f.line for f in checked.findings] == [line], report.render()
    if where == "step":   # backprop itself is the book's: only the step is wrong
        assert report.findings == [] and "your gradients match the engine's" in report.summary
        assert report.step.findings[0].parameters == (["db1", "db2"] if "biases" in name else ["dW1", "dW2"])


def test_a_transposed_gradient_leaves_the_step_unchecked_and_says_so(tmp_path, digits, model):
    change = VARIANTS["hidden nabla_w transposed"][0]
    report = diagnose_file(write(tmp_path, "network.py", BOOK, change), model, *digits)
    assert report.findings[0].parameters == ["dW1"]
    assert report.step.ok and "not checked" in report.step.summary   # update_mini_batch would only crash


def test_a_crash_in_the_books_class_quotes_the_line(tmp_path, digits, model):
    path = write(tmp_path, "network.py", BOOK, ("            sp = sigmoid_prime(z)\n", "            sp = sigmoid_prim(z)\n"))
    report = diagnose_file(path, model, *digits)
    assert report.causes == ["exception"] and "NameError" in report.summary
    assert report.findings[0].line == "network.py:119  sp = sigmoid_prim(z)"


def test_the_class_api_restores_the_learners_weights(digits, model):
    network = load_definitions(CODE / "network.py").namespace
    net = network["Network"]([784, 30, 10])
    before = [w.copy() for w in net.weights] + [b.copy() for b in net.biases]
    report = diagnose_network(net, model, *digits)
    assert report.ok, report.render()
    after = net.weights + net.biases
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


# ---------------------------------------------------------------- a function around the book's class
WRAPPER = '''import numpy as np
import mnist_loader                 # the book's loader: not beside this file, and not needed
import network


def backprop(weights, biases, x, y):
    """One sample: x (784, 1), y (10, 1); returns the book's (nabla_b, nabla_w)."""
    net = network.Network([784, 30, 10])
    net.weights, net.biases = weights, biases
    return net.backprop(x, y)


training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
'''


def test_a_function_wrapping_the_books_class_is_checked_as_it_is(tmp_path, monkeypatch):
    (tmp_path / "network.py").write_text(BOOK)          # imported from the file's own folder
    write(tmp_path, "my_backprop.py", WRAPPER)
    monkeypatch.chdir(ROOT)                             # not the learner's folder
    status, out, _ = run("diagnose", str(tmp_path / "my_backprop.py"), "--batch", "5")
    assert status == 0, out
    assert out.startswith("warning: my_backprop.py:2: import mnist_loader failed (ModuleNotFoundError")
    assert "note: your backprop returns (nabla_b, nabla_w): checked in that order" in out
    assert "note: it takes one sample at a time (x (n_in,1), y (n_out,1)): called once per sample on the B=5" in out
    assert "network" not in sys.modules   # the learner's module is not left behind for the next file


# ---------------------------------------------------------------- the step check
def test_the_step_api_on_the_books_update_mini_batch(digits, model):
    net = load_definitions(CODE / "network.py").namespace["Network"]([784, 30, 10])

    def step(x, y):   # a batch of columns, x (784, B) and one-hot y (10, B), as the book's mini_batch
        net.update_mini_batch([(x[:, [i]], y[:, [i]]) for i in range(x.shape[1])], 3.0)
    report = diagnose_step(step, net, 3.0, model, *digits, columns=True)
    assert report.ok, report.render()
    assert "weights[0] (30, 784)" in report.notes[0] and "called once on the batch of B=4" in report.notes[0]


def so_network(tmp_path, *changes):
    path = write(tmp_path, "so_network.py", SO, *changes)
    return path, load_definitions(path)


def test_the_stackoverflow_class_loads_without_training(tmp_path):
    _, module = so_network(tmp_path)
    assert any("import mnist_loader failed" in w for w in module.warnings)
    assert {"training_data", "network", "accuracies"} <= set(module.skipped)   # the top level, never run
    assert module.namespace["LEARNING_RATE"] == 0.05 and "network" not in module.namespace


def check_so(module, model, digits):
    net = module.namespace["Network"]([784, 30, 10])

    def one_step(x, y):   # one digit: x (784,), y (10,) one-hot
        net._propagate_forward(x)
        net._propagate_back(y)
    return diagnose_step(one_step, net, lr=0.05, model=model, x=digits[0], y=digits[1], per_sample=True)


def test_the_stackoverflow_class_is_checked_by_its_step(tmp_path, digits, model):
    _, module = so_network(tmp_path)
    report = check_so(module, model, digits)
    assert report.ok, report.render()
    assert "layers[0].weights (784, 30)" in report.notes[0] and "layers[1].biases (1, 10)" in report.notes[0]
    assert "rows convention" in report.summary


def test_a_missing_hidden_sigmoid_prime_in_the_stackoverflow_class_is_named(tmp_path, digits, model):
    _, module = so_network(tmp_path, ("                delta = error * sigmoid_derivative(self.layers[i - 1].output)\n",
                                      "                delta = error\n"))
    report = check_so(module, model, digits)
    assert report.causes == ["missing_sigmoid_prime_hidden"], report.render()
    assert report.findings[0].line == "so_network.py:59  delta = error"


def test_a_step_uphill_in_the_stackoverflow_class_is_named(tmp_path, digits, model):
    _, module = so_network(tmp_path, (
        "            layer.weights += self.learning_rate * np.dot(layer.inputs.T, delta)\n",
        "            layer.weights -= self.learning_rate * np.dot(layer.inputs.T, delta)\n"))
    report = check_so(module, model, digits)
    assert report.causes == ["wrong_sign"] and report.findings[0].parameters == ["dW1", "dW2"]
    assert report.findings[0].line == \
        "so_network.py:56  layer.weights -= self.learning_rate * np.dot(layer.inputs.T, delta)"


def test_a_step_that_moves_nothing_says_which_arrays_were_read(digits, model):
    weights = [np.zeros((30, 784)), np.zeros(30), np.zeros((10, 30)), np.zeros(10)]
    copies = [a.copy() for a in weights]
    report = diagnose_step(lambda x, y: None, copies, 0.1, model, *digits)
    assert report.causes == ["not_updated"] and "Nothing moved" in report.summary
    assert "[0] (30, 784)" in report.notes[0]


# ---------------------------------------------------------------- definitions only
def test_only_definitions_run(tmp_path):
    (tmp_path / "helper.py").write_text("SCALE = 2\n")
    marker = tmp_path / "trained.txt"
    write(tmp_path, "mine.py", f'''"""A learner's script."""
from __future__ import annotations
import numpy as np
import helper                                   # beside the file
import not_installed_anywhere
try:
    import cPickle as pickle
except ImportError:
    import pickle

SIZES = [784, 30, 10]
RATE: float = 0.5 * helper.SCALE
act = lambda z: 1 / (1 + np.exp(-z))
rng = np.random.default_rng(0)                  # a call: not run
open({str(marker)!r}, "w").write("trained")     # top-level work: not run


def uses_rng():
    return rng.random()


class Net:
    n = len(SIZES)


if __name__ == "__main__":
    open({str(marker)!r}, "w").write("main")
''')
    module = load_definitions(tmp_path / "mine.py")
    ns = module.namespace
    assert not marker.exists()
    assert ns["SIZES"] == [784, 30, 10] and ns["RATE"] == 1.0 and ns["act"](0.0) == 0.5 and ns["Net"].n == 3
    assert ns["pickle"].__name__ == "pickle" and ns["__doc__"] == "A learner's script."
    assert module.warnings == ["mine.py:5: import not_installed_anywhere failed (ModuleNotFoundError: No module "
                               "named 'not_installed_anywhere'); going on without it"]
    assert module.skipped == {"rng": 14}
    assert "helper" not in sys.modules and str(tmp_path) not in sys.path


def test_a_name_set_by_skipped_code_is_explained(tmp_path, digits, model):
    write(tmp_path, "mine.py", '''import numpy as np
SIGMOID = np.vectorize(lambda z: 1 / (1 + np.exp(-z)))


def backprop(weights, biases, x, y):
    return SIGMOID(x), None
''')
    report = diagnose_file(tmp_path / "mine.py", model, *digits)
    assert report.causes == ["exception"] and "NameError" in report.summary
    assert "note: SIGMOID is set at mine.py:2 by top-level code, which diagnose does not run" in str(report)


def test_a_file_without_anything_to_check_says_what_is_accepted(tmp_path, digits, model):
    path = write(tmp_path, "nothing.py", "def train():\n    pass\n")
    with pytest.raises(ValueError, match="no class with backprop\\(self, x, y\\) and no function backprop"):
        diagnose_file(path, model, *digits)


# ---------------------------------------------------------------- finding the parameters
def test_parameters_are_found_by_name_and_shape():
    class Layer:
        def __init__(self, n_in, n_out):
            self.W, self.b = np.ones((n_in, n_out)), np.zeros(n_out)
            self.output = np.zeros((1, n_out))      # a cached activation with a bias's shape
    net = type("Net", (), {})()
    net.layers = [Layer(4, 3), Layer(3, 2)]
    P = find_parameters(net, [4, 3, 2])
    assert P.rows and [s.name for s in P.weights + P.biases] == [
        "layers[0].W", "layers[1].W", "layers[0].b", "layers[1].b"]
    P = find_parameters({"w1": np.ones((3, 4)), "b1": np.ones((3, 1)), "w2": np.ones((2, 3)), "b2": np.ones((2, 1))},
                        [4, 3, 2])
    assert not P.rows and [s.name for s in P.biases] == ["b1", "b2"]
    with pytest.raises(ValueError, match="could not find the weights and biases of a 4-3-2 network in list"):
        find_parameters([np.ones((3, 4))], [4, 3, 2])
    with pytest.raises(ValueError, match="both orientations"):
        find_parameters([np.ones((3, 4)), np.ones(3), np.ones((3, 2)), np.ones(2)], [4, 3, 2])


def test_a_class_that_cannot_be_built_from_the_sizes_is_reported(tmp_path, digits, model):
    path = write(tmp_path, "network.py", BOOK, ("    def __init__(self, sizes):\n", "    def __init__(self):\n"))
    report = diagnose_file(path, model, *digits)
    assert report.causes == ["exception"] and "Network([784, 30, 10]) raised TypeError" in report.summary


def test_python_2_code_is_refused_with_a_hint(tmp_path):
    path = write(tmp_path, "network.py", BOOK, ('                print("Epoch {} complete".format(j))\n',
                                                '                print "Epoch {0} complete".format(j)\n'))
    with pytest.raises(ValueError, match=r"network.py:\d+: syntax error: .*Python 2 code\? .*Python 3 port"):
        load_definitions(path)
