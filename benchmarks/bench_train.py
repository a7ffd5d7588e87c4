"""Training-step speed of the engine against hand-written NumPy, the textbook loop and PyTorch.

One process; contenders interleaved round by round (this machine is noisy), each round one
epoch over the real 10k MNIST training digits (the bundled sample); medians of the rounds and
ratios to the hand-written vectorized NumPy baseline (``tinygrad_mnist.manual``) of the same
configuration. Also: evaluation throughput under no_grad, the time to read 60k IDX images
(Fashion-MNIST, when installed), and memory across epochs of a full training run.

    python benchmarks/bench_train.py --quick            # under a minute
    python benchmarks/bench_train.py --json out.json    # the full table, also as JSON
Not collected by pytest (no test_ prefix); nothing here asserts a time.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc

import numpy as np

from tinygrad_mnist import Tensor, manual, no_grad, threads
from tinygrad_mnist.data import load_bundled_sample, read_idx
from tinygrad_mnist.nn import MLP
from tinygrad_mnist.optim import SGD

NETWORKS = {
    "784-30-10": [784, 30, 10],
    "784-100-10": [784, 100, 10],
    "784-128-128-10": [784, 128, 128, 10],
    "784-6x50-10": [784] + [50] * 6 + [10],
}
LR = 0.1


def initial_params(sizes, dtype, seed=0):
    """Identical starting weights for every contender: W (n_out, n_in), b (n_out,)."""
    model = MLP(sizes, seed=seed, dtype=dtype)
    return [lin.weight.data.copy() for lin in model.linears], [lin.bias.data.copy() for lin in model.linears]


# ---------------------------------------------------------------- contenders: make(sizes, dtype) -> step(xb, yb)
def make_numpy(sizes, dtype):
    """The baseline: hand-written vectorized backprop (manual.backprop) + in-place SGD."""
    weights, biases = initial_params(sizes, dtype)

    def step(xb, yb):
        nabla_w, nabla_b = manual.backprop(weights, biases, xb, yb, cost="cross_entropy")
        manual.sgd_step(weights, biases, nabla_w, nabla_b, LR)
    return step


def make_numpy_inline(sizes, dtype):
    """The leanest hand-written step (no shape checks, no function calls): how low NumPy goes."""
    weights, biases = initial_params(sizes, dtype)
    last = len(weights) - 1

    def step(xb, yb):
        acts = [xb]
        for i, (W, b) in enumerate(zip(weights, biases)):
            z = acts[-1] @ W.T
            z += b
            if i < last:
                np.negative(z, out=z)
                np.exp(z, out=z)
                z += 1.0
                np.reciprocal(z, out=z)
            acts.append(z)
        z = acts[-1]
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        z[np.arange(len(yb)), yb] -= 1.0
        delta = z / len(yb)
        for i in range(last, -1, -1):
            a = acts[i]
            gW, gb = delta.T @ a, delta.sum(axis=0)
            if i > 0:
                delta = delta @ weights[i]
                delta *= a * (1.0 - a)
            weights[i] -= LR * gW
            biases[i] -= LR * gb
    return step


def make_textbook_loop(sizes, dtype):
    """Nielsen's per-sample loop (manual.backprop_loop) + SGD: one backprop per digit."""
    weights, biases = initial_params(sizes, dtype)
    columns = [b[:, None].copy() for b in biases]

    def step(xb, yb):
        nabla_w, nabla_b = manual.backprop_loop(weights, columns, xb, yb, cost="cross_entropy")
        for W, b, gw, gb in zip(weights, columns, nabla_w, nabla_b):
            W -= LR * gw
            b -= LR * gb
    return step


def make_engine_nn(sizes, dtype):
    """What users run: nn.MLP + optim.SGD + softmax_cross_entropy + backward."""
    model = MLP(sizes, seed=0, dtype=dtype)
    opt = SGD(model.parameters(), lr=LR)

    def step(xb, yb):
        opt.zero_grad()
        model(xb).softmax_cross_entropy(yb).backward()
        opt.step()
    return step


def make_engine_raw(sizes, dtype):
    """Raw Tensor ops: x @ W.T + b, .sigmoid(), .softmax_cross_entropy(y), a hand-written SGD update."""
    weights, biases = initial_params(sizes, dtype)
    Ws = [Tensor(W, requires_grad=True) for W in weights]
    bs = [Tensor(b, requires_grad=True) for b in biases]
    params = Ws + bs

    def step(xb, yb):
        a = Tensor(xb)
        for i, (W, b) in enumerate(zip(Ws, bs)):
            z = a @ W.T + b
            a = z if i == len(Ws) - 1 else z.sigmoid()
        a.softmax_cross_entropy(yb).backward()
        for p in params:
            p.data -= LR * p.grad
            p.grad = None
    return step


def make_torch(sizes, dtype):
    """PyTorch eager: nn.Linear/Sigmoid, F.cross_entropy, torch.optim.SGD."""
    import torch
    weights, biases = initial_params(sizes, dtype)
    layers = []
    for i, (W, b) in enumerate(zip(weights, biases)):
        lin = torch.nn.Linear(W.shape[1], W.shape[0], dtype=getattr(torch, np.dtype(dtype).name))
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        layers += [lin] if i == len(weights) - 1 else [lin, torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=LR)

    def step(xb, yb):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(torch.from_numpy(xb)), torch.from_numpy(yb)).backward()
        opt.step()
    return step


CONTENDERS = {
    "numpy (baseline)": make_numpy,
    "numpy inline": make_numpy_inline,
    "engine nn+optim": make_engine_nn,
    "engine raw ops": make_engine_raw,
    "textbook loop": make_textbook_loop,
    "pytorch eager": make_torch,
}


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def epoch_batches(X, y, batch, rng):
    """One shuffled epoch as a list of contiguous (xb, yb) batches, gathered before timing."""
    order = rng.permutation(len(X))
    return [(np.ascontiguousarray(X[order[i:i + batch]]), y[order[i:i + batch]]) for i in range(0, len(X), batch)]


def time_training(X, y, configs, contenders, rounds, rng, chunk=50):
    """{(net, batch, dtype, contender): [seconds per step, one per round]}.

    Each round is one epoch per contender. Contenders take turns every ``chunk`` steps (in an
    order that rotates), so a burst of load from elsewhere hits them all alike instead of
    spoiling one contender's whole epoch.
    """
    times = {}
    steps = {}
    for key in configs:
        net, batch, dtype = key
        for name in contenders:
            steps[key + (name,)] = CONTENDERS[name](NETWORKS[net], dtype)
    data = {dt: X.astype(dt) for dt in {k[2] for k in configs}}
    for r in range(rounds):
        for key in configs:
            net, batch, dtype = key
            batches = epoch_batches(data[dtype], y, batch, rng)
            total = dict.fromkeys(contenders, 0.0)
            gc.collect()
            for c, start in enumerate(range(0, len(batches), chunk)):
                part = batches[start:start + chunk]
                shift = (r + c) % len(contenders)
                for name in contenders[shift:] + contenders[:shift]:
                    step = steps[key + (name,)]
                    t0 = time.perf_counter()
                    for xb, yb in part:
                        step(xb, yb)
                    total[name] += time.perf_counter() - t0
            for name in contenders:
                times.setdefault(key + (name,), []).append(total[name] / len(batches))
    return times


def eval_throughput(X, rounds):
    """Samples/s of a forward pass over X under no_grad (batches of 1000), engine vs manual.forward."""
    out = {}
    model = MLP(NETWORKS["784-30-10"], seed=0)
    weights = [lin.weight.data for lin in model.linears]
    biases = [lin.bias.data for lin in model.linears]
    runs = {
        "engine no_grad": lambda xb: model(xb),
        "numpy manual.forward": lambda xb: manual.forward(weights, biases, xb, cost="cross_entropy"),
    }
    for _ in range(rounds):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            with no_grad():
                for i in range(0, len(X), 1000):
                    fn(X[i:i + 1000])
            out.setdefault(name, []).append(len(X) / (time.perf_counter() - t0))
    return {k: statistics.median(v) for k, v in out.items()}


def fashion_load_seconds():
    """Seconds to read the 60k Fashion-MNIST training images (IDX gzip), or None if not installed."""
    folder = "/usr/share/datasets/fashion-mnist"
    names = [n for n in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte") if os.path.exists(os.path.join(folder, n))]
    if not names:
        return None
    t0 = time.perf_counter()
    images = read_idx(os.path.join(folder, names[0]))
    seconds = time.perf_counter() - t0
    assert images.shape[0] == 60000, images.shape
    return seconds


def memory_over_epochs(X, y, epochs, batch=10):
    """Traced memory (MB) after each epoch of engine training, and the peak: growth means a leak."""
    model = MLP(NETWORKS["784-30-10"], seed=0)
    opt = SGD(model.parameters(), lr=LR)
    rng = np.random.default_rng(0)
    tracemalloc.start()
    after = []
    for _ in range(epochs):
        for xb, yb in epoch_batches(X, y, batch, rng):
            opt.zero_grad()
            model(xb).softmax_cross_entropy(yb).backward()
            opt.step()
        gc.collect()
        after.append(tracemalloc.get_traced_memory()[0] / 1e6)
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return after, peak


def blas_threads() -> str:
    from threadpoolctl import threadpool_info
    return ", ".join(f"{i['internal_api']} {i['num_threads']} threads" for i in threadpool_info()
                     if i["user_api"] == "blas")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="784-30-10 only, batch 10 and 100, float32, no textbook loop")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per configuration (default 5, quick 5)")
    parser.add_argument("--json", type=str, default=None, help="also write the results to this JSON file")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if it is installed")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="BLAS threads for NumPy and PyTorch alike (default: the package's policy, "
                             "tinygrad_mnist.threads, which gives 1 for these networks; 0 leaves the "
                             "libraries' own choice)")
    args = parser.parse_args(argv)
    # The package's thread policy (the one fit and the CLI use), unless told otherwise: on 2 cores
    # OpenBLAS's and PyTorch's spinning worker threads fight each other in one process, and a
    # threaded OpenBLAS under load from another process made a batch-100 step 50x slower.
    n = args.blas_threads
    if n is None:
        n = max(threads.policy(MLP(sizes), 100) for sizes in NETWORKS.values())
    with contextlib.nullcontext() if n == 0 else threads.limit(n):
        return _main(args, n)


def _main(args, n_threads: int) -> int:
    ds = load_bundled_sample()  # the same real 10k digits on every machine, cached MNIST or not
    X, y, X_test = ds.X_train, ds.y_train, ds.X_test
    contenders = [c for c in CONTENDERS if c != "pytorch eager" or (torch_available() and not args.no_torch)]
    if args.quick:
        configs = [("784-30-10", b, np.float32) for b in (10, 100)]
        contenders = [c for c in contenders if c != "textbook loop"]
    else:
        configs = [(net, b, dt) for net in NETWORKS for b in (1, 10, 100) for dt in (np.float32, np.float64)]
    rounds = args.rounds or 5
    rng = np.random.default_rng(0)

    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"NumPy {np.__version__}, BLAS: {blas_threads()}")
    if "pytorch eager" not in contenders:
        print("# pytorch eager: skipped (torch not importable or --no-torch)")
    else:
        import torch
        if n_threads:
            torch.set_num_threads(n_threads)  # the same budget as NumPy's BLAS
        print(f"# pytorch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"# {len(X)} real MNIST training digits per round, {rounds} rounds, interleaved; medians")
    times = time_training(X, y, configs, contenders, rounds, rng)

    rows = []
    header = f"{'network':<16}{'batch':>6} {'dtype':<8} {'contender':<18}{'us/step':>10}{'samples/s':>12}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    for key in configs:
        net, batch, dtype = key
        base = statistics.median(times[key + ("numpy (baseline)",)])
        for name in contenders:
            t = statistics.median(times[key + (name,)])
            row = {"network": net, "batch": batch, "dtype": np.dtype(dtype).name, "contender": name,
                   "us_per_step": t * 1e6, "samples_per_s": batch / t, "ratio": t / base}
            rows.append(row)
            print(f"{net:<16}{batch:>6} {row['dtype']:<8} {name:<18}{t * 1e6:>10.1f}{batch / t:>12,.0f}{t / base:>8.2f}")

    extras = {"eval_samples_per_s": eval_throughput(X_test, rounds)}
    for name, rate in extras["eval_samples_per_s"].items():
        print(f"# eval 784-30-10 over {len(X_test)} test digits, {name}: {rate:,.0f} samples/s")
    extras["fashion_60k_load_s"] = fashion_load_seconds()
    print("# read 60k Fashion-MNIST IDX images: " + (f"{extras['fashion_60k_load_s']:.2f} s"
          if extras["fashion_60k_load_s"] is not None else "skipped (apt-get install dataset-fashion-mnist)"))
    epochs = 2 if args.quick else 5
    after, peak = memory_over_epochs(X, y, epochs)
    extras["traced_mb_after_each_epoch"], extras["traced_peak_mb"] = after, peak
    print(f"# memory (tracemalloc) after each of {epochs} epochs, MB: "
          + ", ".join(f"{m:.2f}" for m in after) + f"; peak {peak:.2f} MB")
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"rows": rows, **extras}, f, indent=1)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
