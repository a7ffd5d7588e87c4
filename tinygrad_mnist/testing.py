"""Test kit for people who add ops: ``check_op`` gradient-checks an op over hypothesis-drawn shapes
and values, always including the shapes that hide bugs, plus reusable strategies (``arrays``,
``broadcastable_shapes``, ``mlp_sizes``, ``named_shapes``) for your own tests.

Needs hypothesis (``pip install tinygrad_mnist[testing]``); the rest of the package does not.
Leaves out: the finite differences themselves (``gradcheck``).
"""
from __future__ import annotations

import inspect
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError:  # pragma: no cover - depends on the environment
    raise ImportError("tinygrad_mnist.testing needs hypothesis: pip install tinygrad_mnist[testing] "
                      "(or tinygrad_mnist[dev]) or pip install hypothesis") from None

from .errors import GradcheckError, ShapeError
from .gradcheck import gradcheck
from .tensor import Tensor

Dim = Union[int, str]
ShapeSpec = Union[Tuple[Dim, ...], str]   # ("B", "n") with named sizes, (3, "n"), or "any" / "broadcast"


# ------------------------------------------------------------------ strategies
def arrays(shape, low: float = -2.0, high: float = 2.0, min_abs: float = 0.0,
           dtype=np.float64) -> st.SearchStrategy[np.ndarray]:
    """Finite float arrays of ``shape`` (a tuple or a strategy of tuples) with entries in
    [low, high]; ``min_abs`` > 0 keeps every |entry| >= min_abs (away from kinks and poles:
    relu at 0, 1/x, log near 0 with low=min_abs)."""
    if not low <= high:
        raise ValueError(f"arrays: need low <= high, got {low} and {high}")
    width = 8 * np.dtype(dtype).itemsize
    if min_abs > 0:
        parts = []
        if high >= min_abs:
            parts.append(st.floats(max(low, min_abs), high, width=width))
        if low <= -min_abs:
            parts.append(st.floats(low, min(high, -min_abs), width=width))
        if not parts:
            raise ValueError(f"arrays: no value in [{low}, {high}] has |value| >= {min_abs}")
        elements = st.one_of(*parts)
    else:
        elements = st.floats(low, high, width=width)
    return hnp.arrays(dtype, shape, elements=elements)


def broadcastable_shapes(n: int = 2, max_dims: int = 3, max_side: int = 4
                         ) -> st.SearchStrategy[Tuple[tuple, ...]]:
    """Tuples of ``n`` shapes that broadcast together (NumPy's rules), incl. () and size-1 axes."""
    return hnp.mutually_broadcastable_shapes(num_shapes=n, max_dims=max_dims, max_side=max_side
                                             ).map(lambda b: tuple(b.input_shapes))


def mlp_sizes(min_layers: int = 1, max_layers: int = 3, max_units: int = 8) -> st.SearchStrategy[List[int]]:
    """Layer sizes [n_0, ..., n_L] with min_layers <= L <= max_layers and 1 <= n_l <= max_units."""
    if not 1 <= min_layers <= max_layers:
        raise ValueError(f"mlp_sizes: need 1 <= min_layers <= max_layers, got {min_layers}, {max_layers}")
    return st.lists(st.integers(1, max_units), min_size=min_layers + 1, max_size=max_layers + 1)


def _names(specs: Sequence[ShapeSpec]) -> List[str]:
    out: List[str] = []
    for spec in specs:
        if isinstance(spec, tuple):
            out.extend(d for d in spec if isinstance(d, str) and d not in out)
    return out


def _resolve(specs: Sequence[ShapeSpec], sizes: Dict[str, int]) -> List[tuple]:
    return [tuple(sizes[d] if isinstance(d, str) else d for d in spec) for spec in specs]


def named_shapes(*specs: Tuple[Dim, ...], max_side: int = 5) -> st.SearchStrategy[Tuple[tuple, ...]]:
    """Shapes for specs with named sizes: ``named_shapes(("B", "n"), ("m", "n"))`` draws B, n, m
    (equal names, equal sizes) as all 1, all equal (square), all different, or at random."""
    names = _names(specs)
    k = len(names)
    size = st.integers(1, max_side)
    anything = st.lists(size, min_size=k, max_size=k)
    distinct = st.permutations(range(2, 2 + k)).map(list) if k <= max_side - 1 else anything
    patterns = [st.just([1] * k), size.map(lambda n: [n] * k), distinct, anything]
    return st.one_of(*patterns).map(lambda values: tuple(_resolve(specs, dict(zip(names, values)))))


# ------------------------------------------------------------------ check_op
BROADCAST_PAIRS = [((2, 3), (2, 3)), ((2, 3), (3,)), ((3, 1), (1, 4)), ((), (2, 3)), ((2, 1, 3), (4, 1)),
                   ((1,), (3, 2))]
# "any" inputs in the three edge cases: non-square, all ones, square
ANY_SHAPES = ((2, 3), (1, 1), (3, 3))


def _broadcast_sets(n: int) -> List[tuple]:
    if n == 2:
        return list(BROADCAST_PAIRS)
    if n == 1:
        return [(s,) for s in ((2, 3), (1,), ())]
    return [((2, 3),) * n, ((3, 1),) + ((1, 4),) * (n - 1), ((),) + ((2, 3),) * (n - 1)]


def _edge_cases(specs: Sequence[ShapeSpec]) -> List[List[tuple]]:
    """The shapes always tried first: every named size different and > 1 (a transpose or a
    confused axis shows), every size 1 (batch 1), every size equal (square); broadcasting sets
    with size-1 and missing axes."""
    names = _names(specs)
    bcast = [i for i, s in enumerate(specs) if s == "broadcast"]
    cases: List[List[tuple]] = []
    for k, values in enumerate(([2 + i for i in range(len(names))], [1] * len(names), [3] * len(names))):
        sizes = dict(zip(names, values))
        base = [(_resolve([s], sizes)[0] if isinstance(s, tuple) else ANY_SHAPES[k] if s == "any" else None)
                for s in specs]
        for shapes in (_broadcast_sets(len(bcast)) if bcast and k == 0 else
                       _broadcast_sets(len(bcast))[:1] if bcast else [()]):
            case = list(base)
            for i, shape in zip(bcast, shapes):
                case[i] = shape
            if case not in cases:
                cases.append(case)
    return cases


def _describe(shapes: Sequence[tuple], argnames: Sequence[str]) -> str:
    return ", ".join(f"{n} {s}" for n, s in zip(argnames, shapes))


def _check_one(op: Callable, arrays_: Sequence[np.ndarray], kwargs: dict, argnames: Sequence[str],
               atol: float, rtol: float) -> None:
    """gradcheck one case, plus the op contract: inputs and g not mutated; error texts name the shapes."""
    shapes = [a.shape for a in arrays_]
    originals = [a.copy() for a in arrays_]
    where = f"check_op({getattr(op, '__name__', 'op')}) with {_describe(shapes, argnames)}"
    try:
        out, vjps = op(*[a.copy() for a in arrays_], **kwargs)
        g = np.random.default_rng(1).standard_normal(np.shape(out))
        g_copy = g.copy()
        for vjp in vjps:
            if vjp is not None:
                vjp(g)
        if not np.array_equal(g, g_copy):
            raise GradcheckError(f"{where}: a VJP modified its incoming gradient g in place; "
                                 f"VJPs must not mutate g (copy first, or use out-of-place ops)")
        gradcheck(lambda *ts: Tensor.apply(op, *ts, **kwargs), *arrays_, atol=atol, rtol=rtol)
    except GradcheckError as e:
        raise GradcheckError(f"{where}: {e}" if not str(e).startswith(where) else str(e)) from None
    except ShapeError as e:
        raise GradcheckError(f"{where}: {e}") from None
    for name, a, b in zip(argnames, arrays_, originals):
        if not np.array_equal(a, b, equal_nan=True):
            raise GradcheckError(f"{where}: the op modified its input {name} in place; ops must not "
                                 f"mutate their inputs")


def check_op(op: Callable, *shapes: ShapeSpec, kwargs: Optional[dict] = None, low: float = -2.0,
             high: float = 2.0, min_abs: float = 0.0, max_side: int = 4, max_examples: int = 25,
             atol: float = 1e-5, rtol: float = 1e-4, seed: int = 0) -> int:
    """Gradient-check ``op`` (the ``ops`` contract: arrays -> (out, vjps)) on many shapes.

    One spec per input: a tuple of sizes, ints fixed and names shared (``check_op(linear,
    ("B", "n_in"), ("n_out", "n_in"), ("n_out",))``); ``"any"`` for any shape (elementwise
    ops); ``"broadcast"`` for inputs drawn as a mutually broadcastable set. Always tried first,
    whatever hypothesis draws: every named size different and > 1 (non-square: a transposed
    gradient or a confused axis cannot hide), every size 1 (batch 1), every size equal (square),
    and broadcasting pairs with size-1 and missing axes. Then ``max_examples`` hypothesis
    cases. Values are float64 in [low, high] with |value| >= min_abs; ``kwargs`` go to the op.

    Each case checks the engine's gradient against central finite differences (``gradcheck``)
    and that the op mutates neither its inputs nor ``g``. Returns the number of cases checked;
    raises GradcheckError naming the shapes, the input and the entry that failed.
    """
    kwargs = dict(kwargs or {})
    if not shapes:
        raise TypeError("check_op: give one shape spec per input, e.g. check_op(op, ('B', 'n')) or "
                        "check_op(op, 'any'); see the docstring")
    for spec in shapes:
        if not (spec in ("any", "broadcast") or (isinstance(spec, tuple) and all(
                isinstance(d, str) or (isinstance(d, (int, np.integer)) and d >= 0) for d in spec))):
            raise TypeError(f"check_op: a shape spec is a tuple of sizes/names, 'any' or 'broadcast'; got {spec!r}")
    argnames = _argnames(op, len(shapes))
    rng = np.random.default_rng(seed)
    count = 0

    def values(shape):
        a = rng.uniform(low, high, shape)
        if min_abs > 0:
            small = np.abs(a) < min_abs
            a[small] = np.where(a[small] >= 0, min_abs, -min_abs)
            a = np.clip(a, low, high)
        return a

    for case in _edge_cases(shapes):
        _check_one(op, [values(s) for s in case], kwargs, argnames, atol, rtol)
        count += 1

    n_bcast = sum(s == "broadcast" for s in shapes)
    table = [s for s in shapes if isinstance(s, tuple)]

    @st.composite
    def cases(draw):
        named = iter(draw(named_shapes(*table, max_side=max_side)) if table else ())
        bcast = iter(draw(broadcastable_shapes(n_bcast, max_side=max_side)) if n_bcast else ())
        out = []
        for spec in shapes:
            if spec == "any":
                shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=max_side))
            elif spec == "broadcast":
                shape = next(bcast)
            else:
                shape = next(named)
            out.append(draw(arrays(shape, low, high, min_abs)))
        return out

    checked = []

    @settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(cases())
    def run(arrays_):
        _check_one(op, arrays_, kwargs, argnames, atol, rtol)
        checked.append(1)

    run()
    return count + len(checked)


def _argnames(op: Callable, n: int) -> List[str]:
    """Names for the op's first n inputs in messages: its parameter names, else input0, input1, ..."""
    try:
        params = [p.name for p in inspect.signature(op).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return (params + [f"input{i}" for i in range(len(params), n)])[:n]
