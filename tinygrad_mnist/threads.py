"""BLAS threads: how many threads NumPy's BLAS may use for a model's matrix products (the
policy), and ``limit(n)``, which applies a count for the duration of a block (threadpoolctl).
``fit``, ``evaluate``, ``predict``, the CLI, the examples and the benchmarks all go through
here. Leaves out: threads of other libraries (PyTorch has ``torch.set_num_threads``).

Why one thread for an MLP: its products are small ((10,784) @ (784,128) is 2 MFLOP), and a
threaded OpenBLAS hands each one to worker threads that spin-wait for work. On a 2-core
machine busy with something else, measured here, that made a batch-10 product 22x slower
(3.3 ms against 0.15 ms) and a (1000,784) @ (784,128) product 3x slower; two threads only broke
even at about 1 GFLOP per product. The thread count also changes the last bits of a float32
product (OpenBLAS splits the sums differently), so one fixed count gives the same numbers on
every machine.
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterator, Optional

from threadpoolctl import threadpool_limits

__all__ = ["PARALLEL_FLOPS", "MAX_THREADS", "policy", "resolve", "limit", "available"]

# A product of fewer floating-point operations than this runs on one thread (see above).
PARALLEL_FLOPS = 1e9
MAX_THREADS = 1024  # more is a typo (BLAS libraries cap far lower: this OpenBLAS at 64)


def available() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def policy(model, batch_size: int) -> int:
    """The BLAS thread count for running ``model`` (an ``nn.Module``) on batches of
    ``batch_size`` rows: 1 unless its largest product (2 * batch * n_in * n_out for a layer with
    ``n_in`` and ``n_out``: Linear) reaches PARALLEL_FLOPS, then every available core."""
    flops = max((2.0 * batch_size * m.n_in * m.n_out for m in model.modules()
                 if isinstance(getattr(m, "n_in", None), int) and isinstance(getattr(m, "n_out", None), int)),
                default=0.0)
    return 1 if flops < PARALLEL_FLOPS else available()


def resolve(threads: Optional[int], model, batch_size: int) -> int:
    """``threads`` if given (an int >= 1), else ``policy(model, batch_size)``."""
    if threads is None:
        return policy(model, batch_size)
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= MAX_THREADS:
        raise ValueError(f"threads: expected an integer from 1 to {MAX_THREADS} or None (the policy), "
                         f"got {threads!r}")
    return threads


@contextlib.contextmanager
def limit(n: int) -> Iterator[int]:
    """Run the block with NumPy's BLAS (OpenBLAS, MKL, BLIS) limited to ``n`` threads; the
    previous setting comes back afterwards. Costs about a millisecond: use it around a loop,
    not inside one."""
    with threadpool_limits(limits=n, user_api="blas"):
        yield n
