"""Draw a tensor's recorded graph: Graphviz DOT text (``to_dot``), an indented tree for the
terminal (``to_text``), ``render`` to run Graphviz's ``dot`` program when it is installed, and
``graph``, both in one object that Jupyter shows as a drawing (or as the tree without ``dot``).

Ops are nodes; edges carry the forward shape and the gradient's shape (with the sum that
undoes broadcasting when there is one). No Python dependency; leaves out the ledger's formulas
(``explain.py``). Reads only the public node view (``Tensor.node``).
"""
from __future__ import annotations

import errno
import os
import shutil
import subprocess
from typing import Dict, List, Optional, Tuple, Union

from ..errors import fmt_shape as _fmt
from ..files import atomic_file, is_special
from ..nn import Module
from ..tensor import Tensor
from .names import constant_name, input_names, parameter_names, tensor_names, traced_walk

PARAMETER_COLOR = "#cfe2ff"
INPUT_COLOR = "#eeeeee"
OP_COLOR = "#fff3cd"


class RenderError(RuntimeError):
    """Graphviz's ``dot`` ran and failed; the message has its stderr."""


def _analyse(tensor: Tensor, model: Optional[Module], names) -> Tuple[List[Tensor], Dict[Tensor, str],
                                                                       Dict[Tensor, str], dict]:
    """(tensors inputs-first, display names, {parameter: label}, {(op node, input index): gradient text})."""
    params, legend = parameter_names(model, names, "textbook")
    visits, tensors = [], [tensor]
    if tensor.requires_grad and not tensor.is_leaf:
        visits, _, tensors = traced_walk(tensor)
    tnames = tensor_names(tensors, params, tensor)
    labels = {p: (f"{n} = {legend[n]}" if legend.get(n, n) != n else n) for p, n in params.items()}
    grads = {}
    if visits:
        for v in visits:
            for e in v.edges:
                text = f"grad {_fmt(e.grad.shape)}"
                if e.summed_axes:
                    text = f"grad {_fmt(e.raw_shape)} summed to {_fmt(e.grad.shape)}"
                grads[(v.tensor, e.index)] = text
    return tensors, tnames, labels, grads


def _constant(node: Tensor, index: int) -> str:
    """How a non-Tensor input is shown: 'y (constant)' for a loss's target, else 'constant'."""
    names = input_names(node.node.op, len(node.node.inputs))
    name = constant_name(names[index]) if index < len(names) else "const"
    return "y (constant)" if name == "y" else "constant"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(tensor: Tensor, names=None, model: Optional[Module] = None, title: Optional[str] = None) -> str:
    """Graphviz DOT text of ``tensor``'s graph: op nodes (op name, output name and shape),
    parameter boxes labelled by name (``W1 = layers.0.weight (30,784)`` with ``model=``, or the
    keys of ``names``, a name -> Tensor mapping), input boxes, and edges labelled with the
    forward shape and the gradient's shape. Does not run backward or free the graph.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dot: expected a Tensor, got {type(tensor).__name__}")
    tensors, tnames, labels, grads = _analyse(tensor, model, names)
    ids = {t: f"n{i}" for i, t in enumerate(tensors)}
    lines = ["digraph backprop {", "  rankdir=BT;",
             '  graph [fontname="Helvetica"]; node [fontname="Helvetica", fontsize=10]; '
             'edge [fontname="Helvetica", fontsize=9];']
    if title:
        lines.append(f"  labelloc=t; label={_quote(title)};")
    n_const = 0
    for t in tensors:
        if t.is_leaf:
            kind = "parameter" if t in labels else ("input" if not t.requires_grad else "leaf")
            label = f"{labels.get(t, tnames[t])}\n{_fmt(t.shape)}"
            color = PARAMETER_COLOR if t.requires_grad else INPUT_COLOR
            lines.append(f"  {ids[t]} [label={_quote(label)}, shape=box, style=filled, fillcolor={_quote(color)}, "
                         f"tooltip={_quote(kind)}];")
            continue
        label = f"{t.op}\n{tnames[t]} {_fmt(t.shape)}"
        lines.append(f"  {ids[t]} [label={_quote(label)}, shape=ellipse, style=filled, fillcolor={_quote(OP_COLOR)}];")
        for i, p in enumerate(t.node.inputs or ()):
            if p is None:
                n_const += 1
                cid = f"c{n_const}"
                lines.append(f"  {cid} [label={_quote(_constant(t, i))}, shape=plaintext, fontcolor=gray40];")
                lines.append(f"  {cid} -> {ids[t]} [style=dashed, color=gray60];")
                continue
            edge = f"{_fmt(p.shape)}"
            grad = grads.get((t, i))
            if grad:
                edge += f"\n{grad}"
            style = "" if grad else ", style=dashed"
            lines.append(f"  {ids[p]} -> {ids[t]} [label={_quote(edge)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_text(tensor: Tensor, names=None, model: Optional[Module] = None) -> str:
    """``tensor``'s graph as an indented tree, output first: each line names a tensor, its shape,
    the op that made it, and the gradient that reaches it. A tensor used twice is expanded once
    and then marked ``(shown above)``.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_text: expected a Tensor, got {type(tensor).__name__}")
    _, tnames, labels, grads = _analyse(tensor, model, names)
    lines: List[str] = []
    shown = set()
    # explicit stack of (tensor, or the text shown for a constant; prefix of its children; its branch; its gradient)
    stack = [(tensor, "", "", "")]
    while stack:
        t, prefix, branch, grad = stack.pop()
        if isinstance(t, str):
            lines.append(f"{branch}{t}")
            continue
        name = labels.get(t, tnames[t])
        what = t.op or ("parameter" if t in labels else "input" if not t.requires_grad else "leaf")
        text = f"{branch}{name} {_fmt(t.shape)}  {'= ' + what if not t.is_leaf else '[' + what + ']'}"
        if grad:
            text += f"  <- {grad}"
        if not t.is_leaf and t in shown:
            lines.append(text + "  (shown above)")
            continue
        lines.append(text)
        shown.add(t)
        parents = list((t.node.inputs or ()) if t.node is not None else ())
        children = []
        for i, p in enumerate(parents):
            last = i == len(parents) - 1
            child = p if p is not None else _constant(t, i)
            indent, branch = ("    ", "└── ") if last else ("│   ", "├── ")
            children.append((child, prefix + indent, prefix + branch, grads.get((t, i), "")))
        stack.extend(reversed(children))
    return "\n".join(lines) + "\n"


class Graph:
    """A tensor's graph as ``graph`` returns it: ``.dot`` (DOT text), ``.text`` (the tree).
    In Jupyter it shows as an SVG drawing when Graphviz's ``dot`` is installed, else as the
    tree, which is also its ``repr``; ``.save(path)`` writes it (see ``render``)."""

    def __init__(self, dot: str, text: str):
        self.dot, self.text = dot, text

    def __repr__(self) -> str:
        return self.text

    def svg(self) -> Optional[str]:
        """The drawing as SVG text, None when ``dot`` is not installed or fails."""
        dot = shutil.which("dot")
        if dot is None:
            return None
        done = subprocess.run([dot, "-Tsvg"], input=self.dot.encode("utf-8"), capture_output=True, check=False)
        return done.stdout.decode("utf-8") if done.returncode == 0 else None

    def _repr_svg_(self) -> Optional[str]:
        return self.svg()  # None: Jupyter falls back to the text

    def save(self, path: Union[str, os.PathLike]) -> str:
        """``render`` this graph to ``path``; returns what was written."""
        return render(self.dot, path)


def graph(tensor: Tensor, names=None, model: Optional[Module] = None, title: Optional[str] = None) -> Graph:
    """``tensor``'s graph (arguments as ``to_dot``), to display in a notebook or save."""
    return Graph(to_dot(tensor, names=names, model=model, title=title), to_text(tensor, names=names, model=model))


def render(dot_text: str, path: Union[str, os.PathLike]) -> str:
    """Write the graph to ``path`` and return a one-line message saying what was written.

    With Graphviz's ``dot`` on PATH (Debian: ``apt-get install graphviz``), ``dot`` draws it in
    the format of ``path``'s extension (.svg, .png, .pdf). Without it, or for a .dot/.gv path,
    the DOT text itself is written (to ``path`` with its extension replaced by ``.dot``) and the
    message says how to render it. Writes are atomic (``atomic_file``). Raises RenderError if
    ``dot`` fails, FileExistsError if ``path`` exists and is not a regular file (``/dev/null``,
    a pipe, a directory: it is neither replaced nor given a ``.dot`` file beside it).
    """
    path = os.fspath(path)
    if os.path.isdir(path) or is_special(path):
        raise FileExistsError(errno.EEXIST, "exists and is not a regular file; give another name", path)
    root, ext = os.path.splitext(path)
    fmt = ext[1:].lower()
    dot = shutil.which("dot")
    if fmt in ("dot", "gv") or not fmt or dot is None:
        target = path if fmt in ("dot", "gv") else root + ".dot"
        with atomic_file(target, "w", suffix=".dot") as f:
            f.write(dot_text)
        if fmt in ("dot", "gv"):
            return f"wrote {target}"
        out = path if fmt else root + ".svg"
        return (f"wrote {target}: Graphviz's dot is not installed; install graphviz (apt-get install graphviz, "
                f"brew install graphviz) and run: dot -T{fmt or 'svg'} {target} -o {out}")
    # dot draws into the temp file, so a failure leaves path as it was
    with atomic_file(path, "wb", suffix=ext) as f:
        result = subprocess.run([dot, f"-T{fmt}"], input=dot_text.encode("utf-8"), stdout=f,
                                stderr=subprocess.PIPE, check=False)
        if result.returncode != 0:
            raise RenderError(f"dot -T{fmt} failed for {path}: {result.stderr.decode(errors='replace').strip()}")
    return f"wrote {path}"
