"""predict's accuracy on drawings and photos of real digits, kind by kind, on more digits than
the tests use (tests/photo_kinds.py makes the pictures; tests/test_photos.py asserts on 100).

Trains the default model as `tinygrad-mnist train` does (every default, the bundled sample),
draws each of the first N official test digits as every kind of picture, reads them back
through `digits.load_digit` (what `predict` runs), and prints per kind: the accuracy, the
accuracy of the same model on the same digits as MNIST images, and the share of the digits
read right as MNIST that are still read right as pictures.

    python benchmarks/photos_accuracy.py            # N = 1000
    python benchmarks/photos_accuracy.py --n 300
Never collected by pytest.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # photo_kinds lives with the tests that use it

from photo_kinds import KINDS, make  # noqa: E402

from tinygrad_mnist import cli, load  # noqa: E402
from tinygrad_mnist.data import load_bundled_sample  # noqa: E402
from tinygrad_mnist.digits import load_digit  # noqa: E402
from tinygrad_mnist.train import predict  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="how many test digits, from the first (default 1000)")
    args = parser.parse_args(argv)
    sample = load_bundled_sample()
    X, y = sample.X_test[:args.n].reshape(-1, 28, 28), sample.y_test[:args.n]
    with tempfile.TemporaryDirectory() as tmp:
        model_path = Path(tmp) / "default.npz"
        os.environ["TINYGRAD_MNIST_HOME"] = str(Path(tmp) / "cache")  # empty: the bundled sample, as in CI
        if cli.main(["train", "--save", str(model_path), "--quiet"]) != 0:
            return 1
        model = load(model_path)
        mnist = predict(model, X.reshape(len(X), 784))
        right = mnist == y
        print(f"# the default model on the first {len(X)} official test digits as MNIST images: "
              f"{100 * right.mean():.2f}%")
        print("| kind | file | accuracy | on the same digits as MNIST | kept (of those read right as MNIST) | ms per picture |")
        print("| --- | --- | --- | --- | --- | --- |")
        overall = []
        for kind, (_, ext) in KINDS.items():
            path = Path(tmp) / f"picture.{ext}"
            inputs, seconds = [], 0.0
            for i in range(len(X)):
                path.write_bytes(make(kind, X[i], seed=i))
                start = time.perf_counter()
                inputs.append(load_digit(path))
                seconds += time.perf_counter() - start
            got = predict(model, np.stack(inputs))
            acc, kept = (got == y).mean(), (got[right] == y[right]).mean()
            overall.append(acc)
            print(f"| {kind} | {ext} | {100 * acc:.2f}% | {100 * right.mean():.2f}% | {100 * kept:.2f}% | "
                  f"{1000 * seconds / len(X):.1f} |", flush=True)
        print(f"# all kinds together: {100 * np.mean(overall):.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
