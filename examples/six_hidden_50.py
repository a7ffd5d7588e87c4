"""Six hidden layers of 50 ReLUs (784-50-50-50-50-50-50-10), softmax + cross-entropy on
standardised pixels (each feature scaled to mean 0, std 1 with the training statistics), He
initialisation, and plain per-example SGD with a small learning rate (0.002, batch size 1), as
in the from-scratch NumPy tutorials this setup comes from.

Those tutorials run 20+ epochs; per-example steps make an epoch of 10,000 digits take a few
seconds here, so the default is 3 epochs (about 92% on the official test set from the bundled
sample). Raise --epochs for more.

    python examples/six_hidden_50.py             # 3 epochs
    python examples/six_hidden_50.py --quick     # 1 epoch on 1000 digits
"""
import argparse
import time

from tinygrad_mnist.data import load_mnist, standardize
from tinygrad_mnist.nn import MLP
from tinygrad_mnist.train import fit


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="passes over the training set (default: 3)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for the weights and the shuffles (default: 0)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training digits")
    parser.add_argument("--lr", type=float, default=0.002, help="learning rate (default: 0.002)")
    parser.add_argument("--batch-size", type=int, default=1, help="mini-batch size (default: 1)")
    parser.add_argument("--quick", action="store_true", help="1 epoch on 1000 digits")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.limit = 1, 1000

    data = load_mnist(warn=False)
    print(f"data: {data.source}")
    X_train, X_test = standardize(data.X_train[:args.limit], data.X_test)
    net = MLP([784] + [50] * 6 + [10], activation="relu", output=None, init="he", seed=args.seed)

    def report(event):
        if event["event"] == "epoch":
            print(f"epoch {event['epoch']}: cross-entropy {event['train_loss']:.4f}, "
                  f"test accuracy {100 * event['test_accuracy']:.2f}% ({event['seconds']:.1f} s)")

    start = time.perf_counter()
    history = fit(net, X_train, data.y_train[:args.limit], X_test, data.y_test, loss="cross-entropy",
                  lr=args.lr, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, callback=report)
    epochs = f"{args.epochs} epoch{'s' * (args.epochs != 1)}"
    print(f"reached {100 * history[-1]['test_accuracy']:.2f}% test accuracy after {epochs} "
          f"({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
