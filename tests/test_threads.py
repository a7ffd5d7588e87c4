"""BLAS threads: the policy (one thread for an MLP's small products), the threads= override of
fit/evaluate/predict and --threads, and that the limit is really in force while they run
(read back through threadpoolctl) and lifted afterwards. No timings here: the load benchmark
is benchmarks/bench_threads_load.py."""
from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from tinygrad_mnist import cli, threads
from tinygrad_mnist.data import load_bundled_sample
from tinygrad_mnist.nn import MLP, Linear, Module, Sequential, Sigmoid
from tinygrad_mnist.train import evaluate, fit, predict

BLAS = [i for i in threadpool_info() if i["user_api"] == "blas"]
needs_blas = pytest.mark.skipif(not BLAS, reason="NumPy's BLAS is not visible to threadpoolctl here")


def blas_threads() -> int:
    return min(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


@pytest.fixture(scope="module")
def sample():
    return load_bundled_sample()


def test_policy_is_one_thread_for_mlps_and_all_cores_for_huge_products(monkeypatch):
    assert threads.policy(MLP([784, 30, 10]), 10) == 1
    assert threads.policy(MLP([784, 128, 128, 10]), 1000) == 1  # evaluation batches too
    monkeypatch.setattr(threads, "available", lambda: 7)
    huge = Sequential(Linear(4096, 4096, rng=0))  # 2 * 100 * 4096**2 = 3.4 GFLOP per product
    assert threads.policy(huge, 100) == 7
    assert threads.policy(huge, 10) == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, 1025, 10 ** 23])
def test_resolve_refuses_what_is_not_a_thread_count(bad):
    with pytest.raises(ValueError, match="threads: expected an integer from 1 to 1024"):
        threads.resolve(bad, MLP([4, 2]), 10)


@needs_blas
def test_limit_applies_and_restores():
    with threadpool_limits(2, user_api="blas"):
        with threads.limit(1):
            assert blas_threads() == 1
        assert blas_threads() == 2


class ThreadProbe(Module):
    """Passes x through and notes the BLAS thread count in force at every forward."""

    def __init__(self):
        self.seen = []

    def forward(self, x):
        self.seen.append(blas_threads())
        return x


@needs_blas
@pytest.mark.parametrize("given, expected", [(None, 1), (2, 2)])
def test_fit_evaluate_and_predict_run_under_the_limit(sample, given, expected):
    probe = ThreadProbe()
    model = Sequential(Linear(784, 16, rng=0), Sigmoid(), Linear(16, 10, rng=1), probe)
    X, y = sample.X_train[:200], sample.y_train[:200]
    with threadpool_limits(3, user_api="blas"):
        fit(model, X, y, X[:50], y[:50], epochs=1, lr=0.5, threads=given)
        evaluate(model, X, y, threads=given)
        predict(model, X, threads=given)
        assert blas_threads() == 3  # lifted afterwards
    assert len(probe.seen) > 20 and set(probe.seen) == {expected}


def test_equal_seeds_and_thread_counts_give_equal_runs(sample):
    runs = []
    for _ in range(2):
        model = MLP([784, 32, 10], seed=1)
        h = fit(model, sample.X_train[:500], sample.y_train[:500], epochs=1, lr=0.5, seed=1, threads=1)
        runs.append((h[-1]["train_loss"], model.state_dict()))
    assert runs[0][0] == runs[1][0]
    for key in runs[0][1]:
        np.testing.assert_array_equal(runs[0][1][key], runs[1][1][key])


def test_cli_says_and_takes_the_thread_count(capsys):
    assert cli.main(["train", "--limit", "100", "--epochs", "1"]) == 0
    assert "100 training / 100 test images, 1 BLAS thread\n" in capsys.readouterr().out
    assert cli.main(["train", "--limit", "100", "--epochs", "1", "--threads", "2"]) == 0
    assert ", 2 BLAS threads\n" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["train", "--threads", "0"])
    assert "argument --threads: expected a positive integer, got 0" in capsys.readouterr().err
    assert cli.main(["train", "--threads", "99999999999999999999999"]) == 2
    assert "error: threads: expected an integer from 1 to 1024" in capsys.readouterr().err
