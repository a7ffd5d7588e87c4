"""The learning commands of ``tinygrad-mnist``: explain, diagnose, graph, show.

``add_commands(subparsers)`` adds them; each handler ``(args, out, err) -> int`` prints to
``out`` and returns 0 (ok) or 1 (a finding: gradients differ), and lets the library's errors
reach ``main`` (``cli/__init__.py``), which reports them. Leaves out: the work itself
(``tools``, ``figures``).
"""
from __future__ import annotations

import argparse
from typing import TextIO

import numpy as np

from ..arch import PRESETS, ArchError, build_arch
from ..data import load_bundled_sample
from ..figures import filters_grid, misclassified_grid, weights_grid
from ..nn import MLP, Conv2d, training_mode
from ..serialize import load
from ..tensor import Tensor, no_grad
from ..tools.diagnose import diagnose_function, load_backprop_function
from ..tools.explain import explain
from ..tools.graphviz import render, to_dot, to_text
from .args import (DEFAULT_SIZES, MAX_ACTIVATIONS, MAX_PARAMETERS, UsageError, check_output, check_sizes,
                   non_negative_int, positive_int)
LOSS_CHOICES = ("quadratic", "cross-entropy")
# graph runs on random numbers, so no data set bounds its --batch: the picture is the same for
# any batch (only B in the shapes changes), so a larger one would only spend memory
MAX_GRAPH_BATCH = 100_000


def _add_network_options(p: argparse.ArgumentParser, batch: int, loss: str = "quadratic",
                         arch: bool = False) -> None:
    net = p.add_mutually_exclusive_group()
    net.add_argument("--sizes", metavar="N", type=positive_int, nargs="+", default=list(DEFAULT_SIZES),
                     help="MLP layer sizes, input first (default: 784 30 10)")
    if arch:
        net.add_argument("--arch", metavar="LAYERS", type=str, default=None,
                         help="any layer list instead of an MLP, as for train --arch, e.g. \"conv(6,5) relu "
                              "maxpool(2) flatten linear(10)\" or " + ", ".join(PRESETS)
                              + " (default loss then: cross-entropy)")
    p.add_argument("--batch", metavar="B", type=positive_int, default=batch,
                   help=f"samples in the batch (default: {batch})")
    p.add_argument("--loss", choices=LOSS_CHOICES, type=str, default=None,
                   help="quadratic: sigmoid outputs and 1/2 |a - y|^2 (the textbook's); cross-entropy: "
                        f"softmax on the outputs (default: {loss}; cross-entropy with --arch)")
    p.set_defaults(default_loss=loss)
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed for the weights and the batch (default: 0)")


def add_commands(subparsers) -> None:
    """Add the explain, diagnose, graph and show commands to ``subparsers`` (argparse's
    ``add_subparsers()`` result); each sets ``func`` to its handler."""
    e = subparsers.add_parser(
        "explain", help="the shape ledger: backprop op by op, each VJP with its shapes",
        description="Run one batch of real digits (the bundled sample) through a fresh MLP (or an --arch "
                    "network, e.g. a convolutional one) and print "
                    "the backward pass op by op: each VJP as a formula with the actual shapes, every "
                    "sum that undoes broadcasting written out.")
    _add_network_options(e, batch=10, arch=True)
    e.add_argument("--columns", action="store_true",
                   help="the textbook's column form (Nielsen): batches as (n,B), delta^l, BP1-BP4")
    e.add_argument("--check", action="store_true",
                   help="recompute every parameter gradient with the hand-derived backprop (manual) and "
                        "show the largest difference on each parameter line")
    e.add_argument("--module-names", action="store_true",
                   help="name parameters layers.0.weight, ... instead of W1, b1, ...")
    e.set_defaults(func=cmd_explain)

    d = subparsers.add_parser(
        "diagnose", help="check your own backprop(weights, biases, x, y) and name its bug",
        description="Import backprop(weights, biases, x, y) -> (nabla_w, nabla_b) from a Python file, run "
                    "it on a batch of real digits, compare with the engine's gradients of the MEAN cost, "
                    "and name the likely bug. columns convention (Nielsen): W (n_out,n_in), b (n_out,1), "
                    "x (n_in,B), y (n_out,B) one-hot; rows: W (n_in,n_out), b (n_out,), x (B,n_in), "
                    "y (B,n_out). Exit status 0 when they match, 1 when they differ.")
    d.add_argument("file", metavar="MY_BACKPROP.py", type=str, help="a Python file defining backprop()")
    _add_network_options(d, batch=4)
    d.add_argument("--convention", choices=("columns", "rows"), type=str, default="columns",
                   help="how your function holds the arrays (default: columns)")
    d.add_argument("--reduction", choices=("mean", "sum"), type=str, default="mean",
                   help="your gradients are of the mean cost over the batch (the engine's) or of the "
                        "sum (B times larger) (default: mean)")
    d.set_defaults(func=cmd_diagnose)

    g = subparsers.add_parser(
        "graph", help="draw the computation graph of an MLP's (or an --arch network's) loss",
        description="Draw the graph of one forward pass and its loss: ops as nodes, forward and gradient "
                    "shapes on the edges. Uses Graphviz's dot when installed, else writes a .dot file "
                    "and says how to render it.")
    _add_network_options(g, batch=1, arch=True)
    g.add_argument("-o", "--output", metavar="PATH", type=str, default="net.svg",
                   help="picture to write: .svg, .png, .pdf, or .dot for the text (default: net.svg)")
    g.add_argument("--text", action="store_true", help="also print the graph as an indented tree")
    g.set_defaults(func=cmd_graph)

    s = subparsers.add_parser(
        "show", help="draw a saved model's first-layer weights, or its misclassified test digits",
        description="Draw the first layer's hidden units as 28x28 images (for a convolutional network: "
                    "the first convolution's filters), or with --misclassified the test digits (bundled "
                    "sample) the model gets wrong. Needs matplotlib.")
    s.add_argument("model", metavar="MODEL.npz", type=str, help="a model written by train --save")
    s.add_argument("-o", "--output", metavar="PICTURE.png", type=str, required=True,
                   help="the picture to write (.png, .svg, .pdf)")
    s.add_argument("--misclassified", action="store_true",
                   help="draw misclassified test digits with predicted and true labels instead")
    s.add_argument("-n", metavar="N", type=positive_int, default=25,
                   help="how many misclassified digits to draw (default: 25)")
    s.set_defaults(func=cmd_show)


# ------------------------------------------------------------------ helpers
def _check_activations(sizes, batch: int) -> None:
    """Refuse a batch whose activations alone would not fit (see MAX_ACTIVATIONS), before the
    forward pass allocates them and dies with a MemoryError traceback."""
    widest = max(sizes)
    if batch * widest > MAX_ACTIVATIONS:
        raise UsageError(f"--batch {batch} with a layer of {widest:,} units means {batch * widest:,} numbers "
                         f"in one activation, more than the {MAX_ACTIVATIONS:,} allowed; use a smaller "
                         f"--batch or narrower --sizes")


def _digits_batch(sizes, batch: int, seed: int):
    """A batch of real digits from the bundled sample: X (B, 784) float32, labels (B,).
    Checks --sizes and --batch first, so nothing absurd is ever allocated."""
    check_sizes(sizes)
    if sizes[0] != 784 or sizes[-1] != 10:
        raise ValueError(f"--sizes must start with 784 (28x28 pixels) and end with 10 (digits) to run on "
                         f"MNIST, got {' '.join(map(str, sizes))}")
    data = load_bundled_sample()
    if batch > len(data.X_train):
        raise ValueError(f"--batch {batch} is larger than the {len(data.X_train)} bundled training digits")
    _check_activations(sizes, batch)
    idx = np.random.default_rng(seed).choice(len(data.X_train), size=batch, replace=False)
    return data.X_train[idx], data.y_train[idx]


def _model(sizes, loss: str, seed: int):
    return MLP(sizes, output="sigmoid" if loss == "quadratic" else None, seed=seed)


def _resolve(args) -> None:
    """Fill in the defaults that depend on --arch (the loss), once, before any work."""
    if args.loss is None:
        args.loss = "cross-entropy" if getattr(args, "arch", None) else args.default_loss


def _arch_model(args):
    """The --arch network for 784-pixel rows, its errors worded as being about --arch; refuses a
    --batch whose widest activation would pass MAX_ACTIVATIONS (measured by a one-row dry run)."""
    try:
        model = build_arch(args.arch, (784,), seed=args.seed, max_parameters=MAX_PARAMETERS,
                           max_values=MAX_ACTIVATIONS // args.batch)
    except ArchError as e:
        raise UsageError(f"--arch: {e}") from None
    widest, t = 784, Tensor(np.zeros((1, 784), np.float32))
    with no_grad(), training_mode(model, False):
        for layer in model.layers:
            t = layer(t)
            widest = max(widest, t.size)
    if t.shape != (1, 10):
        raise UsageError(f"--arch: the network gives outputs of shape {t.shape[1:]} per digit; end it with "
                         f"linear(10), one score per digit")
    if args.batch * widest > MAX_ACTIVATIONS:
        raise UsageError(f"--batch {args.batch} with a layer of {widest:,} values per digit means "
                         f"{args.batch * widest:,} numbers in one activation, more than the "
                         f"{MAX_ACTIVATIONS:,} allowed; use a smaller --batch")
    return model


def _loss(model, X, y, loss: str):
    out = model(Tensor(X))
    return out.quadratic_cost(y) if loss == "quadratic" else out.softmax_cross_entropy(y)


# ------------------------------------------------------------------ handlers
def cmd_explain(args, out: TextIO, err: TextIO) -> int:
    """Print the shape ledger; with --check, exit 1 if any gradient disagrees with manual."""
    _resolve(args)
    if args.arch:
        model = _arch_model(args)
        X, y = _digits_batch(DEFAULT_SIZES, args.batch, args.seed)
    else:
        X, y = _digits_batch(args.sizes, args.batch, args.seed)
        model = _model(args.sizes, args.loss, args.seed)
    ledger = explain(_loss(model, X, y, args.loss), model=model, columns=args.columns, check=args.check,
                     x=X, y=y, style="module" if args.module_names else "textbook")
    print(ledger.render(), file=out)
    if args.check:
        verdict = "every parameter gradient agrees with manual" if ledger.all_agree else \
            "SOME GRADIENTS DISAGREE with manual"
        print(verdict, file=out)
        return 0 if ledger.all_agree else 1
    return 0


def cmd_diagnose(args, out: TextIO, err: TextIO) -> int:
    """Run the learner's file and print the report: exit 0 when it matches, 1 when it differs."""
    _resolve(args)
    X, y = _digits_batch(args.sizes, args.batch, args.seed)  # check the options before running their code
    fn = load_backprop_function(args.file)
    model = _model(args.sizes, args.loss, args.seed)
    report = diagnose_function(fn, model, X, y, loss=args.loss, convention=args.convention,
                               reduction=args.reduction)
    print(report.render(), file=out)
    return 0 if report.ok else 1


def cmd_graph(args, out: TextIO, err: TextIO) -> int:
    """Render the graph of the MLP's loss to args.output (or a .dot file with instructions)."""
    check_output("-o", args.output)  # /dev/null, a pipe, a directory: refused before any work
    _resolve(args)
    if args.batch > MAX_GRAPH_BATCH:
        raise UsageError(f"--batch {args.batch}: graph draws batches of at most {MAX_GRAPH_BATCH:,} (the "
                         f"picture is the same for any batch; only B in the shapes changes)")
    if args.arch:
        model = _arch_model(args)
        n_in, n_out, what = 784, 10, args.arch
    else:
        check_sizes(args.sizes)
        _check_activations(args.sizes, args.batch)
        model = _model(args.sizes, args.loss, args.seed)
        n_in, n_out, what = args.sizes[0], args.sizes[-1], f"{'-'.join(map(str, args.sizes))} MLP"
    rng = np.random.default_rng(args.seed)
    X = rng.random((args.batch, n_in), dtype=np.float32)
    y = rng.integers(0, n_out, args.batch)
    loss = _loss(model, X, y, args.loss)
    title = f"{what}, {args.loss} cost, batch {args.batch}"
    if args.text:
        print(to_text(loss, model=model), file=out, end="")
    message = render(to_dot(loss, model=model, title=title), args.output)
    print(message, file=out)
    return 0


def cmd_show(args, out: TextIO, err: TextIO) -> int:
    """Draw a saved model's first-layer weights, or its misclassified bundled test digits."""
    check_output("-o", args.output)
    model = load(args.model)
    if args.misclassified:
        data = load_bundled_sample()
        n = misclassified_grid(model, data.X_test, data.y_test, args.output, n=args.n)
        print(f"wrote {args.output}: {n} misclassified test digits", file=out)
    elif any(isinstance(m, Conv2d) for m in model.modules()):
        n = filters_grid(model, args.output)
        print(f"wrote {args.output}: {n} filters of the first convolution", file=out)
    else:
        n = weights_grid(model, args.output)
        print(f"wrote {args.output}: {n} hidden units", file=out)
    return 0
