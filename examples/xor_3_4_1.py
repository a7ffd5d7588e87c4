"""The toy of "A Neural Network in 11 lines of Python" (Andrew Trask): four samples of three
inputs, the third a constant 1 (standing in for a bias), targets [0, 1, 1, 0] (the XOR of the
first two), a 3-4-1 sigmoid network with weights U(-1, 1) and no biases, trained by full-batch
gradient descent with step 1 on the summed cost 1/2 sum (a - y)^2 -- exactly the post's update.

Here the backprop is the engine's: raw Tensors, ``loss.backward()``, then ``W -= grad``. The
weights are in the project's (n_out, n_in) orientation: W0 (4, 3) is the post's syn0.T.

    python examples/xor_3_4_1.py                  # 10,000 iterations (the post runs 60,000)
    python examples/xor_3_4_1.py --epochs 60000
"""
import argparse
import time

import numpy as np

from tinygrad_mnist import Tensor, no_grad

X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64)
Y = np.array([[0], [1], [1], [0]], dtype=np.float64)


def train(epochs: int, seed: int):
    """-> (W0 (4, 3), W1 (1, 4), outputs (4, 1)) after ``epochs`` full-batch steps of size 1."""
    rng = np.random.default_rng(seed)
    W0 = Tensor(rng.uniform(-1, 1, (4, 3)), requires_grad=True)  # the post's 2*random((3,4)) - 1
    W1 = Tensor(rng.uniform(-1, 1, (1, 4)), requires_grad=True)
    x = Tensor(X)
    for _ in range(epochs):
        hidden = (x @ W0.T).sigmoid()                # (4, 4): the post's l1
        out = (hidden @ W1.T).sigmoid()              # (4, 1): the post's l2
        loss = ((out - Y) ** 2).sum() * 0.5
        W0.grad = W1.grad = None
        loss.backward()
        W0.data -= W0.grad  # step size 1, as in the post
        W1.data -= W1.grad
    with no_grad():
        outputs = ((x @ W0.T).sigmoid() @ W1.T).sigmoid().data
    return W0.data, W1.data, outputs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10000, help="gradient steps (default: 10000)")
    parser.add_argument("--seed", type=int, default=1, help="seed for the weights (default: 1)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    _, _, outputs = train(args.epochs, args.seed)
    print(f"Output after training ({args.epochs} steps, {time.perf_counter() - start:.1f} s):")
    for x, target, out in zip(X, Y[:, 0], outputs[:, 0]):
        print(f"  input {x.astype(int).tolist()} -> {out:.4f}  (target {int(target)})")
    correct = int(((outputs[:, 0] > 0.5) == (Y[:, 0] > 0.5)).sum())
    print(f"reached {correct} / 4 correct (outputs rounded at 0.5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
