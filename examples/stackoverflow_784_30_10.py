"""The 784-30-10 network of the classic StackOverflow question "cost over epoch": sigmoid
layers, quadratic cost, weights and biases drawn from U(-1, 1), and plain SGD with learning
rate 0.05 on RANDOM mini-batches of 20 (each step draws 20 digits at random, so an epoch of
N/20 steps need not visit every digit), plotting the training cost per epoch.

Written as the explicit loop (forward, loss, backward, step) rather than ``fit``, to show it.

    python examples/stackoverflow_784_30_10.py                    # 30 epochs -> cost_over_epoch.png
    python examples/stackoverflow_784_30_10.py --plot /tmp/c.png  # elsewhere
    python examples/stackoverflow_784_30_10.py --quick            # 1 epoch on 1000 digits

The small learning rate with the quadratic cost learns slowly (the sigmoid outputs saturate and
their gradient vanishes): compare with nielsen_784_30_10.py (lr 3.0). Needs matplotlib for the
plot; without it the plot is skipped with a note.
"""
import argparse
import time

import numpy as np

from tinygrad_mnist import threads
from tinygrad_mnist.data import load_mnist
from tinygrad_mnist.nn import MLP
from tinygrad_mnist.optim import SGD
from tinygrad_mnist.figures import PlotUnavailable, plot_costs
from tinygrad_mnist.tensor import Tensor
from tinygrad_mnist.train import evaluate


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30,
                        help="epochs of N/20 random mini-batches (default: 30)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for the weights and the batches (default: 0)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training digits")
    parser.add_argument("--plot", default="cost_over_epoch.png", help="where to draw the cost curve "
                        "(default: cost_over_epoch.png in the current directory)")
    parser.add_argument("--quick", action="store_true", help="1 epoch on 1000 digits")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.limit = 1, 1000

    data = load_mnist(warn=False)
    print(f"data: {data.source}")
    X, y = data.X_train[:args.limit], data.y_train[:args.limit]
    net = MLP([784, 30, 10], activation="sigmoid", output="sigmoid", init="uniform", seed=args.seed)
    opt = SGD(net.parameters(), lr=0.05)
    rng = np.random.default_rng(args.seed)
    batch_size, steps = 20, max(1, len(X) // 20)
    costs = []
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        with threads.limit(threads.policy(net, batch_size)):  # what fit does: 1 BLAS thread here
            for _ in range(steps):
                idx = rng.integers(0, len(X), batch_size)        # a random mini-batch, with replacement
                opt.zero_grad()
                loss = net(Tensor(X[idx])).quadratic_cost(y[idx])  # integer labels act as one-hot rows
                loss.backward()
                opt.step()
        cost, _ = evaluate(net, X, y, loss="quadratic")
        _, accuracy = evaluate(net, data.X_test, data.y_test, loss="quadratic")
        costs.append(cost)
        print(f"epoch {epoch}: training cost {cost:.4f}, test accuracy {100 * accuracy:.2f}%")
    seconds = time.perf_counter() - start
    epochs = f"{args.epochs} epoch{'s' * (args.epochs != 1)}"
    print(f"reached {100 * accuracy:.2f}% test accuracy after {epochs} ({seconds:.1f} s)")
    try:
        plot_costs(costs, args.plot, title="784-30-10, quadratic cost, lr 0.05, batches of 20")
        print(f"cost per epoch drawn in {args.plot}")
    except PlotUnavailable as e:
        print(f"note: plot skipped: {e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
