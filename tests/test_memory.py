"""Memory over long runs: 20,000 training steps keep memory flat, and backward frees the graph.

Nothing here times anything; the bounds are generous, so only a real leak (a graph kept alive
by accident, a growing list) fails them: a leaked graph holds its batch, 31 kB of float32 pixels
at batch 10, so one per step would be 0.6 GB over the run.
"""
from __future__ import annotations

import gc
import resource
import sys
import tracemalloc
import weakref

import numpy as np
import pytest

from tinygrad_mnist import Tensor, no_grad
from tinygrad_mnist.data import load_bundled_sample
from tinygrad_mnist.nn import MLP
from tinygrad_mnist.train import fit

MB = 1 << 20


def resident_bytes() -> int:
    """Current resident memory: /proc/self/statm on Linux, else the peak (which only grows)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)


def live_tensors() -> int:
    gc.collect()
    return sum(type(o) is Tensor for o in gc.get_objects())


def test_20000_training_steps_keep_memory_flat():
    """784-30-10, batch 10, 20 epochs of the bundled 10,000 digits = 20,000 steps through fit.

    Measured at the end of epoch 2 (warm: every array size has been allocated once) and at the
    end: resident memory, live Tensors, and what tracemalloc sees allocated-and-kept over the
    last 2,000 steps (it is switched on only for those, as tracing slows every allocation).
    """
    sample = load_bundled_sample()
    X, y = sample.X_train, sample.y_train
    assert X.shape == (10_000, 784)
    marks = {}

    def checkpoint(ev):
        if ev["event"] != "epoch":
            return
        if ev["epoch"] == 2:
            marks["warm"] = (resident_bytes(), live_tensors())
        elif ev["epoch"] == 18:
            gc.collect()
            tracemalloc.start()
        elif ev["epoch"] == 20:
            marks["traced"] = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
            marks["end"] = (resident_bytes(), live_tensors())

    model = MLP([784, 30, 10], seed=0)
    try:
        history = fit(model, X, y, epochs=20, batch_size=10, lr=0.5, seed=0, callback=checkpoint)
    finally:
        tracemalloc.stop()
    assert len(history) == 20 and history[-1]["train_loss"] < history[0]["train_loss"]
    (rss_warm, tensors_warm), (rss_end, tensors_end) = marks["warm"], marks["end"]
    assert rss_end - rss_warm < 5 * MB, f"resident memory grew {(rss_end - rss_warm) / MB:.1f} MB"
    assert tensors_end <= tensors_warm, f"live Tensors: {tensors_warm} after warm-up, {tensors_end} at the end"
    # kept over 2,000 traced steps: the last step's gradients and loss, a few records (~0.1 MB)
    assert marks["traced"] < 1 * MB, f"{marks['traced'] / MB:.1f} MB allocated and kept over 2,000 steps"


def test_the_measurement_sees_a_leak():
    """The counterpart, so the test above can fail: keeping each step's graph (retain_graph
    and a list, the classic accident of `losses.append(loss)`) is caught by the same bound."""
    model = MLP([784, 30, 10], seed=0)
    rng = np.random.default_rng(0)
    y = np.arange(10)
    kept = []
    tracemalloc.start()
    try:
        for _ in range(200):
            X = rng.random((10, 784), dtype=np.float32)  # a fresh batch, as fit's shuffled copies are
            loss = model(X).softmax_cross_entropy(y)
            loss.backward(retain_graph=True)
            kept.append(loss)
        grown = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert grown > 5 * MB  # 200 graphs, each holding its (10,784) batch and activations


def intermediates(loss: Tensor) -> list:
    """Every array the recorded graph below ``loss`` holds (parents' data), found iteratively."""
    arrays, stack, seen = [], [loss], set()
    while stack:
        t = stack.pop()
        for parent in (t.node.inputs or ()) if t.node is not None else ():
            if parent is not None and id(parent) not in seen and parent.node is not None:
                seen.add(id(parent))
                arrays.append(parent.data)
                stack.append(parent)
    return arrays


@pytest.mark.parametrize("loss_name", ["softmax_cross_entropy", "quadratic_cost"])
def test_backward_frees_the_graph_by_reference_counting_alone(loss_name):
    """After backward every intermediate array is released at once: the graph holds no
    reference cycles, so memory does not wait for the cyclic garbage collector."""
    model = MLP([784, 30, 30, 10], output="sigmoid" if loss_name == "quadratic_cost" else None, seed=0)
    X = np.random.default_rng(0).random((10, 784), dtype=np.float32)
    gc.disable()
    try:
        loss = getattr(model(X), loss_name)(np.arange(10))
        refs = [weakref.ref(a) for a in intermediates(loss)]
        assert len(refs) >= 5 and all(r() is not None for r in refs)  # the graph holds them
        loss.backward()
        assert loss.node.freed and loss.node.inputs is None
        assert [r() for r in refs] == [None] * len(refs)  # freed, with the loss still alive
        assert np.isfinite(loss.item())
    finally:
        gc.enable()


def test_retain_graph_keeps_the_graph_until_the_loss_goes():
    model = MLP([784, 30, 10], seed=0)
    X = np.random.default_rng(1).random((4, 784), dtype=np.float32)
    gc.disable()
    try:
        loss = model(X).softmax_cross_entropy(np.arange(4))
        refs = [weakref.ref(a) for a in intermediates(loss)]
        loss.backward(retain_graph=True)
        assert all(r() is not None for r in refs)
        del loss
        assert [r() for r in refs] == [None] * len(refs)
    finally:
        gc.enable()


def test_evaluation_under_no_grad_records_nothing():
    model = MLP([784, 30, 10], seed=0)
    X = np.random.default_rng(2).random((100, 784), dtype=np.float32)
    with no_grad():
        out = model(X)
    assert out.node is None and not out.requires_grad
    before = live_tensors()
    with no_grad():
        for _ in range(50):
            model(X).softmax_cross_entropy(np.zeros(100, int))
    assert live_tensors() == before
