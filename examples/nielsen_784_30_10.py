"""The network of Michael Nielsen's "Neural Networks and Deep Learning", chapter 1 (network.py):
784-30-10, sigmoid everywhere, quadratic cost, every weight and bias N(0, 1), plain SGD with
learning rate 3.0 on mini-batches of 10, 30 epochs. Backprop is the engine's, not hand-written.

    python examples/nielsen_784_30_10.py               # 30 epochs, "Epoch j: correct / 10000"
    python examples/nielsen_784_30_10.py --quick       # 1 epoch on 1000 digits (a smoke test)

Data: full MNIST if `tinygrad-mnist download` has cached it (the book trains on the first
50,000 of the 60,000), else the bundled sample (the first 10,000 training digits), always
tested on the official 10,000 test digits. The book reaches ~95% with 50,000 training digits.
"""
import argparse
import time

from tinygrad_mnist.data import load_mnist
from tinygrad_mnist.nn import MLP
from tinygrad_mnist.optim import SGD
from tinygrad_mnist.train import fit


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30, help="passes over the training set (default: 30)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for the weights and the shuffles (default: 0)")
    parser.add_argument("--limit", type=int, default=50000,
                        help="use at most this many training digits (default: 50000, as in the book)")
    parser.add_argument("--quick", action="store_true", help="1 epoch on 1000 digits")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.limit = 1, 1000

    data = load_mnist(warn=False)
    print(f"data: {data.source}")
    X_train, y_train = data.X_train[:args.limit], data.y_train[:args.limit]
    net = MLP([784, 30, 10], activation="sigmoid", output="sigmoid", init="normal", seed=args.seed)
    n_test = len(data.y_test)

    def report(event):
        if event["event"] == "epoch":
            correct = round(event["test_accuracy"] * n_test)
            print(f"Epoch {event['epoch'] - 1}: {correct} / {n_test}")  # numbered from 0, as in the book

    start = time.perf_counter()
    history = fit(net, X_train, y_train, data.X_test, data.y_test, loss="quadratic",
                  optimizer=SGD(net.parameters(), lr=3.0), epochs=args.epochs, batch_size=10,
                  seed=args.seed, callback=report)
    epochs = f"{args.epochs} epoch{'s' * (args.epochs != 1)}"
    print(f"reached {100 * history[-1]['test_accuracy']:.2f}% test accuracy after {epochs} "
          f"on {len(X_train)} training digits ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
