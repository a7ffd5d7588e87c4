"""Training-step speed of the engine against the tightest hand-written NumPy step, JAX's
compiled step, PyTorch eager, scikit-learn and the textbook loop.

One process; contenders interleaved (this machine is noisy): each round is one shuffled epoch
over the real 10k MNIST training digits (at most 2,000 steps at batch 1), the contenders taking
turns every 50 steps; medians of the rounds and ratios to the baseline, ``make_numpy_inline``,
the tightest step we can write. With one BLAS thread the process is pinned to one core, so every
contender (XLA's threads included) has the same budget. Then each contender's fixed cost per
step and cost per sample, fitted over the batch sizes. Optional contenders (JAX, scikit-learn:
``pip install -e ".[bench]"``; PyTorch) run when installed. ``--check`` proves all contenders
take the same step before anyone times them. ``--quick`` and ``--full`` add evaluation
throughput under no_grad, the time to read 60k IDX images (Fashion-MNIST, when installed), and
memory across epochs of a training run.

The conv section (``--only conv``, and part of ``--full``): one LeNet-5 training step
(``arch.PRESETS["lenet"]``: forward, softmax cross-entropy, backward, SGD) at batch 1, 32 and
128, the engine against PyTorch eager with the same starting weights and the same thread
budget, interleaved; conv2d's forward alone at LeNet's two convolutions; and the memory of one
batch-128 step (peak RSS growth and tracemalloc's peak) against the size of the activations
the step records.

    python benchmarks/bench_train.py                    # the lean-kernel table (issue 14)
    python benchmarks/bench_train.py --check            # every contender takes the same step?
    python benchmarks/bench_train.py --quick            # under a minute
    python benchmarks/bench_train.py --full --json out.json   # every network, float32 and float64
    python benchmarks/bench_train.py --only conv --blas-threads 1   # the conv section alone
Not collected by pytest (no test_ prefix); nothing here asserts a time.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc

import numpy as np

from tinygrad_mnist import Tensor, manual, no_grad, ops, threads
from tinygrad_mnist.arch import build_arch
from tinygrad_mnist.data import load_bundled_sample, read_idx
from tinygrad_mnist.files import atomic_file
from tinygrad_mnist.nn import MLP
from tinygrad_mnist.optim import SGD

NETWORKS = {  # name: (layer sizes, hidden activation); the output layer gives logits
    "784-30-10": ([784, 30, 10], "sigmoid"),
    "784-100-10": ([784, 100, 10], "sigmoid"),
    "784-128-128-10": ([784, 128, 128, 10], "sigmoid"),
    "784-6x50-10": ([784] + [50] * 6 + [10], "sigmoid"),
    "784-100-10/relu": ([784, 100, 10], "relu"),
    "784-512-512-10/relu": ([784, 512, 512, 10], "relu"),
}
LEAN_NETS = ("784-30-10", "784-100-10/relu", "784-512-512-10/relu")  # the default table
LR = 0.1
THREADS = None  # BLAS and PyTorch threads for this run: main() sets it from --blas-threads or the policy
COMPILE_SECONDS = {}  # (network, batch, dtype name): JAX's first call (trace + compile), timed apart


def initial_params(sizes, dtype, seed=0, activation="sigmoid"):
    """Identical starting weights for every contender: W (n_out, n_in), b (n_out,)."""
    model = MLP(sizes, activation=activation, seed=seed, dtype=dtype)
    # np.array, not .copy(): a parameter's data is a TrackedArray, and a copy of it stays one,
    # whose Python-level ufunc dispatch would slow every contender that uses these arrays
    return [np.array(lin.weight.data) for lin in model.linears], [np.array(lin.bias.data) for lin in model.linears]


# ---------------------------------------------------------------- the tightest hand-written step, in parts
def sigmoid_(z):
    """z <- 1 / (1 + exp(-z)) in place (four ufunc calls, no temporaries); returns z."""
    np.negative(z, out=z)
    np.exp(z, out=z)
    z += 1.0
    np.reciprocal(z, out=z)
    return z


def sigmoid_back_(d, a):
    """d <- d * a * (1 - a) in place, a = sigmoid(z) (the layer's output)."""
    d *= a
    d -= d * a
    return d


def relu_(z):
    """z <- max(z, 0) in place."""
    return np.maximum(z, 0, out=z)


def relu_back_(d, a):
    """d <- d * (a > 0) in place, a = relu(z)."""
    return np.multiply(d, a > 0, out=d)


ACTIVATIONS = {"sigmoid": (sigmoid_, sigmoid_back_), "relu": (relu_, relu_back_)}


def dense(a, W, b):
    """z = a @ W.T + b, the bias added in place into the product's fresh buffer."""
    z = a @ W.T
    z += b
    return z


def weight_gradient(d, a):
    """dL/dW = d.T @ a (n_out, n_in); one sample is an outer product, which NumPy's broadcasting
    multiply does several times faster than matmul with an inner dimension of 1."""
    if len(d) == 1:
        return np.multiply(d.T, a)
    return d.T @ a


def sgd_update(weights, biases, grads, lr=LR):
    """W <- W - lr gW, b <- b - lr gb, scaling each fresh gradient in place (no temporaries)."""
    for W, b, (gW, gb) in zip(weights, biases, grads):
        gW *= lr
        W -= gW
        gb *= lr
        b -= gb


# ---------------------------------------------------------------- contenders: make(sizes, activation, dtype, batch) -> step(xb, yb)
# Every step also has step.params(): its current [(W (n_out, n_in), b (n_out,))] as arrays, so
# tests/test_benchmarks.py can check that all contenders compute the same update.
def make_numpy_inline(sizes, activation, dtype, batch=None):
    """The baseline: the tightest hand-written NumPy step we can write, the floor to measure
    against: in-place activations and softmax, no checks, no one-hot matrix, the outer
    product at batch 1, gradients scaled in place for the update."""
    weights, biases = initial_params(sizes, dtype, activation=activation)
    act, act_back = ACTIVATIONS[activation]
    last = len(weights) - 1
    rows = {}

    def step(xb, yb):
        acts = [xb]
        for i in range(last + 1):
            z = dense(acts[-1], weights[i], biases[i])
            acts.append(act(z) if i < last else z)
        z = acts[-1]
        B = len(yb)
        r = rows.get(B)
        if r is None:
            r = rows[B] = np.arange(B)
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True) * B
        z[r, yb] -= 1.0 / B
        delta, grads = z, [None] * (last + 1)  # delta = dL/dz = (softmax - onehot) / B
        for i in range(last, -1, -1):
            grads[i] = (weight_gradient(delta, acts[i]), delta.sum(axis=0))
            if i > 0:
                delta = act_back(delta @ weights[i], acts[i])
        sgd_update(weights, biases, grads)
    step.params = lambda: list(zip(weights, biases))
    return step


def make_numpy(sizes, activation, dtype, batch=None):
    """The package's NumPy reference: manual.backprop (shape checks, one function call) +
    manual.sgd_step. Sigmoid networks only (the reference's activation)."""
    weights, biases = initial_params(sizes, dtype)

    def step(xb, yb):
        nabla_w, nabla_b = manual.backprop(weights, biases, xb, yb, cost="cross_entropy")
        manual.sgd_step(weights, biases, nabla_w, nabla_b, LR)
    step.params = lambda: list(zip(weights, biases))
    return step


def make_textbook_loop(sizes, activation, dtype, batch=None):
    """Nielsen's per-sample loop (manual.backprop_loop) + SGD: one backprop per digit (sigmoid only)."""
    weights, biases = initial_params(sizes, dtype)
    columns = [b[:, None].copy() for b in biases]

    def step(xb, yb):
        nabla_w, nabla_b = manual.backprop_loop(weights, columns, xb, yb, cost="cross_entropy")
        for W, b, gw, gb in zip(weights, columns, nabla_w, nabla_b):
            W -= LR * gw
            b -= LR * gb
    step.params = lambda: [(W, b[:, 0]) for W, b in zip(weights, columns)]
    return step


def make_engine_nn(sizes, activation, dtype, batch=None):
    """What users run: nn.MLP + optim.SGD + softmax_cross_entropy + backward."""
    model = MLP(sizes, activation=activation, seed=0, dtype=dtype)
    opt = SGD(model.parameters(), lr=LR)

    def step(xb, yb):
        opt.zero_grad()
        model(xb).softmax_cross_entropy(yb).backward()
        opt.step()
    step.params = lambda: [(np.asarray(lin.weight.data), np.asarray(lin.bias.data)) for lin in model.linears]
    return step


def make_engine_raw(sizes, activation, dtype, batch=None):
    """Raw Tensor ops: x @ W.T + b, the activation, .softmax_cross_entropy(y), a hand-written SGD update."""
    weights, biases = initial_params(sizes, dtype, activation=activation)
    Ws = [Tensor(W, requires_grad=True) for W in weights]
    bs = [Tensor(b, requires_grad=True) for b in biases]
    params = Ws + bs

    def step(xb, yb):
        a = Tensor(xb)
        for i, (W, b) in enumerate(zip(Ws, bs)):
            z = a @ W.T + b
            a = z if i == len(Ws) - 1 else getattr(z, activation)()
        a.softmax_cross_entropy(yb).backward()
        for p in params:
            p.data -= LR * p.grad
            p.grad = None
    step.params = lambda: [(np.asarray(W.data), np.asarray(b.data)) for W, b in zip(Ws, bs)]
    return step


def make_engine_kernels(sizes, activation, dtype, batch=None):
    """The engine's own kernels (ops.linear, the activation, ops.softmax_cross_entropy, their
    VJPs, SGD's scratch update) called in sequence on plain arrays, with no Tensor, graph, walk
    or Module: what a captured, replayed step could cost at best. Not something users run."""
    weights, biases = initial_params(sizes, dtype, activation=activation)
    act = getattr(ops, activation)
    last = len(weights) - 1
    one, rate = ops.constant(1, np.dtype(dtype)), ops.constant(LR, np.dtype(dtype))
    scratch = [(np.empty_like(W), np.empty_like(b)) for W, b in zip(weights, biases)]

    def step(xb, yb):
        a, saved = xb, []
        for i, (W, b) in enumerate(zip(weights, biases)):
            a, lin = ops.linear(a, W, b)
            act_vjp = None
            if i < last:
                a, (act_vjp,) = act(a)
            saved.append((lin, act_vjp))
        _, (d_loss, _) = ops.softmax_cross_entropy(a, yb)
        g = d_loss(one)
        for i in range(last, -1, -1):
            (vjp_x, vjp_W, vjp_b), _ = saved[i]
            gW, gb = vjp_W(g), vjp_b(g)
            if i > 0:
                g = saved[i - 1][1](vjp_x(g))
            for p, grad, s in zip((weights[i], biases[i]), (gW, gb), scratch[i]):
                np.multiply(grad, rate, out=s)
                p -= s
    step.params = lambda: list(zip(weights, biases))
    return step


def make_torch(sizes, activation, dtype, batch=None):
    """PyTorch eager: nn.Linear/Sigmoid/ReLU, F.cross_entropy, torch.optim.SGD."""
    import torch
    weights, biases = initial_params(sizes, dtype, activation=activation)
    layers = []
    for i, (W, b) in enumerate(zip(weights, biases)):
        lin = torch.nn.Linear(W.shape[1], W.shape[0], dtype=getattr(torch, np.dtype(dtype).name))
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        act = torch.nn.Sigmoid() if activation == "sigmoid" else torch.nn.ReLU()
        layers += [lin] if i == len(weights) - 1 else [lin, act]
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=LR)

    def step(xb, yb):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(torch.from_numpy(xb)), torch.from_numpy(yb)).backward()
        opt.step()
    step.params = lambda: [(lin.weight.detach().numpy(), lin.bias.detach().numpy()) for lin in model if isinstance(lin, torch.nn.Linear)]
    return step


def make_jax(sizes, activation, dtype, batch=None):
    """JAX: jax.jit of the whole step (forward, jax.grad, the SGD update), parameters donated
    so XLA updates their buffers in place. The first call per shape traces and compiles; it is
    made here, timed into COMPILE_SECONDS, and not counted in the step's time. ``step.sync``
    waits for JAX's asynchronous dispatch (the timer calls it before it stops)."""
    import jax
    import jax.numpy as jnp
    weights, biases = initial_params(sizes, dtype, activation=activation)
    act = jax.nn.sigmoid if activation == "sigmoid" else jax.nn.relu
    last = len(weights) - 1

    def loss(params, x, y):
        a = x
        for i, (W, b) in enumerate(params):
            z = a @ W.T + b
            a = act(z) if i < last else z
        logp = jax.nn.log_softmax(a, axis=1)
        return -jnp.take_along_axis(logp, y[:, None], axis=1).mean()

    @functools.partial(jax.jit, donate_argnums=0)
    def update(params, x, y):
        grads = jax.grad(loss)(params, x, y)
        return jax.tree_util.tree_map(lambda p, g: p - LR * g, params, grads)

    state = [[(jnp.asarray(W), jnp.asarray(b)) for W, b in zip(weights, biases)]]

    def step(xb, yb):
        state[0] = update(state[0], xb, yb.astype(np.int32))

    def sync():
        jax.block_until_ready(state[0])
    step.sync = sync
    if batch is not None:
        t0 = time.perf_counter()
        step(np.zeros((batch, sizes[0]), dtype), np.zeros(batch, np.int64))
        sync()
        state[0] = [(jnp.asarray(W), jnp.asarray(b)) for W, b in zip(weights, biases)]
        step.compile_seconds = time.perf_counter() - t0
    step.params = lambda: [(np.asarray(W), np.asarray(b)) for W, b in state[0]]
    return step


def make_sklearn(sizes, activation, dtype, batch=None):
    """scikit-learn's MLPClassifier: one partial_fit per batch (solver 'sgd', constant lr, no
    momentum, no L2), started from the same weights (its coefs_ are W.T)."""
    from sklearn.neural_network import MLPClassifier
    weights, biases = initial_params(sizes, dtype, activation=activation)
    clf = MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), activation="logistic" if activation == "sigmoid" else "relu",
                        solver="sgd", learning_rate_init=LR, momentum=0.0, nesterovs_momentum=False, alpha=0.0,
                        batch_size=batch or 1, shuffle=False, random_state=0)
    classes = np.arange(sizes[-1])
    n = max(batch or 1, len(classes))  # at least one batch: a smaller first call warns
    clf.partial_fit(np.zeros((n, sizes[0]), dtype), np.resize(classes, n), classes=classes)  # builds its arrays
    clf.coefs_ = [W.T.copy() for W in weights]
    clf.intercepts_ = [b.copy() for b in biases]

    def step(xb, yb):
        clf.partial_fit(xb, yb)
    step.params = lambda: [(W.T, b) for W, b in zip(clf.coefs_, clf.intercepts_)]
    return step


CONTENDERS = {
    "numpy tight (baseline)": make_numpy_inline,
    "numpy manual.backprop": make_numpy,
    "engine nn+optim": make_engine_nn,
    "engine raw ops": make_engine_raw,
    "engine kernels only": make_engine_kernels,
    "textbook loop": make_textbook_loop,
    "pytorch eager": make_torch,
    "jax jit": make_jax,
    "scikit-learn": make_sklearn,
}
BASELINE = "numpy tight (baseline)"
SIGMOID_ONLY = ("numpy manual.backprop", "textbook loop")  # the manual reference's activation
OPTIONAL = {"pytorch eager": "torch", "jax jit": "jax", "scikit-learn": "sklearn"}  # contender: module


def available(module: str) -> bool:
    """True if ``module`` imports (an optional contender's library)."""
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def epoch_batches(X, y, batch, rng, max_steps=None):
    """One shuffled epoch (its first ``max_steps`` batches) as a list of contiguous (xb, yb)
    batches, gathered before timing."""
    order = rng.permutation(len(X))
    starts = range(0, len(X), batch)[:max_steps]
    return [(np.ascontiguousarray(X[order[i:i + batch]]), y[order[i:i + batch]]) for i in starts]


def contenders_for(net, contenders):
    """The contenders that can run ``net`` (the manual reference is sigmoid-only)."""
    return [c for c in contenders if NETWORKS[net][1] == "sigmoid" or c not in SIGMOID_ONLY]


def time_training(X, y, configs, contenders, rounds, rng, chunk=50, max_steps=None):
    """{(net, batch, dtype, contender): [seconds per step, one per round]}.

    Each round is one epoch (at most ``max_steps`` batches of it) per contender. Contenders
    take turns every ``chunk`` steps (in an order that rotates), so a burst of load from
    elsewhere hits them all alike instead of spoiling one contender's whole epoch.
    """
    times = {}
    steps = {}
    for key in configs:
        net, batch, dtype = key
        sizes, activation = NETWORKS[net]
        for name in contenders_for(net, contenders):
            step = steps[key + (name,)] = CONTENDERS[name](sizes, activation, dtype, batch)
            if hasattr(step, "compile_seconds"):
                COMPILE_SECONDS[(net, batch, np.dtype(dtype).name)] = step.compile_seconds
    data = {dt: X.astype(dt) for dt in {k[2] for k in configs}}
    for r in range(rounds):
        for key in configs:
            net, batch, dtype = key
            names = contenders_for(net, contenders)
            batches = epoch_batches(data[dtype], y, batch, rng, max_steps)
            total = dict.fromkeys(names, 0.0)
            gc.collect()
            for c, start in enumerate(range(0, len(batches), chunk)):
                part = batches[start:start + chunk]
                shift = (r + c) % len(names)
                for name in names[shift:] + names[:shift]:
                    step = steps[key + (name,)]
                    sync = getattr(step, "sync", None)
                    t0 = time.perf_counter()
                    for xb, yb in part:
                        step(xb, yb)
                    if sync is not None:
                        sync()
                    total[name] += time.perf_counter() - t0
            for name in names:
                times.setdefault(key + (name,), []).append(total[name] / len(batches))
    return times


def check_same_step(nets, batches, contenders, steps=3, seed=0) -> list:
    """Every contender takes the same training step: from the same weights, ``steps`` steps on
    the same random batches must leave each with the baseline's weights (float32: rtol 1e-4).
    Returns the failures as strings (empty: all agree), so the ratios compare equal work and
    the baseline is a correct step, not just a fast one."""
    failures = []
    for net in nets:
        sizes, activation = NETWORKS[net]
        for batch in batches:
            rng = np.random.default_rng(seed)
            data = [(rng.random((batch, sizes[0]), dtype=np.float32), rng.integers(0, sizes[-1], batch))
                    for _ in range(steps)]
            base = CONTENDERS[BASELINE](sizes, activation, np.float32, batch)
            start = [W.copy() for W, _ in base.params()]
            for xb, yb in data:
                base(xb, yb)
            want = base.params()
            if all(np.array_equal(W0, W) for W0, (W, _) in zip(start, want)):
                failures.append(f"{net} B={batch}: the baseline's step did not change the weights")
            for name in contenders_for(net, contenders):
                if name == BASELINE:
                    continue
                step = CONTENDERS[name](sizes, activation, np.float32, batch)
                for xb, yb in data:
                    step(xb, yb)
                for layer, ((W, b), (W1, b1)) in enumerate(zip(want, step.params(), strict=True)):
                    for what, a, c in (("W", W, W1), ("b", b, b1)):
                        if not np.allclose(c, a, rtol=1e-4, atol=2e-6):
                            failures.append(f"{net} B={batch} {name}: layer {layer} {what} differs from the "
                                            f"baseline's by up to {np.abs(c - a).max():.2e}")
    return failures


def fixed_and_marginal(batch_times: dict):
    """(fixed us per step, marginal us per sample) of t(B) = fixed + B * marginal, fitted to
    {batch: us per step} by least squares on relative errors (each batch size counts alike,
    not in proportion to its time); None with fewer than two batch sizes."""
    if len(batch_times) < 2:
        return None
    B = np.array(list(batch_times), float)
    t = np.array(list(batch_times.values()), float)
    A = np.stack([np.ones_like(B), B], axis=1) / t[:, None]
    fixed, marginal = np.linalg.lstsq(A, np.ones_like(t), rcond=None)[0]
    return fixed, marginal


def eval_throughput(X, rounds):
    """Samples/s of a forward pass over X under no_grad (batches of 1000), engine vs manual.forward."""
    out = {}
    model = MLP(NETWORKS["784-30-10"][0], seed=0)
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
    model = MLP(NETWORKS["784-30-10"][0], seed=0)
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


# ---------------------------------------------------------------- the conv section
CONV_BATCHES = (1, 32, 128)
STEPS_PER_TURN = {1: 100, 32: 10, 128: 3}  # steps a contender runs before handing over (~20-60 ms)


def make_lenet_engine(dtype=np.float32):
    """The engine: arch.build_arch("lenet") + optim.SGD + softmax_cross_entropy + backward."""
    model = build_arch("lenet", seed=0, dtype=dtype)
    opt = SGD(model.parameters(), lr=LR)

    def step(xb, yb):
        opt.zero_grad()
        loss = model(xb).softmax_cross_entropy(yb)
        loss.backward()
        opt.step()
        return float(loss.data)
    return step, model


def make_lenet_torch(engine_model, dtype=np.float32):
    """PyTorch eager with the engine model's starting weights: the same layers, F.cross_entropy,
    torch.optim.SGD."""
    import torch
    from torch import nn
    _torch_threads()
    model = nn.Sequential(nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120),
                          nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10)).to(getattr(torch, np.dtype(dtype).name))
    with torch.no_grad():
        for mine, theirs in zip(engine_model.parameters(), model.parameters(), strict=True):
            theirs.copy_(torch.from_numpy(mine.data))
    opt = torch.optim.SGD(model.parameters(), lr=LR)

    def step(xb, yb):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(xb)), torch.from_numpy(yb))
        loss.backward()
        opt.step()
        return loss.item()
    return step


def _torch_threads() -> None:
    import torch
    if THREADS:  # the same thread budget as NumPy's BLAS
        torch.set_num_threads(THREADS)


def _interleaved(runs: dict, rounds: int) -> dict:
    """{name: [seconds per call, one per round]} for runs {name: (fn, calls per turn, turns)}:
    in every round each run takes its turns alternately with the others, so load from
    elsewhere hits them alike."""
    times = {name: [] for name in runs}
    names = list(runs)
    for r in range(rounds):
        total = dict.fromkeys(names, 0.0)
        calls = dict.fromkeys(names, 0)
        gc.collect()
        turns = max(t for _, _, t in runs.values())
        for turn in range(turns):
            shift = (r + turn) % len(names)
            for name in names[shift:] + names[:shift]:
                fn, n, t = runs[name]
                if turn >= t:
                    continue
                t0 = time.perf_counter()
                for _ in range(n):
                    fn()
                total[name] += time.perf_counter() - t0
                calls[name] += n
        for name in names:
            times[name].append(total[name] / calls[name])
    return times


def conv_training(X, y, rounds, with_torch):
    """Rows {batch, contender, us_per_step, spread} of the LeNet training step, and the loss
    difference after one identical step (engine vs PyTorch: same weights, same batch)."""
    rows, runs, check = [], {}, {}
    rng = np.random.default_rng(0)
    for batch in CONV_BATCHES:
        idx = [rng.choice(len(X), batch, replace=False) for _ in range(16)]
        data = [(np.ascontiguousarray(X[i]), y[i]) for i in idx]
        engine, model = make_lenet_engine()
        contenders = {"engine": engine}
        if with_torch:
            contenders["pytorch eager"] = make_lenet_torch(model)
            xb, yb = data[0]
            check[batch] = abs(contenders["engine"](xb, yb) - contenders["pytorch eager"](xb, yb))
        for name, step in contenders.items():
            cycle = iter(range(1 << 62))
            runs[(batch, name)] = ((lambda step=step, cycle=cycle, data=data: step(*data[next(cycle) % len(data)])),
                                   STEPS_PER_TURN[batch], 8)
    times = _interleaved(runs, rounds)
    for (batch, name), ts in times.items():
        rows.append({"batch": batch, "contender": name, "us_per_step": statistics.median(ts) * 1e6,
                     "min_us": min(ts) * 1e6, "max_us": max(ts) * 1e6})
    return rows, check


def conv_forward(rounds, with_torch):
    """Rows of conv2d's forward alone at LeNet's two convolutions (batch 32 and 128): the engine's
    op on arrays against torch.nn.functional.conv2d under no_grad."""
    rng = np.random.default_rng(0)
    shapes = {"conv1 (B,1,28,28) * (6,1,5,5) pad 2": ((1, 28, 28), (6, 1, 5, 5), 2),
              "conv2 (B,6,14,14) * (16,6,5,5)": ((6, 14, 14), (16, 6, 5, 5), 0)}
    runs = {}
    for label, (x_shape, w_shape, pad) in shapes.items():
        for batch in (32, 128):
            x = rng.standard_normal((batch,) + x_shape, dtype=np.float32)
            W = rng.standard_normal(w_shape, dtype=np.float32)
            b = rng.standard_normal(w_shape[0], dtype=np.float32)
            runs[(label, batch, "engine")] = ((lambda x=x, W=W, b=b, pad=pad: ops.conv2d(x, W, b, padding=pad)),
                                              10, 8)
            if with_torch:
                import torch
                _torch_threads()
                tx, tW, tb = (torch.from_numpy(a) for a in (x, W, b))

                def forward(tx=tx, tW=tW, tb=tb, pad=pad):
                    with torch.no_grad():
                        return torch.nn.functional.conv2d(tx, tW, tb, padding=pad)
                runs[(label, batch, "pytorch eager")] = (forward, 10, 8)
    times = _interleaved(runs, rounds)
    return [{"conv": label, "batch": batch, "contender": name, "us": statistics.median(ts) * 1e6,
             "min_us": min(ts) * 1e6, "max_us": max(ts) * 1e6} for (label, batch, name), ts in times.items()]


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def conv_memory(batch=128):
    """Memory of one engine LeNet training step at ``batch``, measured in a fresh process (a
    process that already ran big steps keeps their freed pages resident, which hides the
    growth): peak RSS growth over the RSS before the step (after a batch-1 warm-up step; Linux,
    VmHWM reset through /proc/self/clear_refs), tracemalloc's peak for a second step (NumPy
    reports its arrays to tracemalloc), and the bytes of the activations the forward pass
    records (every array the graph keeps: the input and each op's output)."""
    import subprocess
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory-probe", str(batch)],
                         capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(out.splitlines()[-1])


def _memory_probe(batch: int) -> dict:
    """conv_memory's measurements, in this (fresh) process."""
    data = load_bundled_sample()
    X, y = data.X_train, data.y_train
    step, model = make_lenet_engine()
    xb, yb = np.ascontiguousarray(X[:batch]), y[:batch]
    step(xb[:1], yb[:1])  # warm-up: first-use costs (BLAS buffers, imports) are not the step's
    gc.collect()
    rss_growth = None
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
        before = _rss_kb("VmRSS")
        step(xb, yb)
        rss_growth = (_rss_kb("VmHWM") - before) * 1024
    except OSError:
        pass
    gc.collect()
    tracemalloc.start()
    step(xb, yb)
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    loss = model(xb).softmax_cross_entropy(yb)
    seen, stack, activations = set(), [loss], 0
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if not (t.is_leaf and t.requires_grad):  # parameters are not activations
            activations += t.data.nbytes
        if t.node is not None:
            stack.extend(p for p in t.node.inputs if p is not None)
    return {"batch": batch, "activations_bytes": activations, "peak_rss_growth_bytes": rss_growth,
            "traced_peak_bytes": traced_peak}


def run_conv_section(X, y, rounds, with_torch) -> dict:
    """Print the conv tables; return them for --json."""
    print(f"# conv section: LeNet-5 training step (forward, softmax CE, backward, SGD lr {LR}), "
          f"{rounds} rounds interleaved; median us/step (min-max over rounds)")
    rows, check = conv_training(X, y, rounds, with_torch)
    for batch, diff in check.items():
        print(f"# same weights, same batch {batch}: |loss engine - loss pytorch| after one step = {diff:.1e}")
    header = f"{'batch':>6} {'contender':<14}{'us/step':>10}{'min-max':>20}{'samples/s':>11}{'ratio':>7}"
    print(header)
    print("-" * len(header))
    by = {(r["batch"], r["contender"]): r for r in rows}
    for batch in CONV_BATCHES:
        ref = by.get((batch, "pytorch eager"))
        for name in ("engine", "pytorch eager"):
            r = by.get((batch, name))
            if r is None:
                continue
            r["ratio_to_torch"] = r["us_per_step"] / ref["us_per_step"] if ref else None
            ratio = f"{r['ratio_to_torch']:>7.2f}" if ref else f"{'-':>7}"
            spread = f"{r['min_us']:.0f}-{r['max_us']:.0f}"
            print(f"{batch:>6} {name:<14}{r['us_per_step']:>10.0f}{spread:>20}{batch / r['us_per_step'] * 1e6:>11,.0f}"
                  f"{ratio}")
    fwd = conv_forward(rounds, with_torch)
    print("# conv2d forward alone (engine: ops.conv2d on arrays; pytorch: F.conv2d under no_grad), median us")
    fby = {(r["conv"], r["batch"], r["contender"]): r for r in fwd}
    for (label, batch, name), r in fby.items():
        if name != "engine":
            continue
        t = fby.get((label, batch, "pytorch eager"))
        vs = f", pytorch {t['us']:.0f} us, ratio {r['us'] / t['us']:.2f}" if t else ""
        print(f"#   {label}, B={batch}: engine {r['us']:.0f} us (min-max {r['min_us']:.0f}-{r['max_us']:.0f}){vs}")
    mem = conv_memory()
    act = mem["activations_bytes"]
    rss = mem["peak_rss_growth_bytes"]
    print(f"# memory of one step at batch {mem['batch']}: activations recorded {act / 1e6:.2f} MB; "
          + (f"peak RSS growth {rss / 1e6:.2f} MB ({rss / act:.2f}x); " if rss is not None else
             "peak RSS growth not measurable here (no /proc/self/clear_refs); ")
          + f"tracemalloc peak {mem['traced_peak_bytes'] / 1e6:.2f} MB ({mem['traced_peak_bytes'] / act:.2f}x)")
    return {"conv_rows": rows, "conv_loss_check": {str(k): v for k, v in check.items()},
            "conv_forward": fwd, "conv_memory": mem}


def blas_threads() -> str:
    from threadpoolctl import threadpool_info
    return ", ".join(f"{i['internal_api']} {i['num_threads']} threads" for i in threadpool_info()
                     if i["user_api"] == "blas")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--quick", action="store_true",
                        help="784-30-10 only, batch 10 and 100, float32, no textbook loop, 2,000 steps per round")
    parser.add_argument("--full", action="store_true",
                        help="every network, batch 1, 10 and 100, float32 and float64 (default: the lean-kernel "
                             "table: 784-30-10, 784-100-10 relu, 784-512-512-10 relu at batch 1-1000, float32)")
    parser.add_argument("--nets", nargs="+", choices=list(NETWORKS), default=None, help="networks to time")
    parser.add_argument("--batches", nargs="+", type=int, default=None, help="batch sizes to time")
    parser.add_argument("--contenders", nargs="+", choices=list(CONTENDERS), default=None,
                        help="contenders to time (the baseline always runs)")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="steps per contender per round, at most (default: a whole epoch, 2,000 at batch 1 "
                             "and with --quick)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per configuration (default 5)")
    parser.add_argument("--json", type=str, default=None, help="also write the results to this JSON file")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if it is installed")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="BLAS threads for NumPy, PyTorch and JAX alike (default: the package's policy, "
                             "tinygrad_mnist.threads, which gives 1 for these networks; 0 leaves the "
                             "libraries' own choice)")
    parser.add_argument("--check", action="store_true",
                        help="check that every contender takes the same step as the baseline (3 steps "
                             "from the same weights, on 784-30-10 and 784-100-10/relu at batch 1 and 10), "
                             "print the result and exit: 0 if all agree")
    parser.add_argument("--no-pin", action="store_true",
                        help="with one thread, do not pin the process to one core (Linux pins by default)")
    parser.add_argument("--only", choices=("mlp", "conv"), default=None,
                        help="run only the MLP tables or only the conv section (default: both)")
    parser.add_argument("--memory-probe", type=int, default=None, metavar="BATCH",
                        help="internal: measure one LeNet step's memory in this process, print JSON")
    args = parser.parse_args(argv)
    # The package's thread policy (the one fit and the CLI use), unless told otherwise: on 2 cores
    # OpenBLAS's and PyTorch's spinning worker threads fight each other in one process, and a
    # threaded OpenBLAS under load from another process made a batch-100 step 50x slower.
    global THREADS
    THREADS = args.blas_threads
    if THREADS is None:
        THREADS = max(threads.policy(MLP(sizes), 1000) for sizes, _ in NETWORKS.values())
    if THREADS == 1 and hasattr(os, "sched_setaffinity") and not args.no_pin:
        # XLA starts worker threads whatever its flags say (measured: 1.85 cores busy during a
        # jit step with the flags below), so "one thread everywhere" is enforced by the kernel:
        # this thread, and every thread started after it (PyTorch's, XLA's), runs on one core
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    if THREADS and "jax" not in sys.modules:
        # XLA's CPU client reads its thread count once, when jax is first imported
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen="
                                   + ("false" if THREADS == 1 else "true")
                                   + f" intra_op_parallelism_threads={THREADS}").strip()
    with contextlib.nullcontext() if THREADS == 0 else threads.limit(THREADS):
        if args.memory_probe is not None:
            print(json.dumps(_memory_probe(args.memory_probe)))
            return 0
        return _main(args, THREADS)


def _configs(args):
    """[(network, batch, dtype)] this run times."""
    if args.quick:
        nets, batches, dtypes = ["784-30-10"], [10, 100], [np.float32]
    elif args.full:
        nets, batches, dtypes = list(NETWORKS), [1, 10, 100], [np.float32, np.float64]
    else:
        nets, batches, dtypes = list(LEAN_NETS), [1, 10, 100, 1000], [np.float32]
    nets, batches = args.nets or nets, args.batches or batches
    return [(net, b, dt) for net in nets for b in batches for dt in dtypes]


def _main(args, n_threads: int) -> int:
    contenders = list(args.contenders or CONTENDERS)
    if BASELINE not in contenders:
        contenders.insert(0, BASELINE)
    if args.no_torch and "pytorch eager" in contenders:
        contenders.remove("pytorch eager")
    missing = [c for c in contenders if c in OPTIONAL and not available(OPTIONAL[c])]
    contenders = [c for c in contenders if c not in missing]
    if args.check:
        nets, batches = args.nets or ["784-30-10", "784-100-10/relu"], args.batches or [1, 10]
        failures = check_same_step(nets, batches, contenders)
        print(f"# same step: {', '.join(contenders)} on {', '.join(nets)} at batch {', '.join(map(str, batches))}"
              + (f"; not installed: {', '.join(missing)}" if missing else ""))
        print("\n".join(failures) if failures else "all contenders agree with the baseline")
        return 1 if failures else 0
    ds = load_bundled_sample()  # the same real 10k digits on every machine, cached MNIST or not
    X, y, X_test = ds.X_train, ds.y_train, ds.X_test
    configs = _configs(args)
    if args.quick or not args.full:
        contenders = [c for c in contenders if c != "textbook loop" or args.contenders]
    rounds = args.rounds or 5
    rng = np.random.default_rng(0)

    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"NumPy {np.__version__}, BLAS: {blas_threads()}")
    for name in missing:
        print(f"# {name}: skipped ({OPTIONAL[name]} not importable)")
    if "pytorch eager" in contenders:
        import torch
        if n_threads:
            torch.set_num_threads(n_threads)  # the same budget as NumPy's BLAS
        print(f"# pytorch {torch.__version__}, {torch.get_num_threads()} threads")
    if "jax jit" in contenders:
        import jax
        if any(np.dtype(c[2]) == np.float64 for c in configs):
            jax.config.update("jax_enable_x64", True)  # else JAX silently runs float64 rows in float32
        print(f"# jax {jax.__version__} on {jax.devices()[0].platform}, XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
    if "scikit-learn" in contenders:
        import sklearn
        print(f"# scikit-learn {sklearn.__version__}")
    if hasattr(os, "sched_getaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        print(f"# cores this process may run on: {cores}" + (" (pinned: one core for every contender's threads)"
                                                              if len(cores) == 1 and n_threads == 1 else ""))
    print(f"# load before the run (uptime): {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    if args.only == "conv":
        extras = run_conv_section(X, y, rounds, "pytorch eager" in contenders)
        _write_json(args.json, extras)
        return 0
    max_steps = args.max_steps or (2000 if args.quick else None)
    print(f"# real MNIST training digits, one shuffled epoch of {len(X)} per round (at most "
          f"{max_steps or 2000} steps{'' if max_steps else ' at batch 1'}), {rounds} rounds, interleaved; medians")
    times = {}
    for key in configs:  # one configuration at a time: batch 1's step cap differs
        steps = max_steps or (2000 if key[1] == 1 else None)
        times.update(time_training(X, y, [key], contenders, rounds, rng, max_steps=steps))

    rows = []
    header = (f"{'network':<20}{'batch':>6} {'dtype':<8} {'contender':<24}{'us/step':>10}{'min-max':>18}"
              f"{'samples/s':>12}{'ratio':>8}")
    print(header)
    print("-" * len(header))
    for key in configs:
        net, batch, dtype = key
        base = statistics.median(times[key + (BASELINE,)])
        for name in contenders_for(net, contenders):
            ts = times[key + (name,)]
            t = statistics.median(ts)
            row = {"network": net, "batch": batch, "dtype": np.dtype(dtype).name, "contender": name,
                   "us_per_step": t * 1e6, "min_us": min(ts) * 1e6, "max_us": max(ts) * 1e6,
                   "samples_per_s": batch / t, "ratio": t / base}
            compile_s = COMPILE_SECONDS.get((net, batch, row["dtype"])) if name == "jax jit" else None
            if compile_s is not None:
                row["compile_s"] = compile_s
            rows.append(row)
            spread = f"{min(ts) * 1e6:.1f}-{max(ts) * 1e6:.1f}"
            print(f"{net:<20}{batch:>6} {row['dtype']:<8} {name:<24}{t * 1e6:>10.1f}{spread:>18}"
                  f"{batch / t:>12,.0f}{t / base:>8.2f}")
    compiles = {k: v for k, v in COMPILE_SECONDS.items() if any(c[:2] == k[:2] for c in configs)}
    if compiles:
        print("# jax jit: first call per shape (trace + compile), not in the times above: "
              + ", ".join(f"{n} B={b} {s:.2f} s" for (n, b, _), s in compiles.items()))
    extras = {"fixed_and_marginal": _print_fixed_and_marginal(rows)}

    if args.quick or args.full:
        extras["eval_samples_per_s"] = eval_throughput(X_test, rounds)
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
    if args.only is None and args.full:
        extras.update(run_conv_section(X, y, rounds, "pytorch eager" in contenders))
    _write_json(args.json, {"rows": rows, **extras})
    return 0


def _print_fixed_and_marginal(rows) -> list:
    """Print and return, per network, dtype and contender, the fixed cost of a step and the
    marginal cost of a sample (``fixed_and_marginal`` over the batch sizes timed)."""
    groups = {}
    for r in rows:
        groups.setdefault((r["network"], r["dtype"], r["contender"]), {})[r["batch"]] = r["us_per_step"]
    out = []
    for (net, dtype, name), by_batch in groups.items():
        fit = fixed_and_marginal(by_batch)
        if fit is None:
            continue
        if not out:
            print(f"# t(B) = fixed + B x marginal, fitted over batches {', '.join(map(str, by_batch))} "
                  f"(least squares on relative error)")
            print(f"{'network':<20} {'dtype':<8} {'contender':<24}{'fixed us':>10}{'us/sample':>11}")
        out.append({"network": net, "dtype": dtype, "contender": name, "fixed_us": fit[0], "marginal_us": fit[1]})
        print(f"{net:<20} {dtype:<8} {name:<24}{fit[0]:>10.1f}{fit[1]:>11.2f}")
    return out


def _write_json(path, results: dict) -> None:
    if path:
        with atomic_file(path, "w", suffix=".json") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
