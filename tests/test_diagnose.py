"""diagnose: each bug a learner makes, written as a learner writes it (Nielsen-style NumPy), must
be named; a correct backprop must pass; an unknown bug must give the first differing entry.

Sizes 7-5-3 with B=4: no square weight, no layer as wide as the batch, so transposes, unsummed
biases and 1/B show up. Every learner function below is deliberately small and self-contained.
"""
import re
from pathlib import Path

import numpy as np
import pytest

from tinygrad_mnist.diagnose import (BUGS, CAUSES, Bug, Plant, Report, Slip, backprop_inputs, diagnose,
                                     diagnose_function, load_backprop_function)
from tinygrad_mnist.nn import MLP

SIZES = [7, 5, 3]
B = 4


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


def softmax(z):
    e = np.exp(z - z.max(axis=0))
    return e / e.sum(axis=0)


@pytest.fixture
def problem():
    rng = np.random.default_rng(3)
    x = rng.random((B, SIZES[0]))
    y = rng.integers(0, SIZES[-1], B)
    return x, y


def quadratic_model():
    return MLP(SIZES, output="sigmoid", seed=1, dtype=np.float64)


def ce_model():
    return MLP(SIZES, output=None, seed=1, dtype=np.float64)


def forward(weights, biases, x):
    activations, zs = [x], []
    for w, b in zip(weights, biases):
        zs.append(np.dot(w, activations[-1]) + b)
        activations.append(sigmoid(zs[-1]))
    return zs, activations


def run(fn, problem, loss="quadratic", convention="columns") -> Report:
    """Today's contract: a batch of columns, the mean cost (convention None: detect it)."""
    x, y = problem
    model = quadratic_model() if loss == "quadratic" else ce_model()
    return diagnose_function(fn, model, x, y, loss=loss, convention=convention)


# ---------------------------------------------------------------- the correct one
def backprop_correct(weights, biases, x, y):
    nabla_b = [None] * len(biases)
    nabla_w = [None] * len(weights)
    zs, activations = forward(weights, biases, x)
    delta = (activations[-1] - y) * sigmoid_prime(zs[-1]) / x.shape[1]
    nabla_b[-1] = delta.sum(axis=1, keepdims=True)
    nabla_w[-1] = np.dot(delta, activations[-2].T)
    for l in range(2, len(weights) + 1):
        delta = np.dot(weights[-l + 1].T, delta) * sigmoid_prime(zs[-l])
        nabla_b[-l] = delta.sum(axis=1, keepdims=True)
        nabla_w[-l] = np.dot(delta, activations[-l - 1].T)
    return nabla_w, nabla_b


def test_correct_backprop_passes(problem):
    report = run(backprop_correct, problem)
    assert report.ok, report.render()
    assert "match" in str(report) and report.causes == []


def test_correct_rows_backprop_passes(problem):
    def backprop(weights, biases, x, y):  # z = x @ W + b, W (n_in, n_out)
        zs, acts = [], [x]
        for W, b in zip(weights, biases):
            zs.append(acts[-1] @ W + b)
            acts.append(sigmoid(zs[-1]))
        delta = (acts[-1] - y) * sigmoid_prime(zs[-1]) / len(x)
        dW, db = [None] * len(weights), [None] * len(weights)
        for l in range(len(weights) - 1, -1, -1):
            dW[l], db[l] = acts[l].T @ delta, delta.sum(axis=0)
            if l:
                delta = (delta @ weights[l].T) * sigmoid_prime(zs[l - 1])
        return dW, db
    assert run(backprop, problem, convention="rows").ok


def test_dict_form_and_column_biases_of_either_shape(problem):
    x, y = problem
    model = quadratic_model()
    nabla_w, nabla_b = backprop_correct(*backprop_inputs(model, x, y))
    grads = {"dW1": nabla_w[0], "db1": nabla_b[0].ravel(), "dW2": nabla_w[1], "db2": nabla_b[1]}
    assert diagnose(grads, model, x, y).ok


# ---------------------------------------------------------------- one test per bug
def test_transposed_weight_gradient(problem):
    def backprop(weights, biases, x, y):
        nabla_w, nabla_b = backprop_correct(weights, biases, x, y)
        zs, activations = forward(weights, biases, x)
        delta = (activations[-1] - y) * sigmoid_prime(zs[-1]) / x.shape[1]
        nabla_w[-1] = np.dot(activations[-2], delta.T)       # (5,3): a @ delta.T, transposed
        return nabla_w, nabla_b
    report = run(backprop, problem)
    assert report.causes == ["transposed"] and report.findings[0].parameters == ["dW2"]


def test_missing_one_over_B(problem):
    def backprop(weights, biases, x, y):
        zs, activations = forward(weights, biases, x)
        delta = (activations[-1] - y) * sigmoid_prime(zs[-1])  # the sum over the batch, not the mean
        nabla_w, nabla_b = [np.dot(delta, activations[-2].T)], [delta.sum(axis=1, keepdims=True)]
        delta = np.dot(weights[-1].T, delta) * sigmoid_prime(zs[-2])
        return [np.dot(delta, activations[-3].T)] + nabla_w, [delta.sum(axis=1, keepdims=True)] + nabla_b
    report = run(backprop, problem)
    assert report.causes == ["missing_1_over_B"]
    assert report.findings[0].parameters == ["dW1", "dW2", "db1", "db2"]
    assert "B=4 times" in str(report)


def test_a_summed_cost_is_fine_when_declared(problem):
    def backprop(weights, biases, x, y):
        nabla_w, nabla_b = backprop_correct(weights, biases, x, y)
        n = x.shape[1]
        return [nw * n for nw in nabla_w], [nb * n for nb in nabla_b]
    x, y = problem
    assert diagnose_function(backprop, quadratic_model(), x, y, reduction="sum").ok
    report = diagnose_function(backprop_correct, quadratic_model(), x, y, reduction="sum")
    assert report.causes == ["extra_1_over_B"]


def test_extra_one_over_B(problem):
    def backprop(weights, biases, x, y):
        nabla_w, nabla_b = backprop_correct(weights, biases, x, y)
        n = x.shape[1]
        return [nw / n for nw in nabla_w], [nb / n for nb in nabla_b]   # averaged a second time
    assert run(backprop, problem).causes == ["extra_1_over_B"]


def test_bias_not_summed_over_the_batch(problem):
    def backprop(weights, biases, x, y):
        zs, activations = forward(weights, biases, x)
        delta = (activations[-1] - y) * sigmoid_prime(zs[-1]) / x.shape[1]
        nabla_w, nabla_b = [np.dot(delta, activations[-2].T)], [delta]   # (3, B): one column per sample
        delta = np.dot(weights[-1].T, delta) * sigmoid_prime(zs[-2])
        return [np.dot(delta, activations[-3].T)] + nabla_w, [delta] + nabla_b
    report = run(backprop, problem)
    assert report.causes == ["bias_not_summed"]
    assert report.findings[0].parameters == ["db1", "db2"]
    assert "sum(axis=1" in str(report)


def test_wrong_sign_gradient_ascent(problem):
    def backprop(weights, biases, x, y):
        zs, activations = forward(weights, biases, x)
        delta = (y - activations[-1]) * sigmoid_prime(zs[-1]) / x.shape[1]   # y - a
        nabla_w, nabla_b = [np.dot(delta, activations[-2].T)], [delta.sum(axis=1, keepdims=True)]
        delta = np.dot(weights[-1].T, delta) * sigmoid_prime(zs[-2])
        return [np.dot(delta, activations[-3].T)] + nabla_w, [delta.sum(axis=1, keepdims=True)] + nabla_b
    report = run(backprop, problem)
    assert report.causes == ["wrong_sign"]
    assert "ascent" in str(report)


def test_sigmoid_prime_of_the_activation(problem):
    def backprop(weights, biases, x, y):
        zs, activations = forward(weights, biases, x)
        delta = (activations[-1] - y) * sigmoid_prime(zs[-1]) / x.shape[1]
        nabla_w, nabla_b = [np.dot(delta, activations[-2].T)], [delta.sum(axis=1, keepdims=True)]
        delta = np.dot(weights[-1].T, delta) * sigmoid_prime(activations[-2])   # s'(a), not s'(z)
        return [np.dot(delta, activations[-3].T)] + nabla_w, [delta.sum(axis=1, keepdims=True)] + nabla_b
    report = run(backprop, problem)
    assert report.causes == ["sigmoid_prime_of_activation"]
    assert "hidden" in str(report)


def test_derivative_shortcut_applied_to_z(problem):
    def backprop(weights, biases, x, y):
        zs, activations = forward(weights, biases, x)
        z = zs[-1]
        delta = (activations[-1] - y) * z * (1 - z) / x.shape[1]   # a(1-a) written with z
        nabla_w, nabla_b = [np.dot(delta, activations[-2].T)], [delta.sum(axis=1, keepdims=True)]
        z = zs[-2]
        delta = np.dot(weights[-1].T, delta) * z * (1 - z)
        return [np.dot(delta, activations[-3].T)] + nabla_w, [delta.sum(axis=1, keepdims=True)] + nabla_b
    report = run(backprop, problem)
    assert report.causes == ["derivative_shortcut_on_z"]
    assert "every layer" in str(report)


def test_elementwise_product_where_matmul_belongs(problem):
    def backprop(weights, biases, x, y):
        zs, activations = forward(weights, biases, x)
        delta = (activations[-1] - y) * sigmoid_prime(zs[-1]) / x.shape[1]
        nabla_w = [None, delta * activations[-2].T]    # (3,B) * (B,5): fine for B=1 only
        return nabla_w, [None, delta.sum(axis=1, keepdims=True)]
    report = run(backprop, problem)
    assert report.causes == ["elementwise_product"]
    assert "(3,4) @ (4,5)" in str(report) and "line" in report.summary


def test_elementwise_product_rank_one_pattern(problem):
    def backprop(weights, biases, x, y):
        nabla_w, nabla_b = backprop_correct(weights, biases, x, y)
        zs, activations = forward(weights, biases, x)
        delta = (activations[-1] - y) * sigmoid_prime(zs[-1]) / x.shape[1]
        # the batch collapsed first, then a broadcasting * builds an outer product
        nabla_w[-1] = delta.sum(axis=1, keepdims=True) * activations[-2].mean(axis=1)
        return nabla_w, nabla_b
    report = run(backprop, problem)
    assert report.causes == ["elementwise_product"] and "rank 1" in str(report)


def test_softmax_cross_entropy_delta_with_an_extra_derivative(problem):
    def backprop(weights, biases, x, y):
        zs, activations = forward(weights, biases, x)
        p = softmax(zs[-1])
        delta = (p - y) * p * (1 - p) / x.shape[1]    # the softmax's derivative does not belong here
        nabla_w, nabla_b = [np.dot(delta, activations[-2].T)], [delta.sum(axis=1, keepdims=True)]
        delta = np.dot(weights[-1].T, delta) * sigmoid_prime(zs[-2])
        return [np.dot(delta, activations[-3].T)] + nabla_w, [delta.sum(axis=1, keepdims=True)] + nabla_b
    report = run(backprop, problem, loss="cross-entropy")
    assert report.causes == ["ce_delta"] and "(p - y) / B" in str(report)


def test_cross_entropy_with_sigmoid_outputs(problem):
    def backprop(weights, biases, x, y):   # network2's delta, under the engine's softmax loss
        zs, activations = forward(weights, biases, x)
        delta = (activations[-1] - y) / x.shape[1]
        nabla_w, nabla_b = [np.dot(delta, activations[-2].T)], [delta.sum(axis=1, keepdims=True)]
        delta = np.dot(weights[-1].T, delta) * sigmoid_prime(zs[-2])
        return [np.dot(delta, activations[-3].T)] + nabla_w, [delta.sum(axis=1, keepdims=True)] + nabla_b
    report = run(backprop, problem, loss="cross-entropy")
    assert report.causes == ["ce_delta"] and "softmax" in str(report)


def test_wrong_layer_order(problem):
    def backprop(weights, biases, x, y):
        nabla_w, nabla_b = backprop_correct(weights, biases, x, y)
        return nabla_w[::-1], nabla_b[::-1]   # filled front to back by mistake
    assert run(backprop, problem).causes == ["wrong_layer_order"]


def test_activation_of_the_wrong_layer(problem):
    def backprop(weights, biases, x, y):
        zs, activations = forward(weights, biases, x)
        delta = (activations[-1] - y) * sigmoid_prime(zs[-1]) / x.shape[1]
        nabla_w, nabla_b = [np.dot(delta, activations[-1].T)], [delta.sum(axis=1, keepdims=True)]
        delta = np.dot(weights[-1].T, delta) * sigmoid_prime(zs[-2])
        return [np.dot(delta, activations[-2].T)] + nabla_w, [delta.sum(axis=1, keepdims=True)] + nabla_b
    assert run(backprop, problem).causes == ["activation_of_wrong_layer"]


def test_two_bugs_at_once_are_both_named(problem):
    def backprop(weights, biases, x, y):
        nabla_w, nabla_b = backprop_correct(weights, biases, x, y)
        n = x.shape[1]
        return [nw.T * n for nw in nabla_w], [nb * n for nb in nabla_b]
    assert sorted(run(backprop, problem).causes) == ["missing_1_over_B", "transposed"]


def test_unknown_bug_reports_the_first_differing_entry(problem):
    def backprop(weights, biases, x, y):
        nabla_w, nabla_b = backprop_correct(weights, biases, x, y)
        nabla_w[1] = nabla_w[1].copy()
        nabla_w[1][2, 3] += 0.0123
        return nabla_w, nabla_b
    report = run(backprop, problem)
    assert not report.ok and report.causes == []
    assert report.first_difference.startswith("dW2[2,3]: ") and "1 of 15 entries" in report.first_difference


def test_a_half_finished_backprop_is_reported(problem):
    def backprop(weights, biases, x, y):
        return [None, np.zeros((3, 5))], [np.zeros((5, 1)), "oops"]
    report = run(backprop, problem)
    assert report.causes == ["wrong_return_value"] and "nabla_w[0]" in report.summary
    report = run(lambda w, b, x, y: ([np.zeros((5, 7)), "x"], [np.zeros(5), np.zeros(3)]), problem)
    assert report.causes == ["wrong_return_value"] and "numeric" in report.summary


def test_a_crash_is_reported_with_the_learners_line(problem):
    def backprop(weights, biases, x, y):
        return undefined_name  # noqa: F821
    report = run(backprop, problem)
    assert report.causes == ["exception"] and "NameError" in str(report) and "line" in report.summary


def test_the_unplanted_copy_is_the_textbook_backprop(problem):
    from tinygrad_mnist import manual
    from tinygrad_mnist.tools.bugs import Plant, planted_backprop, plants
    x, y = problem
    rng = np.random.default_rng(0)
    weights, biases = manual.init_params(SIZES, rng)
    for cost in ("quadratic", "cross_entropy"):
        nw, nb, _ = planted_backprop(weights, biases, x.T, manual.one_hot(y, 3).T, cost, Plant())
        ew, eb = manual.backprop_columns(weights, biases, x.T, y, cost)
        for a, e in zip(nw + nb, ew + [g[:, 0] for g in eb]):
            np.testing.assert_allclose(a, e, rtol=1e-12)
        first = plants(cost)[0]
        assert first.bug is None and first.plant == Plant()
        assert len({p.key for p in plants(cost)}) == len(plants(cost))


# ---------------------------------------------------------------- the file form
def test_load_backprop_function_and_its_errors(tmp_path, problem):
    good = tmp_path / "mine.py"
    good.write_text("import numpy as np\n\ndef backprop(weights, biases, x, y):\n"
                    "    return [np.zeros_like(w) for w in weights], [np.zeros_like(b) for b in biases]\n")
    fn = load_backprop_function(good)
    report = run(fn, problem)
    assert not report.ok and report.first_difference
    bad = tmp_path / "bad.py"
    bad.write_text("def backprop(:\n")
    with pytest.raises(ValueError, match="bad.py:1: syntax error"):
        load_backprop_function(bad)
    none = tmp_path / "none.py"
    none.write_text("x = 1\n")
    with pytest.raises(ValueError, match="defines no function backprop"):
        load_backprop_function(none)
    with pytest.raises(FileNotFoundError):
        load_backprop_function(tmp_path / "missing.py")


def test_model_must_fit_the_loss(problem):
    x, y = problem
    with pytest.raises(ValueError, match="sigmoid outputs"):
        diagnose(([], []), ce_model(), x, y, loss="quadratic")
    with pytest.raises(ValueError, match="convention"):
        diagnose(([], []), quadratic_model(), x, y, convention="diagonal")


# ---------------------------------------------------------------- what a function accepts and returns
def backprop_one_sample(weights, biases, x, y):
    """Nielsen's backprop for one column x (7,1): no 1/B, no sum; returns (nabla_b, nabla_w)."""
    zs, activations = forward(weights, biases, x)
    delta = (activations[-1] - y) * sigmoid_prime(zs[-1])
    nabla_b, nabla_w = [None, delta], [None, np.dot(delta, activations[-2].T)]
    delta = np.dot(weights[-1].T, delta) * sigmoid_prime(zs[-2])
    nabla_b[0], nabla_w[0] = delta, np.dot(delta, activations[-3].T)
    return (nabla_b, nabla_w)


@pytest.mark.parametrize("batch", [1, 4, 6])
def test_a_correct_per_sample_function_matches_at_any_batch_size(batch):
    rng = np.random.default_rng(batch)
    x, y = rng.random((batch, SIZES[0])), rng.integers(0, SIZES[-1], batch)
    report = diagnose_function(backprop_one_sample, quadratic_model(), x, y)
    assert report.ok and report.causes == [], report.render()
    assert "note: your backprop returns (nabla_b, nabla_w): checked in that order" in str(report)
    assert ("one sample at a time" in str(report)) == (batch > 1)   # with B=1 both readings agree


def test_the_batch_reading_of_a_per_sample_function_is_still_available(problem):
    x, y = problem
    report = diagnose_function(backprop_one_sample, quadratic_model(), x, y, per_sample=False)
    assert report.causes == ["bias_not_summed", "missing_1_over_B"]
    report = diagnose_function(backprop_one_sample, quadratic_model(), x, y, per_sample=True)
    assert report.ok and "one sample at a time" in str(report)


def test_a_per_sample_function_with_a_bug_is_named_per_sample(problem):
    def backprop(weights, biases, x, y):
        nabla_b, nabla_w = backprop_one_sample(weights, biases, x, y)
        return nabla_b, [nabla_w[0].T, nabla_w[1]]     # hidden dW transposed
    report = run(backprop, problem)
    assert report.causes == ["transposed"] and report.findings[0].parameters == ["dW1"]
    assert "one sample at a time" in str(report)


def test_rows_are_detected_and_named(problem):
    def backprop(weights, biases, x, y):   # z = x @ W + b, W (n_in, n_out), one sample per row
        a1 = sigmoid(x @ weights[0] + biases[0])
        a2 = sigmoid(a1 @ weights[1] + biases[1])
        d2 = (a2 - y) * a2 * (1 - a2) / len(x)
        d1 = (d2 @ weights[1].T) * a1 * (1 - a1)
        return [x.T @ d1, a1.T @ d2], [d1.sum(axis=0), d2.sum(axis=0)]
    x, y = problem
    report = diagnose_function(backprop, quadratic_model(), x, y)
    assert report.ok and "rows convention" in report.summary
    assert "checked in the rows convention" in str(report)


def test_when_both_conventions_raise_the_one_that_got_further_is_shown(problem):
    def backprop(weights, biases, x, y):   # rows code that breaks after its forward pass
        a1 = sigmoid(x @ weights[0] + biases[0])
        a2 = sigmoid(a1 @ weights[1] + biases[1])
        return a2.missing_attribute
    report = run(backprop, problem, convention=None)
    assert report.causes == ["exception"] and "AttributeError" in report.summary
    assert "rows convention" in report.summary and "shown: rows" in str(report)


# ---------------------------------------------------------------- the learner's line
def test_findings_point_at_the_learners_line(problem):
    def backprop(weights, biases, x, y):
        zs, activations = forward(weights, biases, x)
        delta = (activations[-1] - y) * sigmoid_prime(zs[-1]) / x.shape[1]
        nabla_w, nabla_b = [None, np.dot(activations[-2], delta.T)], [None, delta.sum(axis=1, keepdims=True)]
        sp = sigmoid_prime(activations[-2])
        delta = np.dot(weights[-1].T, delta) * sp
        nabla_w[0], nabla_b[0] = np.dot(delta, activations[-3].T), delta.sum(axis=1, keepdims=True)
        return nabla_w, nabla_b
    report = run(backprop, problem)
    assert report.causes == ["sigmoid_prime_of_activation", "transposed"]
    lines = {f.cause: f.line for f in report.findings}
    assert lines["sigmoid_prime_of_activation"].startswith("test_diagnose.py:")
    assert lines["sigmoid_prime_of_activation"].endswith("  sp = sigmoid_prime(activations[-2])")
    assert lines["transposed"].endswith("nabla_w, nabla_b = [None, np.dot(activations[-2], delta.T)], "
                                        "[None, delta.sum(axis=1, keepdims=True)]")
    assert f"  -> {lines['transposed']}" in str(report)


def test_when_no_line_fits_the_report_says_so(problem):
    def backprop(weights, biases, x, y):
        g = backprop_correct(weights, biases, x, y)
        return [-t for t in g[0]], [-t for t in g[1]]
    report = run(backprop, problem)
    assert report.causes == ["wrong_sign"]
    assert report.findings[0].line == "no line of test_diagnose.py found for it"


def test_gradient_arrays_have_no_line_to_point_at(problem):
    x, y = problem
    model = quadratic_model()
    nabla_w, nabla_b = backprop_correct(*backprop_inputs(model, x, y))
    report = diagnose(([w.T for w in nabla_w], nabla_b), model, x, y)
    assert report.causes == ["transposed"] and report.findings[0].line is None and "->" not in str(report)


# ---------------------------------------------------------------- the bug table
def backprop_tanh_prime(weights, biases, x, y):
    zs, activations = forward(weights, biases, x)
    delta = (activations[-1] - y) * sigmoid_prime(zs[-1]) / x.shape[1]
    nabla_w, nabla_b = [None, np.dot(delta, activations[-2].T)], [None, delta.sum(axis=1, keepdims=True)]
    delta = np.dot(weights[-1].T, delta) * (1 - activations[-2] ** 2)
    nabla_w[0], nabla_b[0] = np.dot(delta, activations[-3].T), delta.sum(axis=1, keepdims=True)
    return nabla_w, nabla_b


def test_a_new_planted_bug_is_one_row():
    """tanh's derivative in a sigmoid network: unknown to the table, then named by one added row."""
    x, y = np.random.default_rng(3).random((B, SIZES[0])), np.array([1, 0, 0, 2])
    assert diagnose_function(backprop_tanh_prime, quadratic_model(), x, y).causes == []
    row = Bug("tanh_prime_for_sigmoid", "tanh's derivative in a sigmoid layer",
              "1 - a^2 is the derivative of tanh; a sigmoid layer's is a (1 - a).", order=26,
              plants={"": Plant(hidden_sprime=lambda z, a: 1.0 - a ** 2)},
              lines=(r"1\s*-\s*\w+(\[[^\]]*\])?\s*\*\*\s*2",))
    report = diagnose_function(backprop_tanh_prime, quadratic_model(), x, y, bugs=BUGS + (row,))
    assert report.causes == ["tanh_prime_for_sigmoid"]
    assert "likely cause: tanh's derivative in a sigmoid layer" in str(report)
    assert report.findings[0].line.endswith("delta = np.dot(weights[-1].T, delta) * (1 - activations[-2] ** 2)")


def test_a_new_slip_is_one_row(problem):
    def backprop(weights, biases, x, y):
        nabla_w, nabla_b = backprop_correct(weights, biases, x, y)
        return [g / 2 for g in nabla_w], [g / 2 for g in nabla_b]     # the 1/2 of the cost, twice
    assert run(backprop, problem).causes == []
    row = Bug("halved", "gradients halved", "these gradients are half the engine's.", order=37,
              slip=Slip("scale", "both", lambda g, ctx: g / 2))
    x, y = problem
    report = diagnose_function(backprop, quadratic_model(), x, y, bugs=BUGS + (row,))
    assert report.causes == ["halved"] and report.findings[0].parameters == ["dW1", "dW2", "db1", "db2"]


def test_the_table_refuses_two_rows_with_one_key(problem):
    x, y = problem
    with pytest.raises(ValueError, match="two rows with the key 'transposed'"):
        diagnose(([], []), quadratic_model(), x, y, bugs=BUGS + (BUGS[0].__class__("transposed", "t", "m", 1),))
    assert CAUSES == {bug.key: bug.title for bug in BUGS} and len(CAUSES) == len(BUGS)


def test_the_docs_list_every_cause_the_table_holds():
    """docs/debug_your_backprop.md's table of causes and the code's table: the same keys."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "debug_your_backprop.md").read_text()
    section = text.split("## 7. What it can name", 1)[1].split("\n## ", 1)[0]
    keys = re.findall(r"^\| `(\w+)` \|", section, re.M)
    assert len(keys) == len(set(keys)) and sorted(keys) == sorted(bug.key for bug in BUGS)
