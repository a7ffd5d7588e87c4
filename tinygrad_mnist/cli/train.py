"""The training commands of ``tinygrad-mnist``: train, evaluate, predict, download.

``add_commands(subparsers)`` adds them; each handler ``(args, out, err) -> int`` prints to
``out`` and returns the exit status, and lets the library's errors reach ``main``, which turns
them into one line on stderr (``cli/__init__.py``). Leaves out: the work itself (``train``,
``data``, ``digits``, ``nn``), which it calls.
"""
from __future__ import annotations

import argparse
import contextlib
import time
from typing import List, Optional, Sequence, TextIO

import numpy as np

from ..arch import PRESETS, ArchError, build_arch, parse_arch
from ..data import download, load_dataset, load_path
from ..digits import load_digit, write_png
from ..errors import AnomalyError, ModelFileError, ShapeError, TrainingDiverged
from ..figures import check_format, plot_history, require_matplotlib
from ..limits import DOWNLOAD_DEADLINE
from ..nn import INITS, MLP, Linear, Module, Sequential, Unflatten, predict_proba, training_mode
from ..optim import SGD, Adam
from ..serialize import load, save
from ..tensor import detect_anomaly, no_grad
from ..threads import limit, resolve as resolve_threads
from ..progress import bar_text
from ..train import EVAL_BATCH, confusion_matrix, fit, predict, save_history
from .args import (DEFAULT_SIZES, HIDDEN_ACTIVATIONS, MAX_ACTIVATIONS, MAX_PARAMETERS, MLP_LOSSES, PROG, UsageError,
                   check_output, check_sizes, decay_factor, fraction, non_negative_float, non_negative_int,
                   positive_float, positive_int)
from .signals import shielded, status_of, what

# Defaults of `tinygrad-mnist train`: Nielsen's 784-30-10 sigmoid network with the cross-entropy
# cost (his chapter 3), the scaled N(0, 1/n_in) weights, SGD lr 0.5 on mini-batches of 10.
# Measured on 2 cores: 93.65% on the official 10k test digits after training on the bundled
# 10k sample, in 1-3 s; a 60k training set (timed with Fashion-MNIST) takes about 7 s.
DEFAULT_EPOCHS = 10
DEFAULT_BATCH = 10
DEFAULT_LR = {"sgd": 0.5, "adam": 0.001}
# With --arch (convolutional and other ReLU networks) Adam at 0.001 on batches of 32 and He
# initialisation: with the MLP defaults above LeNet stays at chance (10.85% after 2 epochs on
# 2000 digits, measured).
ARCH_DEFAULTS = {"optimizer": "adam", "batch_size": 32, "init": "he"}
MLP_DEFAULTS = {"optimizer": "sgd", "batch_size": DEFAULT_BATCH, "init": "scaled_normal"}


# ------------------------------------------------------------------ parser
def _add_data_options(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("--dataset", choices=("mnist", "fashion-mnist"), type=str, default=None,
                     help="named data set (default mnist): full MNIST if downloaded, else the "
                          "bundled 10k/10k sample; fashion-mnist from the cache or "
                          "/usr/share/datasets/fashion-mnist")
    src.add_argument("--data", metavar="PATH", type=str, default=None,
                     help="a directory (the four IDX files, mnist.pkl.gz or train.csv) or one "
                          "file (mnist.pkl.gz, a Kaggle train.csv)")
    p.add_argument("--limit", metavar="N", type=positive_int, default=None,
                   help="use only the first N training and N test images (quick runs); only "
                        "those are read")
    p.add_argument("--threads", metavar="N", type=positive_int, default=None,
                   help="BLAS threads for the matrix products (default: the policy of "
                        "tinygrad_mnist.threads: 1 for an MLP, whose products are too small to share)")


def add_commands(sub) -> None:
    """Add train, evaluate, predict and download to ``sub`` (argparse's ``add_subparsers()``
    result); each sets ``func`` to its handler."""

    t = sub.add_parser("train", usage="%(prog)s [options]",
                       help="train a network and report test accuracy per epoch",
                       description="Train an MLP (--sizes) or any layer list (--arch, e.g. a convolutional "
                                   "network) by mini-batch gradient descent. With no options: "
                                   "784-30-10, sigmoid hidden layer, cross-entropy, SGD lr 0.5, "
                                   f"batch {DEFAULT_BATCH}, {DEFAULT_EPOCHS} epochs.")
    net = t.add_mutually_exclusive_group()
    net.add_argument("--sizes", metavar="N", type=positive_int, nargs="+", default=list(DEFAULT_SIZES),
                     help="MLP layer sizes, input first, e.g. --sizes 784 100 10 (default: 784 30 10)")
    net.add_argument("--arch", metavar="LAYERS", type=str, default=None,
                     help="any layer list instead of an MLP, e.g. \"conv(6,5) relu maxpool(2) flatten "
                          "linear(10)\", or a preset (" + ", ".join(PRESETS) + "); input sizes are "
                          "inferred; see README 'Convolutional networks'. Changes the defaults to "
                          "--optimizer adam, --batch-size 32, --init he")
    t.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, type=str, default=None,
                   help="hidden-layer activation of the --sizes MLP (default: sigmoid)")
    t.add_argument("--loss", choices=MLP_LOSSES, type=str, default="cross-entropy",
                   help="cross-entropy: softmax on the outputs; quadratic: sigmoid outputs and the "
                        "textbook 1/2 |a - y|^2 cost (default: cross-entropy)")
    t.add_argument("--epochs", type=positive_int, default=DEFAULT_EPOCHS,
                   help=f"passes over the training set (default: {DEFAULT_EPOCHS})")
    t.add_argument("--batch-size", type=positive_int, default=None,
                   help=f"mini-batch size (default: {DEFAULT_BATCH}; 32 with --arch)")
    t.add_argument("--optimizer", choices=("sgd", "adam"), type=str, default=None,
                   help="update rule (default: sgd; adam with --arch)")
    t.add_argument("--lr", type=positive_float, default=None,
                   help="learning rate (default: 0.5 for sgd, 0.001 for adam)")
    t.add_argument("--lr-decay", metavar="FACTOR", type=decay_factor, default=1.0,
                   help="multiply the learning rate by FACTOR in (0, 1] after every epoch (default: 1, "
                        "constant)")
    t.add_argument("--momentum", type=fraction, default=0.0,
                   help="SGD momentum in [0, 1) (default: 0)")
    t.add_argument("--weight-decay", type=non_negative_float, default=0.0,
                   help="L2 penalty: adds weight_decay * w to each gradient (default: 0)")
    t.add_argument("--init", choices=INITS, type=str, default=None,
                   help="weight initialisation (default: scaled_normal, N(0, 1/n_in); he with --arch)")
    t.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed for weights and shuffling (default: 0)")
    _add_data_options(t)
    t.add_argument("--save", metavar="MODEL.npz", type=str, default=None,
                   help="write the trained model here (atomically); on Ctrl-C, SIGTERM or SIGHUP, "
                        "the model of the last completed epoch is written and the exit status is "
                        "130, 143 or 129")
    t.add_argument("--metrics", metavar="METRICS.json", type=str, default=None,
                   help="write the per-epoch history (epoch, train_loss, test_loss, "
                        "test_accuracy, seconds) as strict JSON, null for NaN/Inf (atomically; "
                        "when interrupted, up to the last completed epoch)")
    t.add_argument("--plot", metavar="CURVE.png", type=str, default=None,
                   help="draw loss and accuracy per epoch (needs matplotlib: tinygrad_mnist[plot])")
    t.add_argument("--quiet", action="store_true",
                   help="no progress bar and no per-epoch lines; only the final result")
    t.add_argument("--detect-anomaly", action="store_true",
                   help="check every op's output and gradient for NaN/Inf (slower) and stop at the "
                        "first one, naming the op; exit status 1")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", usage="%(prog)s MODEL.npz [--dataset NAME | --data PATH] [--limit N] [--threads N]",
                       help="accuracy and confusion matrix of a saved model",
                       description="Evaluate a model saved by `train --save` on a test set.")
    e.add_argument("model", metavar="MODEL.npz", type=str, help="a model written by train --save")
    _add_data_options(e)
    e.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", usage="%(prog)s MODEL.npz FILE... [--background auto|light|dark] "
                                        "[--show-input INPUT.png]",
                       help="classify digit images with a saved model",
                       description="Print the predicted digit and the class probabilities for each "
                                   "picture of one digit: a drawing, a scan or a photo of any size "
                                   "(PNG, JPEG, BMP, GIF, TIFF, WebP, PGM; grey, colour or with "
                                   "transparency), prepared the way MNIST was made: white ink on "
                                   "black, cropped, scaled to fit 20x20 and centred by its centre of "
                                   "mass in 28x28. A .npy array of shape (28, 28) or (784,) is taken "
                                   "as a network input, unchanged.")
    p.add_argument("model", metavar="MODEL.npz", type=str, help="a model written by train --save")
    p.add_argument("files", metavar="FILE", type=str, nargs="+", help="pictures of digits, or .npy inputs")
    p.add_argument("--background", choices=("auto", "light", "dark"), type=str, default="auto",
                   help="the paper behind the ink: light (dark ink on white), dark (light ink, as "
                        "MNIST) or auto: told from the picture's border (default: auto)")
    p.add_argument("--invert", action="store_true", help="the same as --background light")
    p.add_argument("--show-input", metavar="INPUT.png", type=str, default=None,
                   help="write the 28x28 input the network saw (several files: side by side, in order)")
    p.set_defaults(func=cmd_predict)

    d = sub.add_parser("download", usage="%(prog)s [--dataset NAME] [--cache-dir DIR]",
                       help="fetch a full data set into the cache",
                       description="Download MNIST or Fashion-MNIST (the four IDX files, md5-checked) "
                                   "into $TINYGRAD_MNIST_HOME or ~/.cache/tinygrad_mnist.")
    d.add_argument("--dataset", choices=("mnist", "fashion-mnist"), type=str, default="mnist",
                   help="which data set (default: mnist)")
    d.add_argument("--cache-dir", metavar="DIR", type=str, default=None,
                   help="download here instead of the default cache directory")
    d.add_argument("--deadline", metavar="SECONDS", type=positive_float, default=DOWNLOAD_DEADLINE,
                   help=f"give up after this long, all files and mirrors together (default: "
                        f"{DOWNLOAD_DEADLINE:g})")
    d.set_defaults(func=cmd_download)


# ------------------------------------------------------------------ helpers
def _load_data(args, out: TextIO, announce: bool = True):
    """The Dataset the options ask for, cut to --limit; says where it came from once."""
    data = load_path(args.data, limit=args.limit) if args.data else \
        load_dataset(args.dataset or "mnist", warn=False, limit=args.limit)
    if announce:
        print(f"data: {data.source or data.name}", file=out)
    if args.limit is None:
        return data.X_train, data.y_train, data.X_test, data.y_test, data
    n = args.limit
    return data.X_train[:n], data.y_train[:n], data.X_test[:n], data.y_test[:n], data


def _check_model_fits(model_in: int, model_out: int, X: np.ndarray, ys: Sequence[np.ndarray],
                      what: str) -> None:
    if X.shape[1] != model_in:
        raise UsageError(f"{what} takes {model_in} inputs, but the images have {X.shape[1]} pixels")
    tops = [int(y.max()) for y in ys if len(y)]
    if tops and max(tops) >= model_out:
        raise UsageError(f"{what} has {model_out} outputs, but the labels go up to {max(tops)}")


class _ProgressBar:
    """Draws ``epoch 3/10 [#####.....]  52%  loss 0.2311  41,000 samples/s`` on a terminal,
    redrawn at most ten times a second."""

    WIDTH = 24

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.drawn = 0          # length of the line on screen, 0 if none
        self.last = 0.0

    def update(self, ev: dict) -> None:
        now = time.perf_counter()
        if now - self.last < 0.1 and ev["seen"] < ev["total"]:
            return
        self.last = now
        line = bar_text(ev, self.WIDTH)
        self.stream.write("\r" + line.ljust(self.drawn))
        self.stream.flush()
        self.drawn = len(line)

    def clear(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * self.drawn + "\r")
            self.stream.flush()
            self.drawn = 0


def _percent(acc: Optional[float]) -> str:
    return "n/a" if acc is None else f"{100 * acc:.2f}%"


def _epoch_line(ev: dict, n_test: int) -> str:
    parts = [f"epoch {ev['epoch']}/{ev['epochs']}", f"train loss {ev['train_loss']:.4f}"]
    if ev["test_accuracy"] is not None:
        parts += [f"test loss {ev['test_loss']:.4f}",
                  f"test accuracy {_percent(ev['test_accuracy'])} "
                  f"({round(ev['test_accuracy'] * n_test)} / {n_test})"]
    parts.append(f"{ev['seconds']:.1f} s")
    return ", ".join(parts)


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


# ------------------------------------------------------------------ commands
def _write_outputs(args: argparse.Namespace, model: Module, history: list, title: str) -> List[str]:
    """Write --save, --metrics and --plot (those given); returns the paths written."""
    if args.save:
        save(model, args.save)
    if args.metrics:
        save_history(history, args.metrics)
    if args.plot:
        plot_history(history, args.plot, title=title)
    return [p for p in (args.save, args.metrics, args.plot) if p]


def cmd_train(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    for flag, path in (("--save", args.save), ("--metrics", args.metrics), ("--plot", args.plot)):
        check_output(flag, path)
    if args.plot:
        require_matplotlib()  # fail now, with the install hint, rather than after training
        try:
            check_format(args.plot)
        except ValueError as e:
            raise UsageError(f"--plot {e}") from None
    for name, value in (ARCH_DEFAULTS if args.arch else MLP_DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.optimizer == "adam" and args.momentum:
        raise UsageError("--momentum applies to --optimizer sgd only (Adam keeps its own moments)")
    if args.arch:
        if args.activation is not None:
            raise UsageError("--activation applies to --sizes; with --arch, write the activations into "
                             "the layer list (relu, sigmoid, tanh)")
        _arch_tokens(args.arch)  # a bad layer list fails now, before the data are read
    else:
        check_sizes(args.sizes)
    X_train, y_train, X_test, y_test, data = _load_data(args, out, announce=not args.quiet)
    if args.arch:
        model = _build_arch(args.arch, X_train, args.init, args.seed, args.batch_size)
        _check_model_fits(X_train.shape[1], _outputs(model, X_train.shape[1]), X_train, [y_train, y_test],
                          "--arch")
    else:
        _check_model_fits(args.sizes[0], args.sizes[-1], X_train, [y_train, y_test], "--sizes")
        output = "sigmoid" if args.loss == "quadratic" else None
        model = MLP(args.sizes, activation=args.activation or "sigmoid", output=output, init=args.init,
                    seed=args.seed)
    lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    if args.optimizer == "sgd":
        opt = SGD(model.parameters(), lr=lr, momentum=args.momentum, weight_decay=args.weight_decay)
    else:
        opt = Adam(model.parameters(), lr=lr, weight_decay=args.weight_decay)
    threads = resolve_threads(args.threads, model, max(args.batch_size, EVAL_BATCH))  # fit's own choice
    if not args.quiet:
        decay = f" x{args.lr_decay:g} per epoch" if args.lr_decay != 1.0 else ""
        print(f"model: {model}, {args.loss} loss, {args.optimizer} lr {lr:g}{decay}, batch {args.batch_size}, "
              f"{args.epochs} epochs, {len(X_train)} training / {len(X_test)} test images, "
              f"{threads} BLAS thread{'s' * (threads != 1)}", file=out)
    bar = _ProgressBar(err) if not args.quiet and _is_tty(err) and _is_tty(out) else None
    title = f"{args.arch or model} on {data.name}"
    # (weights, history) as of the last completed epoch: what Ctrl-C writes. A mid-epoch
    # interrupt leaves the live weights half-updated, so they are never the ones saved.
    done: dict = {"weights": None, "history": []}

    def report(ev: dict) -> None:
        if ev["event"] == "batch":
            if bar is not None:
                bar.update(ev)
            return
        record = {k: ev[k] for k in ("epoch", "train_loss", "test_loss", "test_accuracy", "seconds", "diverged")}
        snapshot = {"weights": [p.data.copy() for p in model.parameters()],
                    "history": done["history"] + [record]}
        done.update(snapshot)  # one step, before the epoch line announces it
        if bar is not None:
            bar.clear()
        if not args.quiet:
            print(_epoch_line(ev, len(X_test)), file=out, flush=True)
        opt.lr *= args.lr_decay  # the next epoch's rate
        if ev["warning"] and not done.get("warned"):  # once: the first diverged epoch says it
            done["warned"] = True
            advice = f": {_divergence_advice(args, lr)}" if ev["loss_grew"] else ""
            print(f"{PROG} train: warning: epoch {ev['epoch']}: {ev['warning']}{advice}; or rerun with "
                  f"--detect-anomaly to stop at the first op that gives NaN or Inf", file=err, flush=True)

    start = time.perf_counter()
    # NumPy's overflow warnings would add lines to stderr; divergence is reported by fit
    # (FloatingPointError) or, with --detect-anomaly, at the first op that goes non-finite
    checks = detect_anomaly() if args.detect_anomaly else contextlib.nullcontext()
    written: Optional[List[str]] = None
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"), checks:
            history = fit(model, X_train, y_train, X_test, y_test, loss=args.loss, optimizer=opt,
                          epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                          callback=report, threads=threads)
        if bar is not None:
            bar.clear()
        with shielded():  # a signal now waits until the results are on disk
            written = _write_outputs(args, model, history, title)
    except KeyboardInterrupt as e:  # Ctrl-C, SIGTERM, SIGHUP (signals.Interrupted)
        if bar is not None:
            bar.clear()
        if written is not None:
            print(f"{PROG} train: {what(e)} while writing the results; finished writing "
                  f"{', '.join(written)} first", file=err)
            return status_of(e)
        return _interrupted(args, model, done, title, err, e)
    except AnomalyError as e:
        raise FloatingPointError(f"--detect-anomaly: in the {e.phase} pass of epoch "
                                 f"{len(done['history']) + 1}, {e.what}; the weights have blown up: "
                                 f"{_divergence_advice(args, lr)}") from None
    except TrainingDiverged as e:
        rerun = "" if args.detect_anomaly else \
            "; or rerun with --detect-anomaly to find the first op that gave NaN or Inf"
        raise FloatingPointError(f"training diverged: {e.what} in epoch {e.epoch}; "
                                 f"{_divergence_advice(args, lr)}{rerun}") from None
    finally:
        if bar is not None:
            bar.clear()
    seconds = time.perf_counter() - start
    last = history[-1]
    epochs = f"{args.epochs} epoch{'s' * (args.epochs != 1)}"
    print(f"test accuracy {_percent(last['test_accuracy'])} after {epochs} "
          f"({seconds:.1f} s)" + "".join(f"; wrote {p}" for p in written), file=out)
    return 0


def _divergence_advice(args: argparse.Namespace, lr: float) -> str:
    """What to change when training diverged. SGD's weight decay alone multiplies the weights
    by (1 - lr * weight_decay) each step; past lr * weight_decay = 2 (1 + momentum) that factor
    grows them without bound, whatever the gradients do: then the decay is to blame."""
    if args.optimizer == "sgd" and args.weight_decay:
        bound = 2 * (1 + args.momentum)
        if lr * args.weight_decay >= bound:
            return (f"--weight-decay {args.weight_decay:g} is too strong for --lr {lr:g} (each step "
                    f"multiplies the weights by {1 - lr * args.weight_decay:g}); use a weight decay "
                    f"below {bound / lr:g}")
    return f"the learning rate is probably too high: lower --lr (now {lr:g})"


def _interrupted(args: argparse.Namespace, model: Module, done: dict, title: str, err: TextIO,
                 e: KeyboardInterrupt) -> int:
    """A signal during training (Ctrl-C, SIGTERM, SIGHUP): write the last completed epoch's
    model and metrics, say so, and return 130, 143 or 129. Later signals wait for the save."""
    n = len(done["history"])
    when = f"during epoch {n + 1}" if n < args.epochs else "after the last epoch"
    if n == 0:
        print(f"{PROG} train: {what(e)} {when}; no epoch completed, nothing written", file=err)
        return status_of(e)
    for param, weights in zip(model.parameters(), done["weights"]):
        param.data = weights
    with shielded():
        written = _write_outputs(args, model, done["history"], title)
    kept = f"wrote {', '.join(written)} as of epoch {n}" if written else \
        f"{n} epoch{'s' * (n != 1)} completed; nothing written (no --save or --metrics)"
    print(f"{PROG} train: {what(e)} {when}; {kept}", file=err)
    return status_of(e)


def _arch_tokens(spec: str) -> list:
    """``arch.parse_arch``, its errors worded as being about --arch."""
    try:
        return parse_arch(spec)
    except ArchError as e:
        raise UsageError(f"--arch: {e}") from None


def _build_arch(spec: str, X: np.ndarray, init: str, seed: int, batch: int) -> Module:
    """The --arch network for rows like X's (their size is the first layer's input), refusing
    layers whose activations for one batch would pass MAX_ACTIVATIONS numbers."""
    try:
        return build_arch(spec, input_shape=X.shape[1:], init=init, seed=seed, max_parameters=MAX_PARAMETERS,
                          max_values=MAX_ACTIVATIONS // batch)
    except ArchError as e:
        raise UsageError(f"--arch: {e}") from None


def _outputs(model: Module, n_in: int) -> int:
    """How many outputs ``model`` gives for one row of ``n_in`` values (a dry forward pass)."""
    with no_grad(), training_mode(model, False):
        out = model(np.zeros((1, n_in), dtype=np.float32))
    if out.ndim != 2:
        raise UsageError(f"the network gives outputs of shape {out.shape[1:]} per image; it must end in "
                         f"one score per class (end the layer list with linear(10))")
    return out.shape[1]


def _first_layer(model: Module) -> Module:
    while isinstance(model, Sequential) and model.layers:
        model = model.layers[0]
    return model


def _model_sizes(model: Module, path: str) -> tuple:
    """(n_in, n_out) of a loaded model: n_in from its first layer (a Linear's n_in, or an
    Unflatten's image size), n_out from a dry forward pass of one zero row."""
    first = _first_layer(model)
    if isinstance(first, Linear):
        n_in = first.n_in
    elif isinstance(first, Unflatten) and first.dim == 1:
        n_in = int(np.prod(first.unflattened_size))
    else:
        raise ModelFileError(f"{path}: the model starts with {first!r}; the command line feeds flat rows "
                             f"of pixels (B,784), so it must start with a Linear or an Unflatten layer")
    try:
        return n_in, _outputs(model, n_in)
    except (ShapeError, UsageError) as e:
        raise ModelFileError(f"{path}: the model cannot classify rows of {n_in} values: {e}") from None


def cmd_evaluate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    model = load(args.model)
    n_in, n_out = _model_sizes(model, args.model)
    _, _, X, y, data = _load_data(args, out)
    if len(X) == 0:
        raise UsageError(f"{data.source or data.name}: holds no test images to evaluate on")
    _check_model_fits(n_in, n_out, X, [y], args.model)
    pred = predict(model, X, threads=args.threads)
    cm = confusion_matrix(y, pred, n_classes=n_out)
    correct = int(np.trace(cm))
    print(f"accuracy {100 * correct / len(y):.2f}% ({correct} / {len(y)} {data.name} test images)", file=out)
    print("confusion matrix (rows: true class, columns: predicted class)", file=out)
    width = max(5, len(str(cm.max())) + 1)
    print("true\\pred" + "".join(f"{j:>{width}}" for j in range(n_out)), file=out)
    for i, row in enumerate(cm):
        print(f"{i:>9}" + "".join(f"{v:>{width}}" for v in row), file=out)
    if data.classes != tuple(str(i) for i in range(10)):
        print("classes: " + ", ".join(f"{i} {name}" for i, name in enumerate(data.classes)), file=out)
    return 0


def cmd_predict(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    check_output("--show-input", args.show_input)
    model = load(args.model)
    n_in, _ = _model_sizes(model, args.model)
    if n_in != 784:
        raise UsageError(f"{args.model}: the model takes {n_in} inputs; a 28x28 image has 784")
    X = np.stack([load_digit(f, invert=args.invert, background=args.background) for f in args.files])
    if args.show_input:
        write_png(args.show_input, np.concatenate(list(X.reshape(-1, 28, 28)), axis=1))
    with limit(resolve_threads(None, model, len(X))):
        probs = predict_proba(model, X)
    for name, p in zip(args.files, probs):
        k = int(p.argmax())
        print(f"{name}: {k} ({100 * p[k]:.1f}%)  " + " ".join(f"{j}:{q:.3f}" for j, q in enumerate(p)),
              file=out)
    return 0


def cmd_download(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    tty = _is_tty(err)
    state = {"file": None, "drawn": 0.0}

    def progress(name: str, done: int, total: Optional[int]) -> None:
        if not tty:
            if state["file"] != name:
                print(f"downloading {name} ...", file=err, flush=True)
                state["file"] = name
            return
        now = time.monotonic()
        finished = total is not None and done >= total
        if now - state["drawn"] < 0.1 and not finished and done:
            return  # redrawn at most ten times a second
        state["drawn"] = now
        size = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
        pct = f"{100 * done / total:3.0f}% " if total else ""
        err.write(f"\r{name}  {pct}{size}   " + ("\n" if finished else ""))
        err.flush()

    paths = download(args.dataset, cache_dir=args.cache_dir, progress=progress, deadline=args.deadline)
    folder = paths[0].parent if paths else "?"
    print(f"{args.dataset}: {len(paths)} files in {folder}", file=out)
    return 0
