"""The package's layout rules (STYLE.md, "Layout"): no import cycle, each layer imports only
the layers below it, tools use the public node view, the data layer loads no engine, and a
new layer is saveable with no edit to the package."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_mnist
from tinygrad_mnist import load, save
from tinygrad_mnist.nn import LAYERS, Linear, Module, Sequential
from tinygrad_mnist.tensor import Tensor

PACKAGE = Path(tinygrad_mnist.__file__).parent

# Each module's rank in "errors -> ops -> autograd -> tensor -> nn/losses/optim -> train ->
# tools -> cli": a module may import only modules of a lower rank (or its own package's).
RANKS = {
    "errors": 0, "limits": 0, "files": 1, "manual": 0, "threads": 0, "progress": 0, "interop": 5, "data": 2,
    "ops": 1, "autograd": 2, "tensor": 3,
    "gradcheck": 4, "nn": 4, "losses": 4, "optim": 4, "testing": 5, "serialize": 5, "train": 5, "arch": 5,
    "digits": 2, "prepare": 1, "figures": 6, "tools": 7, "explain": 8, "diagnose": 8, "cli": 9, "__main__": 10,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict:
    """{module: {package modules it imports anywhere in its code (functions included)}}."""
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".") if package else []
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:  # "from . import ops" imports the module ops
                    sub = f"{target}.{alias.name}" if target else alias.name
                    found.add(sub if (PACKAGE / sub.replace(".", "/")).with_suffix(".py").exists()
                              or (PACKAGE / sub.replace(".", "/")).is_dir() else target)
            elif isinstance(node, ast.Import):
                found |= {a.name[len("tinygrad_mnist."):] for a in node.names if a.name.startswith("tinygrad_mnist.")}
        graph[name] = {m for m in found if m and m != name}
    return graph


def test_no_import_cycle():
    graph = _imports()
    state = {}
    for start in graph:
        stack = [(start, iter(sorted(graph.get(start, ()))))]
        path = [start]
        state[start] = state.get(start) or "open"
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = "done"
                stack.pop()
                path.pop()
                continue
            if state.get(child) == "open" and child in path:
                cycle = path[path.index(child):] + [child]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if state.get(child) is None and child in graph:
                state[child] = "open"
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)


def test_each_module_imports_only_lower_layers():
    for module, targets in _imports().items():
        top = module.split(".")[0] or "__init__"
        if top == "__init__":
            continue  # the package's lazy names point anywhere, on first use only
        for target in targets:
            other = target.split(".")[0]
            if other == top:
                continue  # inside one package (ops/, tools/, cli/, data/)
            assert RANKS[other] < RANKS[top], f"{module} imports {target}: {top} may not import {other}"


def test_manual_never_imports_the_engine():
    assert _imports()["manual"] == set()


def test_importing_the_data_layer_loads_neither_the_engine_nor_urllib():
    code = ("import sys, tinygrad_mnist.data\n"
            "bad = [m for m in sys.modules if m.startswith(('tinygrad_mnist.tensor', 'tinygrad_mnist.ops', "
            "'tinygrad_mnist.autograd', 'tinygrad_mnist.nn', 'urllib.request', 'http.client'))]\n"
            "print(bad)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_tools_read_no_private_tensor_field():
    """Tensor has no underscored fields left for tools to reach into: a node is public."""
    assert all(not name.startswith("_") for name in Tensor.__slots__)


class Scale(Module):
    """A layer defined outside the package: y = x * s, one learnable scale per feature."""

    def __init__(self, n: int, init: float = 1.0):
        self.n, self.init = n, init
        self.s = Tensor(np.full(n, init, dtype=np.float32), requires_grad=True)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.s


def test_a_new_layer_is_registered_and_saveable_with_no_package_edit(tmp_path):
    assert LAYERS["Scale"] is Scale
    model = Sequential(Linear(4, 3, rng=0), Scale(3, init=0.5))
    model.layers[1].s.data[:] = [1.5, -2.0, 0.25]  # a "trained" value the file must carry
    save(model, tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    assert isinstance(loaded.layers[1], Scale) and loaded.layers[1].init == 0.5
    x = np.random.default_rng(0).random((2, 4), dtype=np.float32)
    np.testing.assert_array_equal(loaded(x).data, model(x).data)


def test_a_layer_that_cannot_describe_itself_says_what_to_do(tmp_path):
    class Opaque(Module):
        def __init__(self, n):
            self.w = Tensor(np.zeros(n), requires_grad=True)  # n is not kept

    with pytest.raises(NotImplementedError, match="store it as self.n or define config"):
        save(Opaque(2), tmp_path / "o.npz")
    assert not (tmp_path / "o.npz").exists()


def test_two_layers_of_one_name_from_different_modules_are_refused():
    with pytest.raises(TypeError, match="already registered"):
        type("Linear", (Module,), {"__module__": "somewhere_else"})
    assert LAYERS["Linear"] is Linear


def test_exported_names_stay_functions_after_every_submodule_is_imported():
    """A package attribute named like a submodule is replaced by that submodule when it is
    imported (``import tinygrad_mnist.gradcheck``): no export may be shadowed that way."""
    code = ("import importlib, pkgutil, types, tinygrad_mnist\n"
            "for m in pkgutil.walk_packages(tinygrad_mnist.__path__, 'tinygrad_mnist.'):\n"
            "    if not m.name.endswith('__main__'):\n"
            "        importlib.import_module(m.name)\n"
            "print([n for n in tinygrad_mnist.__all__ if isinstance(getattr(tinygrad_mnist, n), types.ModuleType)])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
