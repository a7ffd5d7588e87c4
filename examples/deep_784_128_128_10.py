"""A deeper textbook network: 784-128-128-10 (four layers of neurons), sigmoid everywhere and
the quadratic cost, trained by plain SGD (lr 3.0, mini-batches of 10). The weights start as
N(0, 1/n_in) ("scaled_normal", Nielsen ch. 3): with N(0, 1) the 128-wide sigmoid layers
saturate and learning crawls (try --init normal to see it).

    python examples/deep_784_128_128_10.py            # 10 epochs
    python examples/deep_784_128_128_10.py --quick    # 1 epoch on 1000 digits
"""
import argparse
import time

from tinygrad_mnist.data import load_mnist
from tinygrad_mnist.nn import INITS, MLP
from tinygrad_mnist.train import fit


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10, help="passes over the training set (default: 10)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for the weights and the shuffles (default: 0)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training digits")
    parser.add_argument("--lr", type=float, default=3.0, help="learning rate (default: 3.0)")
    parser.add_argument("--init", choices=INITS, default="scaled_normal",
                        help="weight init (default: scaled_normal)")
    parser.add_argument("--quick", action="store_true", help="1 epoch on 1000 digits")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.limit = 1, 1000

    data = load_mnist(warn=False)
    print(f"data: {data.source}")
    net = MLP([784, 128, 128, 10], activation="sigmoid", output="sigmoid", init=args.init, seed=args.seed)

    def report(event):
        if event["event"] == "epoch":
            print(f"epoch {event['epoch']}: quadratic cost {event['train_loss']:.4f}, "
                  f"test accuracy {100 * event['test_accuracy']:.2f}% ({event['seconds']:.1f} s)")

    start = time.perf_counter()
    history = fit(net, data.X_train[:args.limit], data.y_train[:args.limit], data.X_test, data.y_test,
                  loss="quadratic", lr=args.lr, epochs=args.epochs, batch_size=10, seed=args.seed,
                  callback=report)
    epochs = f"{args.epochs} epoch{'s' * (args.epochs != 1)}"
    print(f"reached {100 * history[-1]['test_accuracy']:.2f}% test accuracy after {epochs} "
          f"({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
