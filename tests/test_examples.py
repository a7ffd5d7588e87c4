"""Smoke tests for examples/: each script's main() runs in-process on a tiny budget (the
numbers in the README come from full runs, not from here)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_covered():
    assert {p.stem for p in EXAMPLES.glob("*.py")} == {
        "nielsen_784_30_10", "stackoverflow_784_30_10", "deep_784_128_128_10", "six_hidden_50", "xor_3_4_1",
        "lenet"}


def test_xor_learns_the_four_samples(capsys):
    assert load("xor_3_4_1").main(["--epochs", "3000", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "reached 4 / 4 correct" in out and out.count("input [") == 4


@pytest.mark.parametrize("name", ["nielsen_784_30_10", "deep_784_128_128_10", "six_hidden_50"])
def test_mnist_examples_run_quick(capsys, name):
    assert load(name).main(["--quick"]) == 0
    assert "test accuracy after 1 epoch " in capsys.readouterr().out


def test_stackoverflow_example_plots_or_says_why_not(capsys, tmp_path):
    curve = tmp_path / "cost.png"
    assert load("stackoverflow_784_30_10").main(["--quick", "--plot", str(curve)]) == 0
    out = capsys.readouterr().out
    assert "test accuracy after 1 epoch " in out
    assert curve.exists() or "plot skipped" in out


def test_lenet_learns_from_2000_shifted_digits_in_one_epoch(capsys, tmp_path):
    """A deliberately loose bar: README's 98.5%+ comes from the full 12-epoch run."""
    assert load("lenet").main(["--quick", "--save", str(tmp_path / "lenet.npz")]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("reached ")[1].split("%")[0])
    assert accuracy > 80.0, out
    assert "test accuracy after 1 epoch " in out and (tmp_path / "lenet.npz").exists()
