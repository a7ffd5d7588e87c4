"""Optimizers that update parameter tensors in place from their ``.grad``: SGD and Adam.

Leaves out: learning-rate schedules beyond setting ``opt.lr`` between steps.
"""
from __future__ import annotations

from typing import Iterable, List

import numpy as np

from .ops import constant
from .tensor import Tensor, updatable


class Optimizer:
    """Base class: holds the parameter list; ``zero_grad()`` clears their gradients."""

    def __init__(self, params: Iterable[Tensor], lr: float):
        self.params: List[Tensor] = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for p in self.params:
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{type(self).__name__}: every parameter must be a Tensor with "
                                f"requires_grad=True, got {p!r}")
        if not lr > 0:
            raise ValueError(f"{type(self).__name__}: lr must be positive, got {lr}")
        self.lr = float(lr)

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``p.grad = None``)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent: p <- p - lr * (g + weight_decay * p), with optional momentum.

    With momentum mu (PyTorch's form): v <- mu * v + g; p <- p - lr * v.
    Parameters without a gradient (unused in the last backward) are left alone.
    Plain SGD (no momentum, no weight decay) keeps one scratch array per parameter (one more
    copy of the parameters' memory) for lr * g, so a step allocates nothing and leaves
    ``.grad`` as backward made it.
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"SGD: weight_decay must be >= 0, got {weight_decay}")
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)
        self._velocity = [None] * len(self.params)
        self._scratch = [None] * len(self.params)  # lr * g lands here: no temporary per step

    def step(self) -> None:
        """Update every parameter in place from its ``.grad``."""
        lr = self.lr
        if not self.momentum and not self.weight_decay:  # plain SGD: the benchmarked hot path
            scratch = self._scratch
            dtype = rate = None
            for i, p in enumerate(self.params):
                g = p.grad
                if g is None:
                    continue
                if g.dtype is not dtype:  # lr as a 0-d array of g's dtype: a ufunc would convert
                    dtype, rate = g.dtype, constant(lr, g.dtype)  # a Python float on every call
                s = scratch[i]
                if s is None or s.shape != g.shape or s.dtype != dtype:
                    s = scratch[i] = np.empty_like(g)
                np.multiply(g, rate, out=s)  # p.grad stays as backward left it
                d = updatable(p)
                d -= s
            return
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                v = self._velocity[i]
                if v is None:
                    v = self._velocity[i] = g.copy()
                else:
                    v *= self.momentum
                    v += g
                g = v
            # in place, so the model and the optimizer keep sharing the same arrays
            d = updatable(p)
            d -= lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): per-parameter steps from running moments of the gradient.

    m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;  p <- p - lr * m_hat / (sqrt(v_hat) + eps),
    with bias-corrected m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t). ``weight_decay`` adds
    weight_decay * p to g (L2, as in torch.optim.Adam). A parameter without a gradient in a step
    is skipped, and t counts each parameter's own updates (as in torch.optim.Adam): the bias
    corrections undo the zero start of THAT parameter's moments.
    """

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"Adam: betas must be in [0, 1), got {betas}")
        self.b1, self.b2, self.eps, self.weight_decay = float(b1), float(b2), float(eps), float(weight_decay)
        self._m = [np.zeros(p.shape, p.dtype) for p in self.params]
        self._v = [np.zeros(p.shape, p.dtype) for p in self.params]
        self._steps = [0] * len(self.params)  # updates of each parameter: its t
        self.t = 0  # calls of step()

    def step(self) -> None:
        """Update every parameter in place from its ``.grad``."""
        self.t += 1
        for i, (p, m, v) in enumerate(zip(self.params, self._m, self._v)):
            g = p.grad
            if g is None:
                continue
            self._steps[i] += 1
            t = self._steps[i]
            c1, c2 = 1.0 - self.b1 ** t, 1.0 - self.b2 ** t
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            m *= self.b1
            m += (1.0 - self.b1) * g
            v *= self.b2
            v += (1.0 - self.b2) * g * g
            d = updatable(p)
            d -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)
