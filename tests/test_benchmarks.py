"""The benchmarks measure what they claim: every contender of bench_train.py takes the same
training step from the same weights (so the ratios compare equal work, and the hand-written
baseline is a correct step, not just a fast one), and both scripts run end to end.

No timings are asserted. Contenders whose library is not installed (JAX, scikit-learn,
PyTorch: the ``bench`` and ``torch`` extras) are left out of the check, which names them.
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # profile_step imports bench_train by name
    spec.loader.exec_module(module)
    return module


bench = _load("bench_train")


def test_every_installed_contender_takes_the_same_step_as_the_baseline():
    """Run in a fresh interpreter: JAX, once imported, starts threads that make a later fork
    in this process unsafe (the interrupt tests fork)."""
    run = subprocess.run([sys.executable, str(BENCH_DIR / "bench_train.py"), "--check", "--no-pin"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "all contenders agree with the baseline" in run.stdout
    for name in ("numpy tight (baseline)", "engine nn+optim", "engine raw ops", "engine kernels only",
                 "numpy manual.backprop"):
        assert name in run.stdout.splitlines()[0]
    print(run.stdout)  # which optional contenders were installed, for the log


def test_the_same_step_check_names_a_contender_that_computes_something_else(monkeypatch):
    def make_wrong(sizes, activation, dtype, batch=None):
        step = bench.make_numpy_inline(sizes, activation, dtype, batch)
        inner = step

        def twice(xb, yb):  # two updates per batch: the learning rate doubled, in effect
            inner(xb, yb)
            inner(xb, yb)
        twice.params = inner.params
        return twice
    monkeypatch.setitem(bench.CONTENDERS, "wrong", make_wrong)
    failures = bench.check_same_step(["784-30-10"], [2], [bench.BASELINE, "engine nn+optim", "wrong"])
    assert failures and all("wrong" in f for f in failures)
    assert "784-30-10 B=2 wrong: layer 0 W differs" in failures[0]


def test_fixed_and_marginal_cost_recovers_a_straight_line():
    fixed, marginal = bench.fixed_and_marginal({1: 52.0, 10: 70.0, 100: 250.0, 1000: 2050.0})
    assert fixed == pytest.approx(50.0) and marginal == pytest.approx(2.0)
    assert bench.fixed_and_marginal({10: 70.0}) is None


def test_bench_train_runs_and_writes_its_table(tmp_path, capsys, monkeypatch):
    out = tmp_path / "r.json"
    monkeypatch.setenv("XLA_FLAGS", "")  # main() sets it for JAX: undone after the test
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    assert bench.main(["--nets", "784-30-10", "--batches", "1", "2", "--rounds", "1", "--max-steps", "3",
                       "--contenders", "engine nn+optim", "--json", str(out), "--no-pin"]) == 0
    if affinity is not None:
        assert os.sched_getaffinity(0) == affinity  # --no-pin left the test process alone
    printed = capsys.readouterr().out
    assert "numpy tight (baseline)" in printed and "us/sample" in printed
    results = json.loads(out.read_text())
    rows = {(r["batch"], r["contender"]): r for r in results["rows"]}
    assert rows[(2, bench.BASELINE)]["ratio"] == 1.0 and rows[(2, "engine nn+optim")]["us_per_step"] > 0
    assert {r["contender"] for r in results["fixed_and_marginal"]} == {bench.BASELINE, "engine nn+optim"}


def test_profile_step_runs_with_a_before_column(capsys):
    profile = _load("profile_step")
    here = Path(__file__).resolve().parents[1]  # this checkout stands in for an older one
    assert profile.main(["--batch", "2", "--rounds", "1", "--calls", "2", "--before", str(here)]) == 0
    printed = capsys.readouterr().out
    for row in ("linear forward", "loss forward + backward", "optimizer step", "whole step",
                "graph, modules, optimizer loop"):
        assert row in printed
    assert "engine before" in printed
