"""SGD and Adam step by step against PyTorch's update rules, written out in NumPy below, for every
option: the learning rate (also changed between steps, the way schedules do it), momentum,
weight decay, betas and eps. A parameter without a gradient in some step is skipped, its
state too; ``step`` updates ``.data`` in place and never writes into ``.grad``.
(test_nn.py holds the two-step cases worked by hand and the argument errors.)
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from tinygrad_mnist import Tensor
from tinygrad_mnist.optim import SGD, Adam

SHAPES = [(3, 2), (4,)]
LRS = [0.1, 0.1, 0.05, 0.05, 0.02]  # one per step


def start() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(s) for s in SHAPES]


def gradients() -> list[list]:
    """One gradient per parameter and step; the second parameter has none in step 2."""
    rng = np.random.default_rng(1)
    steps = [[rng.standard_normal(s) for s in SHAPES] for _ in LRS]
    steps[1][1] = None
    return steps


def torch_sgd(params, grads, lrs, momentum=0.0, weight_decay=0.0):
    """torch.optim.SGD (dampening 0, nesterov False): d = g + wd p; buf = mu buf + d (buf = d at
    first); p -= lr buf. Yields the parameters after each step."""
    params, bufs = [p.copy() for p in params], [None] * len(params)
    for step, lr in zip(grads, lrs):
        for i, g in enumerate(step):
            if g is None:
                continue
            d = g + weight_decay * params[i]
            if momentum:
                bufs[i] = d.copy() if bufs[i] is None else momentum * bufs[i] + d
                d = bufs[i]
            params[i] = params[i] - lr * d
        yield [p.copy() for p in params]


def torch_adam(params, grads, lrs, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """torch.optim.Adam (amsgrad off): g += wd p (coupled L2); m, v running moments; bias
    corrections with each parameter's OWN step count; eps added outside the square root."""
    b1, b2 = betas
    params = [p.copy() for p in params]
    m, v, t = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params], [0] * len(params)
    for step, lr in zip(grads, lrs):
        for i, g in enumerate(step):
            if g is None:
                continue
            t[i] += 1
            g = g + weight_decay * params[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat, v_hat = m[i] / (1 - b1 ** t[i]), v[i] / (1 - b2 ** t[i])
            params[i] = params[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
        yield [p.copy() for p in params]


def assert_steps_match(make, reference):
    """Run ``make(params)`` over gradients() and compare every step with ``reference``."""
    params = [Tensor(p, requires_grad=True) for p in start()]
    arrays = [p.data for p in params]
    grads = gradients()
    kept = [[None if g is None else g.copy() for g in step] for step in grads]
    opt = make(params)
    for n, (step, lr, expected) in enumerate(zip(grads, LRS, reference(start(), kept, LRS)), 1):
        opt.lr = lr
        for p, g in zip(params, step):
            p.grad = g
        opt.step()
        for i, (p, e) in enumerate(zip(params, expected)):
            np.testing.assert_allclose(p.data, e, rtol=1e-13, atol=1e-15, err_msg=f"parameter {i} after step {n}")
    assert all(p.data is a for p, a in zip(params, arrays)), "step must update .data in place"
    for step, step_kept in zip(grads, kept):  # a momentum buffer must not be a .grad array
        for g, k in zip(step, step_kept):
            if g is not None:
                np.testing.assert_array_equal(g, k, err_msg="step wrote into a .grad")


@pytest.mark.parametrize("momentum, weight_decay", list(itertools.product([0.0, 0.9], [0.0, 0.1])))
def test_sgd_matches_pytorch_step_by_step(momentum, weight_decay):
    """Weight decay goes into the gradient BEFORE the momentum buffer; buf = mu buf + g."""
    assert_steps_match(lambda ps: SGD(ps, lr=LRS[0], momentum=momentum, weight_decay=weight_decay),
                       lambda p, g, lrs: torch_sgd(p, g, lrs, momentum, weight_decay))


@pytest.mark.parametrize("betas, eps, weight_decay",
                         list(itertools.product([(0.9, 0.999), (0.5, 0.8)], [1e-8, 0.1], [0.0, 0.5])))
def test_adam_matches_pytorch_step_by_step(betas, eps, weight_decay):
    """Coupled L2 weight decay (g + wd p, not AdamW), both bias corrections, eps outside the
    sqrt (eps = 0.1 makes its place matter), and per-parameter step counts."""
    assert_steps_match(lambda ps: Adam(ps, lr=LRS[0], betas=betas, eps=eps, weight_decay=weight_decay),
                       lambda p, g, lrs: torch_adam(p, g, lrs, betas, eps, weight_decay))


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: Adam(ps, lr=0.1, weight_decay=0.1)],
                         ids=["SGD-momentum", "Adam"])
def test_the_same_grad_array_over_several_steps(make):
    """No backward between steps (the .grad array is the same object every time): the update
    must still be the textbook one, so no optimizer state may share memory with .grad."""
    g = np.array([1.0, -0.5])
    p = Tensor(np.array([0.3, 0.7]), requires_grad=True)
    p.grad = g
    opt = make([p])
    reference = torch_sgd if isinstance(opt, SGD) else torch_adam
    settings = {"momentum": 0.9} if isinstance(opt, SGD) else {"weight_decay": 0.1}
    expected = list(reference([np.array([0.3, 0.7])], [[g.copy()]] * 3, [0.1] * 3, **settings))
    for e in expected:
        opt.step()
        np.testing.assert_allclose(p.data, e[0], rtol=1e-13)
    np.testing.assert_array_equal(g, [1.0, -0.5])


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1),
                                  lambda ps: SGD(ps, lr=0.1, momentum=0.5, weight_decay=0.1),
                                  lambda ps: Adam(ps, weight_decay=0.1)], ids=["SGD", "SGD-options", "Adam"])
def test_float32_parameters_stay_float32(make):
    p = Tensor(np.ones(3, np.float32), requires_grad=True)
    opt = make([p])
    for _ in range(2):
        p.grad = np.full(3, 0.5, np.float32)
        opt.step()
    assert p.data.dtype == np.float32 and not np.array_equal(p.data, np.ones(3))
