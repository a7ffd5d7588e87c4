"""Where one MLP training step spends its time: microseconds per component, the engine's op
kernels against the same maths written by hand in NumPy (``bench_train.make_numpy_inline``).

Each component is timed alone, called repeatedly on the arrays of one real step (784-30-10,
float32, real digits), contenders taking turns within every round; medians over the rounds.
"graph, modules, optimizer loop" is the whole engine step minus its kernels: Tensor.apply,
the walk, Module calls, the Python around the updates. ``--before DIR`` adds a column for the
engine of an older checkout (DIR holds its ``tinygrad_mnist`` folder, e.g. from
``git archive <commit> tinygrad_mnist | tar -x -C DIR``), loaded in the same process under
another name, so before and after are measured side by side.

    python benchmarks/profile_step.py --batch 10
    python benchmarks/profile_step.py --batch 10 --before /tmp/old
Not collected by pytest; nothing here asserts a time.
"""
from __future__ import annotations

import argparse
import importlib
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_train  # noqa: E402  (the hand-written step and the shared settings)
import tinygrad_mnist  # noqa: E402
from tinygrad_mnist import threads  # noqa: E402
from tinygrad_mnist.data import load_bundled_sample  # noqa: E402

LR = bench_train.LR


def load_before(folder: str):
    """The ``tinygrad_mnist`` package in ``folder``, imported as ``tinygrad_mnist_before``
    (its imports inside the package are relative, so a renamed copy imports itself)."""
    tmp = tempfile.mkdtemp(prefix="profile_before_")
    shutil.copytree(os.path.join(folder, "tinygrad_mnist"), os.path.join(tmp, "tinygrad_mnist_before"))
    sys.path.insert(0, tmp)
    return importlib.import_module("tinygrad_mnist_before")


def engine_components(pkg, sizes, activation, xb, yb):
    """{component: zero-argument callable} for one engine (package ``pkg``): each op kernel
    called on the arrays of one step, the optimizer step, and the whole step."""
    ops, optim, nn = (importlib.import_module(f"{pkg.__name__}.{m}") for m in ("ops", "optim", "nn"))
    model = nn.MLP(sizes, activation=activation, seed=0, dtype=np.float32)
    act = getattr(ops, activation)
    Ws = [lin.weight.data.view(np.ndarray) for lin in model.linears]
    bs = [lin.bias.data.view(np.ndarray) for lin in model.linears]
    acts, pre, lin_vjps, act_vjps = [xb], [], [], []
    for i, (W, b) in enumerate(zip(Ws, bs)):
        z, v = ops.linear(acts[-1], W, b)
        lin_vjps.append(v)
        if i < len(Ws) - 1:
            pre.append(z)
            z, (va,) = act(z)
            act_vjps.append(va)
        acts.append(z)
    logits = acts[-1]
    _, (loss_vjp, _) = ops.softmax_cross_entropy(logits, yb)
    one = np.asarray(1.0, np.float32)
    delta = loss_vjp(one)
    deltas = [delta]  # dL/dz of every layer, last first
    for i in range(len(Ws) - 1, 0, -1):
        deltas.append(act_vjps[i - 1](lin_vjps[i][0](deltas[-1])))
    deltas.reverse()
    opt = optim.SGD(model.parameters(), lr=LR)
    for lin, (_, vjp_W, vjp_b), delta in zip(model.linears, lin_vjps, deltas):
        lin.weight.grad, lin.bias.grad = vjp_W(delta), vjp_b(delta)
    step_model = nn.MLP(sizes, activation=activation, seed=0, dtype=np.float32)
    step_opt = optim.SGD(step_model.parameters(), lr=LR)

    def whole():
        step_opt.zero_grad()
        step_model(xb).softmax_cross_entropy(yb).backward()
        step_opt.step()

    n = len(Ws)
    return {
        "linear forward": lambda: [ops.linear(acts[i], Ws[i], bs[i]) for i in range(n)],
        "activation forward": lambda: [act(pre[i]) for i in range(n - 1)],
        "loss forward + backward": lambda: ops.softmax_cross_entropy(logits, yb)[1][0](one),
        "weight gradients": lambda: [lin_vjps[i][1](deltas[i]) for i in range(n)],
        "bias gradients": lambda: [lin_vjps[i][2](deltas[i]) for i in range(n)],
        "input gradients": lambda: [lin_vjps[i][0](deltas[i]) for i in range(1, n)],
        "activation backward": lambda: [act_vjps[i](deltas[i]) for i in range(n - 1)],
        "optimizer step": opt.step,
        "whole step": whole,
    }


def hand_components(sizes, activation, xb, yb):
    """{component: callable} for the hand-written step: the same maths as
    ``bench_train.make_numpy_inline``, split where the engine's components split."""
    weights, biases = bench_train.initial_params(sizes, np.float32, activation=activation)
    n = len(weights)
    acts = [xb]
    for i, (W, b) in enumerate(zip(weights, biases)):
        z = acts[-1] @ W.T
        z += b
        if i < n - 1:
            z = bench_train.ACTIVATIONS[activation][0](z)
        acts.append(z)
    B = len(yb)
    rows = np.arange(B)
    buf = acts[-1].copy()

    def loss():
        z = buf
        np.copyto(z, acts[-1])
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True) * B
        z[rows, yb] -= 1.0 / B
        return z

    delta = loss().copy()
    deltas = [delta]
    for i in range(n - 1, 0, -1):
        d = deltas[-1] @ weights[i]
        bench_train.ACTIVATIONS[activation][1](d, acts[i])
        deltas.append(d)
    deltas.reverse()
    pre = [a.copy() for a in acts[1:n]]
    fwd_act = bench_train.ACTIVATIONS[activation][0]
    bwd_act = bench_train.ACTIVATIONS[activation][1]
    grads = [(bench_train.weight_gradient(deltas[i], acts[i]), deltas[i].sum(axis=0)) for i in range(n)]
    scratch = [d.copy() for d in deltas]

    def act_backward():
        for i in range(n - 1):  # in place, so the delta is restored first (a copy of B x n floats)
            np.copyto(scratch[i], deltas[i])
            bwd_act(scratch[i], acts[i + 1])
    step = bench_train.make_numpy_inline(sizes, activation, np.float32)
    return {
        "linear forward": lambda: [bench_train.dense(acts[i], weights[i], biases[i]) for i in range(n)],
        "activation forward": lambda: [fwd_act(pre[i]) for i in range(n - 1)],
        "loss forward + backward": loss,
        "weight gradients": lambda: [bench_train.weight_gradient(deltas[i], acts[i]) for i in range(n)],
        "bias gradients": lambda: [deltas[i].sum(axis=0) for i in range(n)],
        "input gradients": lambda: [deltas[i] @ weights[i] for i in range(1, n)],
        "activation backward": act_backward,
        # lr 1: the same arithmetic, but repeating it does not shrink the gradients it scales in
        # place into subnormal numbers (whose arithmetic is many times slower)
        "optimizer step": lambda: bench_train.sgd_update(weights, biases, grads, lr=1.0),
        "whole step": lambda: step(xb, yb),
    }


def time_all(contenders: dict, rounds: int, calls: int) -> dict:
    """{(contender, component): [us per call, one per round]}, contenders interleaved per component."""
    out = {}
    components = list(next(iter(contenders.values())))
    names = list(contenders)
    for r in range(rounds):
        for comp in components:
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                fn = contenders[name][comp]
                fn()
                t0 = time.perf_counter()
                for _ in range(calls):
                    fn()
                out.setdefault((name, comp), []).append((time.perf_counter() - t0) / calls * 1e6)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--net", choices=sorted(bench_train.NETWORKS), default="784-30-10")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200, help="calls of a component per turn")
    parser.add_argument("--before", metavar="DIR", default=None,
                        help="also profile the engine in DIR/tinygrad_mnist (an older checkout)")
    args = parser.parse_args(argv)
    sizes, activation = bench_train.NETWORKS[args.net]
    data = load_bundled_sample()
    xb = np.ascontiguousarray(data.X_train[:args.batch], dtype=np.float32)
    yb = data.y_train[:args.batch]
    with threads.limit(1):
        contenders = {"hand NumPy": hand_components(sizes, activation, xb, yb)}
        if args.before:
            contenders["engine before"] = engine_components(load_before(args.before), sizes, activation, xb, yb)
        contenders["engine"] = engine_components(tinygrad_mnist, sizes, activation, xb, yb)
        times = time_all(contenders, args.rounds, args.calls)
    label = args.net if activation in args.net else f"{args.net} {activation}"
    print(f"# {label}, float32, batch {args.batch}, one BLAS thread; NumPy {np.__version__}; "
          f"median us per step over {args.rounds} rounds of {args.calls} calls (min-max)")
    names = list(contenders)
    header = f"{'component':<34}" + "".join(f"{n:>22}" for n in names)
    print(header)
    print("-" * len(header))
    medians = {k: statistics.median(v) for k, v in times.items()}
    components = list(contenders["hand NumPy"])
    for comp in components + ["graph, modules, optimizer loop"]:
        cells = []
        for name in names:
            if comp == "graph, modules, optimizer loop":
                rest = medians[(name, "whole step")] - sum(medians[(name, c)] for c in components[:-1])
                cells.append(f"{rest:>22.1f}")
                continue
            ts = times[(name, comp)]
            cells.append(f"{medians[(name, comp)]:>9.1f} ({min(ts):.0f}-{max(ts):.0f})".rjust(22))
        print(f"{comp:<34}" + "".join(cells))
    base = medians[("hand NumPy", "whole step")]
    print("# whole step / hand step: " + ", ".join(f"{n} {medians[(n, 'whole step')] / base:.2f}x" for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
