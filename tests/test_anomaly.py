"""Anomaly mode: ``detect_anomaly`` stops at the first op whose output or gradient is NaN/Inf and
names the op and the user's line; ``train --detect-anomaly`` turns that into one line, exit 1."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from tinygrad_mnist import AnomalyError, Tensor, detect_anomaly
from test_cli import assert_one_line_error, empty_cache, run  # noqa: F401  (empty_cache: autouse fixture)


def leaf(values, dtype=np.float64) -> Tensor:
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def test_detect_anomaly_switches_off_after_nested_or_recursive_use():
    @detect_anomaly()
    def nested(depth: int) -> None:
        if depth:
            nested(depth - 1)

    guard = detect_anomaly()
    with guard:
        with guard:
            pass
        with pytest.raises(AnomalyError, match="log"), np.errstate(invalid="ignore"):
            Tensor(np.array([-1.0])).log()  # still inside: the NaN is caught
    nested(2)
    with np.errstate(invalid="ignore"):
        assert np.isnan(Tensor(np.array([-1.0])).log().data).all()  # outside: NaN passes silently


def test_detect_anomaly_stops_at_the_first_forward_nan_and_names_the_line():
    x = leaf([1.0, -1.0])
    with detect_anomaly(), np.errstate(invalid="ignore"):
        h = x * 2.0
        with pytest.raises(AnomalyError) as e:
            h.log()  # the NaN is born here
        line = e.tb.tb_lineno  # the line just above (this test's own file)
    message = str(e.value)
    assert message.startswith("log: forward output (2,) contains NaN (inputs (2,))")
    assert f"{__file__}:{line}" in message and "test_detect_anomaly_stops_at_the_first_forward_nan" in message
    assert (e.value.op, e.value.phase, e.value.site.split(" in ")[0]) == ("log", "forward", f"{__file__}:{line}")
    assert isinstance(e.value, FloatingPointError)


def test_detect_anomaly_catches_a_backward_inf_from_sqrt_at_0():
    x = leaf([0.0, 4.0])
    with detect_anomaly():
        line = sys._getframe().f_lineno + 1  # the next line's number
        y = x ** 0.5
        loss = y.sum()  # forward is finite: sqrt(0) = 0
        with pytest.raises(AnomalyError, match=r"power: backward gave a gradient with Inf for input 0 \(2,\)") as e, \
                np.errstate(divide="ignore"):
            loss.backward()  # d sqrt(x)/dx = 1 / (2 sqrt(x)) is Inf at 0
    assert f"{__file__}:{line} in test_detect_anomaly_catches_a_backward_inf" in str(e.value)
    assert e.value.phase == "backward"


def test_detect_anomaly_catches_log_of_0_inside_a_model_at_the_users_line():
    from tinygrad_mnist.nn import MLP
    model = MLP([3, 2], output="softmax", seed=0)
    x = np.array([[1e4, -1e4, 0.0]])
    with detect_anomaly(), np.errstate(divide="ignore"):
        with pytest.raises(AnomalyError, match=r"^log: forward output \(1,2\) contains Inf") as e:
            model(x).log()  # softmax saturates to exactly 0, log(0) = -inf
        line = e.tb.tb_lineno
    assert f"{__file__}:{line}" in str(e.value)  # the user's line, not nn.py or tensor.py


def test_without_detect_anomaly_nan_passes_silently_and_nothing_is_recorded():
    with np.errstate(invalid="ignore"):
        y = leaf([-1.0]).log()
    assert np.isnan(y.data).all() and y.node.site is None


def test_anomaly_error_pickles_with_its_fields():
    import pickle
    e = pickle.loads(pickle.dumps(AnomalyError("log", "forward", "log: forward output (2,) contains NaN", "f.py:3")))
    assert (e.op, e.phase, e.site) == ("log", "forward", "f.py:3") and str(e).endswith("called at f.py:3")



def test_train_detect_anomaly_names_the_first_op_and_exits_1(capsys, recwarn):
    code, out, err = run(capsys, "train", "--limit", 200, "--epochs", 2, "--lr", 1e38, "--detect-anomaly")
    assert code == 1
    assert_one_line_error(err, "--detect-anomaly: in the forward pass of epoch 1, ", "contains Inf",
                          "lower --lr (now 1e+38)")
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]  # no NumPy overflow chatter


def test_train_divergence_without_detect_anomaly_suggests_it(capsys, recwarn):
    code, out, err = run(capsys, "train", "--limit", 200, "--epochs", 1, "--lr", 1e38)
    assert code == 1
    assert_one_line_error(err, "training loss became nan in epoch 1", "rerun with --detect-anomaly")
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_train_with_detect_anomaly_trains_normally(capsys, tmp_path):
    code, out, err = run(capsys, "train", "--limit", 300, "--epochs", 1, "--detect-anomaly", "--quiet")
    assert code == 0 and err == ""
    assert out.startswith("test accuracy ")

