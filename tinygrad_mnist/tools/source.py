"""A learner's code as text and as definitions: ``load_definitions`` runs a file's imports,
functions, classes and constant assignments (walking its AST), never the top-level code that
trains, plots or reads data; ``Source`` finds the line of their code a finding points at.
Leaves out: what to check and how (``diagnose.py``, ``learner.py``).
"""
from __future__ import annotations

import __future__
import ast
import errno
import inspect
import io
import linecache
import os
import re
import sys
import tokenize
import types
import warnings
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from ..files import refuse_special

Region = Tuple[int, int]   # first and last line, 1-based, inclusive


# ------------------------------------------------------------------ the text
@dataclass
class Source:
    """A learner's file: ``name`` (as quoted, e.g. ``network.py``), its ``lines`` without
    comments, and ``code``, the numbers of the lines inside functions and classes that are code
    (not docstrings), the only lines a finding may point at."""
    name: str
    path: str
    lines: List[str]
    code: Set[int]
    raw: List[str] = field(repr=False, default_factory=list)
    tree: ast.Module = field(repr=False, default_factory=lambda: ast.Module(body=[], type_ignores=[]))

    @classmethod
    def read(cls, path: str, text: Optional[str] = None) -> Optional["Source"]:
        """The file at ``path`` (or ``text`` as its content), or None when it cannot be read or parsed."""
        if text is None:
            text = "".join(linecache.getlines(path))
        if not text:
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # invalid escapes in docstrings (the book's "\partial")
                tree = ast.parse(text)
        except (SyntaxError, ValueError):
            return None
        raw = text.splitlines()
        code: Set[int] = set()
        strings: Set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                code.update(range(node.body[0].lineno, (node.end_lineno or node.lineno) + 1))
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                strings.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))  # docstrings
        lines = _without_comments(text, raw)
        code = {n for n in code - strings if n <= len(lines) and lines[n - 1].strip()}
        return cls(os.path.basename(path), path, lines, code, raw, tree)

    @classmethod
    def of(cls, *objs) -> Tuple[Optional["Source"], List[Region]]:
        """The source file of the first object (a function, method, class, or an instance: its
        class) and the regions of the code they run: each object's lines, then those of the
        functions and classes of the same file that they name, and so on. (None, []) when Python
        cannot find the text (code typed into a notebook cell or exec'd from a string)."""
        source, regions, seen = None, [], set()
        todo = [o if inspect.isroutine(o) or inspect.isclass(o) else type(o) for o in objs if o is not None]
        while todo:
            obj = todo.pop(0)
            obj = getattr(obj, "__func__", obj)
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            path = _file_of(obj)
            if path is None:
                continue
            if source is None:
                source = cls.read(path)
                if source is None:
                    return None, []
            if path != os.path.abspath(source.path):
                continue   # code of another file (a library): not the learner's to point at
            region = source.region_of(obj.__name__, near=getattr(getattr(obj, "__code__", None),
                                                                  "co_firstlineno", None))
            if region is not None:
                regions.append(region)
            todo.extend(_named(obj))
        return source, regions

    def quote(self, lineno: int) -> str:
        """``network.py:87  sp = sigmoid_prime(activations[-l])``."""
        return f"{self.name}:{lineno}  {self.raw[lineno - 1].strip()}"

    def locate(self, patterns: Sequence[str], regions: Iterable[Region], layer: Optional[str] = None,
               kind: Optional[str] = None) -> Optional[int]:
        """The line most likely to hold a bug: the first of ``regions`` (the checked code, then
        the code it calls) with a code line matching one of ``patterns``; within it a line that
        fits ``layer`` ("output"/"hidden") and ``kind`` ("weights"/"biases"), then the earliest
        pattern, then the first line. None when no line matches: no guessing elsewhere."""
        if not patterns:
            return None
        compiled = [re.compile(p) for p in patterns]
        for first, last in regions:
            best = None
            for n in range(max(first, 1), min(last, len(self.lines)) + 1):
                if n not in self.code:
                    continue
                text = self.lines[n - 1]
                hit = next((i for i, p in enumerate(compiled) if p.search(text)), None)
                if hit is None:
                    continue
                score = (_misfit(text, layer, kind), hit, n)
                if best is None or score < best:
                    best = score
            if best is not None:
                return best[2]
        return None

    def region_of(self, name: str, inside: Optional[Region] = None, near: Optional[int] = None) -> Optional[Region]:
        """The lines of the function or class called ``name``: the first inside ``inside``, or
        the one whose definition starts at line ``near`` (a function's ``co_firstlineno``,
        which counts its decorators)."""
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                region = (start, node.end_lineno or node.lineno)
                if near is not None and start != near:
                    continue
                if inside is None or inside[0] <= region[0] <= inside[1]:
                    return region
        return None


def _file_of(obj) -> Optional[str]:
    """The file a function or class was defined in (a class: by its methods' code, which also
    works for classes of a learner's file loaded by ``load_definitions``)."""
    if inspect.isclass(obj):
        codes = [getattr(getattr(v, "__func__", v), "__code__", None) for v in vars(obj).values()]
        codes = [c for c in codes if c is not None]
        return os.path.abspath(codes[0].co_filename) if codes else None
    code = getattr(obj, "__code__", None)
    return os.path.abspath(code.co_filename) if code is not None else None


def _named(obj) -> List[object]:
    """The functions and classes a function (or a class's methods) names as globals."""
    if inspect.isclass(obj):
        out = []
        for value in vars(obj).values():
            value = getattr(value, "__func__", value)
            if inspect.isfunction(value):
                out.append(value)
        return out
    code = getattr(obj, "__code__", None)
    if code is None:
        return []
    names, stack = set(), [code]
    while stack:   # nested functions, lambdas and comprehensions keep their own code objects
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    found = (obj.__globals__.get(n) for n in sorted(names))
    return [f for f in found if inspect.isfunction(f) or inspect.isclass(f)]


def _without_comments(text: str, raw: List[str]) -> List[str]:
    lines = list(raw)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                row, col = tok.start
                lines[row - 1] = lines[row - 1][:col]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # the parse succeeded, so this is not expected; the raw lines still work
    return lines


_OUTPUT = re.compile(r"\[-1\]|\b(output|last|final)\w*|\bL\]")
_WEIGHTS = re.compile(r"weight|nabla_w|\bd_?[Ww]\b|\bd_?W\w*|\bW\w*\b|\bw\b")
_BIASES = re.compile(r"bias|nabla_b|\bd_?b\w*\b|\bb\d*\b")


def _misfit(text: str, layer: Optional[str], kind: Optional[str]) -> int:
    """How many of the hints a line contradicts (output vs hidden layer, weights vs biases)."""
    bad = 0
    if layer is not None and bool(_OUTPUT.search(text)) != (layer == "output"):
        bad += 1
    if kind == "weights" and not _WEIGHTS.search(text) or kind == "biases" and not _BIASES.search(text):
        bad += 1
    return bad


# ------------------------------------------------------------------ definitions only
@dataclass
class LearnerModule:
    """A learner's file loaded as definitions: ``namespace`` (what it defines), ``warnings``
    (imports and definitions that failed, one line each), ``skipped`` (names bound by top-level
    code that was not run -> its line) and its ``source``."""
    path: str
    name: str
    namespace: dict
    warnings: List[str]
    skipped: Dict[str, int]
    source: Optional[Source]


def check_learner_file(path, what: str = "a .py file defining backprop()") -> str:
    """``path`` as a string, or the error a learner should see: a directory, a pipe or device
    (importing it would block), a missing file."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, f"is a directory; expected {what}", path)
    refuse_special(path, what)
    if not os.path.isfile(path):
        raise FileNotFoundError(errno.ENOENT, "No such file", path)
    return path


_FUTURE = {name: getattr(__future__, name).compiler_flag for name in __future__.all_feature_names}


def load_definitions(path) -> LearnerModule:
    """Load the learner's file at ``path`` as definitions only.

    Runs, statement by statement and in order: imports (with the file's folder first on
    ``sys.path``, so ``import mnist_loader`` finds the file beside it), ``def`` and ``class``
    statements, assignments of constants (literals, names, arithmetic, lambdas: nothing that
    calls), and ``try`` blocks holding only those. Nothing else at the top level runs: no
    training, plotting or data reading, no ``if __name__ == "__main__":`` block. A statement that
    fails (``import mnist_loader`` when the loader is elsewhere) becomes a warning and loading
    goes on. Modules imported from the learner's folder are forgotten afterwards, so the next
    load reads them afresh.

    Raises FileNotFoundError, IsADirectoryError, or ValueError (a pipe or device, a syntax
    error with its line).
    """
    path = check_learner_file(path)
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); expected a Python file") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # invalid escapes in docstrings (the book's "\partial") do not matter here
        try:
            tree = ast.parse(text, filename=path)
        except SyntaxError as e:
            py2 = " (Python 2 code? The book's original network.py is Python 2: use its Python 3 port)" \
                if "Missing parentheses in call to 'print'" in str(e.msg) else ""
            raise ValueError(f"{path}:{e.lineno}: syntax error: {e.msg}{py2}") from None
    # in sys.modules only while loading (dataclasses look classes' modules up), so one name
    # per file is enough
    name = "_learner_" + re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
    module = types.ModuleType(name)
    module.__file__ = os.path.abspath(path)
    namespace = module.__dict__
    flags = 0
    warn: List[str] = []
    skipped: Dict[str, int] = {}
    shown = os.path.basename(path)
    folder = os.path.dirname(os.path.abspath(path))
    before = set(sys.modules)
    added_path = folder not in sys.path
    if added_path:
        sys.path.insert(0, folder)
    sys.modules[name] = module   # dataclasses and typing look the module up while classes are made
    try:
        for i, node in enumerate(tree.body):
            if i == 0 and _is_string(node):
                namespace["__doc__"] = node.value.value
                continue
            if not _is_definition(node):
                for target in _bound_names(node):
                    skipped.setdefault(target, node.lineno)
                continue
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                flags |= sum(_FUTURE.get(a.name, 0) for a in node.names)
            code = compile(ast.Module(body=[node], type_ignores=[]), os.path.abspath(path), "exec",
                           flags=flags, dont_inherit=True)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
                    exec(code, namespace)  # a definition from the learner's own file: that is the point
            except (Exception, SystemExit) as e:  # reported, and the check goes on without it
                what = ast.get_source_segment(text, node) or ""
                what = what.splitlines()[0] if what else type(node).__name__
                warn.append(f"{shown}:{node.lineno}: {what} failed ({type(e).__name__}: {e}); going on without it")
    finally:
        sys.modules.pop(name, None)
        if added_path and folder in sys.path:
            sys.path.remove(folder)
        for mod in set(sys.modules) - before:
            file = getattr(sys.modules[mod], "__file__", None)
            if "." not in mod and file and os.path.dirname(os.path.abspath(file)) == folder:
                del sys.modules[mod]   # the learner's own modules beside the file: read afresh next time
    return LearnerModule(path, name, namespace, warn, skipped, Source.read(path, text))


def _is_string(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _is_definition(node: ast.stmt) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return (node.value is not None and all(_is_name_target(t) for t in targets)
                and _is_constant(node.value))
    if isinstance(node, ast.Try):
        inner = node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
        return all(isinstance(s, ast.Pass) or _is_definition(s) for s in inner)
    return False


def _is_name_target(t: ast.expr) -> bool:
    if isinstance(t, (ast.Tuple, ast.List)):
        return all(_is_name_target(e) for e in t.elts)
    return isinstance(t, ast.Name)


def _is_constant(value: ast.expr) -> bool:
    """No call anywhere in the expression (lambda bodies aside: they run only when called)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Lambda):
            stack.extend(node.args.defaults + [d for d in node.args.kw_defaults if d is not None])
            continue
        if isinstance(node, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)):
            return False
        stack.extend(ast.iter_child_nodes(node))
    return True


def _bound_names(node: ast.stmt) -> List[str]:
    """Names a skipped top-level statement would have bound (for 'this name was never set')."""
    local = {n.id for c in ast.walk(node) if isinstance(c, ast.comprehension)
             for n in ast.walk(c.target) if isinstance(n, ast.Name)}   # a comprehension's own variables
    return [sub.id for sub in ast.walk(node)
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store) and sub.id not in local]
