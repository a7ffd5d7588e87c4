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

from ..data import load_bundled_sample
from ..figures import check_format, misclassified_grid, require_matplotlib, weights_grid
from ..limits import MAX_FIGURE_PANELS
from ..nn import INITS, MLP, Linear
from ..serialize import load
from ..tensor import Tensor
from ..tools.explain import explain
from ..tools.graphviz import render, to_dot, to_text
from ..tools.learner import diagnose_file
from .args import (DEFAULT_SIZES, HIDDEN_ACTIVATIONS, MLP_LOSSES, UsageError, check_output, check_sizes,
                   int_from, non_negative_int, positive_int)

EXPLAIN_LOSSES = MLP_LOSSES + ("mse",)
# graph runs on random numbers, so no data set bounds its --batch: the picture is the same for
# any batch (only B in the shapes changes), so a larger one would only spend memory
MAX_GRAPH_BATCH = 100_000
# one layer's activations for the whole batch, B x the widest layer: 100M float32 numbers are
# 400 MB, and a forward and backward pass hold a few such arrays at once
MAX_ACTIVATIONS = 100_000_000


def _add_network_options(p: argparse.ArgumentParser, batch: int, loss: str = "quadratic",
                         losses=MLP_LOSSES) -> None:
    p.add_argument("--sizes", metavar="N", type=positive_int, nargs="+", default=list(DEFAULT_SIZES),
                   help="layer sizes, input first (default: 784 30 10)")
    p.add_argument("--batch", metavar="B", type=positive_int, default=batch,
                   help=f"samples in the batch (default: {batch})")
    mse = "; mse: sigmoid outputs and PyTorch's MSELoss, (a - y)^2 averaged over every element " \
          "(N = B x outputs)" if "mse" in losses else ""
    p.add_argument("--loss", choices=losses, type=str, default=loss,
                   help="quadratic: sigmoid outputs and 1/2 |a - y|^2 averaged over the batch (the textbook's); "
                        f"cross-entropy: softmax on the outputs{mse} (default: {loss})")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed for the weights and the batch (default: 0)")


def add_commands(subparsers) -> None:
    """Add the explain, diagnose, graph and show commands to ``subparsers`` (argparse's
    ``add_subparsers()`` result); each sets ``func`` to its handler."""
    e = subparsers.add_parser(
        "explain", help="the shape ledger: backprop op by op, each VJP with its shapes",
        description="Run one batch of real digits (the bundled sample) through a fresh MLP and print "
                    "the backward pass op by op: each VJP as a formula with the actual shapes, every "
                    "sum that undoes broadcasting written out.")
    _add_network_options(e, batch=10, losses=EXPLAIN_LOSSES)
    e.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, type=str, default="sigmoid",
                   help="the hidden layers' activation (default: sigmoid)")
    e.add_argument("--init", choices=INITS, type=str, default="scaled_normal",
                   help="initial weights: normal N(0,1) (Nielsen's network.py), scaled_normal N(0,1/n_in) "
                        "(his chapter 3), uniform U(-1,1) (the StackOverflow classic), xavier, he "
                        "(default: scaled_normal)")
    e.add_argument("--columns", action="store_true",
                   help="the textbook's column form (Nielsen): batches as (n,B), delta^l, BP1-BP4")
    e.add_argument("--check", action="store_true",
                   help="recompute every parameter gradient with the hand-derived backprop (manual: sigmoid "
                        "hidden layers; quadratic, cross-entropy, mse) and show the largest difference on "
                        "each parameter line")
    e.add_argument("--module-names", action="store_true",
                   help="name parameters layers.0.weight, ... instead of W1, b1, ...")
    e.set_defaults(func=cmd_explain)

    d = subparsers.add_parser(
        "diagnose", help="check your own backprop (e.g. the book's network.py, unchanged) and name its bug",
        description="Load a Python file as definitions (none of its top-level training code runs) and "
                    "check, on a batch of real digits against the engine's gradients, either a class with "
                    "backprop(self, x, y) (Nielsen's network.py: one sample at a time, then its "
                    "update_mini_batch as a step) or a function backprop(weights, biases, x, y) -> "
                    "(nabla_w, nabla_b) of the MEAN cost; name the likely bug and quote your line. How your "
                    "function holds the arrays is detected: columns (Nielsen): W (n_out,n_in), b (n_out,1), "
                    "x (n_in,B), y (n_out,B) one-hot; rows: W (n_in,n_out), b (n_out,), x (B,n_in), "
                    "y (B,n_out); one sample at a time or a batch; (nabla_b, nabla_w) or (nabla_w, nabla_b). "
                    "Exit status 0 when they match, 1 when they differ.")
    d.add_argument("file", metavar="MY_BACKPROP.py", type=str,
                   help="a Python file defining backprop(), e.g. network.py")
    _add_network_options(d, batch=4)
    d.add_argument("--convention", choices=("auto", "columns", "rows"), type=str, default="auto",
                   help="how your backprop function holds the arrays (default: auto, detected)")
    d.add_argument("--reduction", choices=("mean", "sum"), type=str, default="mean",
                   help="your gradients are of the mean cost over the batch (the engine's) or of the "
                        "sum (B times larger) (default: mean)")
    d.set_defaults(func=cmd_diagnose)

    g = subparsers.add_parser(
        "graph", help="draw the computation graph of an MLP's loss",
        description="Draw the graph of one forward pass and its loss: ops as nodes, forward and gradient "
                    "shapes on the edges. Uses Graphviz's dot when installed, else writes a .dot file "
                    "and says how to render it.")
    _add_network_options(g, batch=1)
    g.add_argument("-o", "--output", metavar="PATH", type=str, default="net.svg",
                   help="picture to write: .svg, .png, .pdf, or .dot for the text (default: net.svg)")
    g.add_argument("--text", action="store_true", help="also print the graph as an indented tree")
    g.set_defaults(func=cmd_graph)

    s = subparsers.add_parser(
        "show", help="draw a saved model's first-layer weights, or its misclassified test digits",
        description="Draw the first layer's hidden units as 28x28 images, or with --misclassified the "
                    "test digits (bundled sample) the model gets wrong. Needs matplotlib. At most "
                    f"{MAX_FIGURE_PANELS} are drawn: a wider layer is shown by an even sample of its units.")
    s.add_argument("model", metavar="MODEL.npz", type=str, help="a model written by train --save")
    s.add_argument("-o", "--output", metavar="PICTURE.png", type=str, required=True,
                   help="the picture to write (.png, .svg, .pdf)")
    s.add_argument("--misclassified", action="store_true",
                   help="draw misclassified test digits with predicted and true labels instead")
    s.add_argument("-n", metavar="N", type=int_from(1, f"an integer from 1 to {MAX_FIGURE_PANELS}",
                                                    MAX_FIGURE_PANELS), default=25,
                   help=f"how many misclassified digits to draw, at most {MAX_FIGURE_PANELS} (default: 25)")
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


def _model(sizes, loss: str, seed: int, activation: str = "sigmoid", init: str = "scaled_normal"):
    return MLP(sizes, activation=activation, output=None if loss == "cross-entropy" else "sigmoid", init=init,
               seed=seed)


def _loss(model, X, y, loss: str):
    out = model(Tensor(X))
    if loss == "mse":
        return out.mse(y)   # integer labels stand for one-hot rows
    return out.quadratic_cost(y) if loss == "quadratic" else out.softmax_cross_entropy(y)


# ------------------------------------------------------------------ handlers
def cmd_explain(args, out: TextIO, err: TextIO) -> int:
    """Print the shape ledger; with --check, exit 1 if any gradient disagrees with manual."""
    X, y = _digits_batch(args.sizes, args.batch, args.seed)
    model = _model(args.sizes, args.loss, args.seed, args.activation, args.init)
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
    X, y = _digits_batch(args.sizes, args.batch, args.seed)  # check the options before running their code
    model = _model(args.sizes, args.loss, args.seed)
    report = diagnose_file(args.file, model, X, y, loss=args.loss, reduction=args.reduction,
                           convention=None if args.convention == "auto" else args.convention)
    print(report.render(), file=out)
    return 0 if report.ok else 1


def cmd_graph(args, out: TextIO, err: TextIO) -> int:
    """Render the graph of the MLP's loss to args.output (or a .dot file with instructions)."""
    check_output("-o", args.output)  # /dev/null, a pipe, a directory: refused before any work
    check_sizes(args.sizes)
    if args.batch > MAX_GRAPH_BATCH:
        raise UsageError(f"--batch {args.batch}: graph draws batches of at most {MAX_GRAPH_BATCH:,} (the "
                         f"picture is the same for any batch; only B in the shapes changes)")
    _check_activations(args.sizes, args.batch)
    rng = np.random.default_rng(args.seed)
    X = rng.random((args.batch, args.sizes[0]), dtype=np.float32)
    y = rng.integers(0, args.sizes[-1], args.batch)
    model = _model(args.sizes, args.loss, args.seed)
    loss = _loss(model, X, y, args.loss)
    title = f"{'-'.join(map(str, args.sizes))} MLP, {args.loss} cost, batch {args.batch}"
    if args.text:
        print(to_text(loss, model=model), file=out, end="")
    message = render(to_dot(loss, model=model, title=title), args.output)
    print(message, file=out)
    return 0


def cmd_show(args, out: TextIO, err: TextIO) -> int:
    """Draw a saved model's first-layer weights, or its misclassified bundled test digits."""
    check_output("-o", args.output)
    require_matplotlib("show")  # before the model is read, with the install hint
    try:
        check_format(args.output)
    except ValueError as e:
        raise UsageError(f"-o {e}") from None
    model = load(args.model)
    if args.misclassified:
        data = load_bundled_sample()
        n = misclassified_grid(model, data.X_test, data.y_test, args.output, n=args.n)
        print(f"wrote {args.output}: {n} misclassified test digits", file=out)
    else:
        n = weights_grid(model, args.output)
        units = next(m for m in model.modules() if isinstance(m, Linear)).n_out
        sample = "" if n == units else f" (an even sample of {units}; show draws at most {MAX_FIGURE_PANELS})"
        print(f"wrote {args.output}: {n} hidden units{sample}", file=out)
    return 0
