"""Test kit for people who add ops: ``check_op`` gradient-checks an op over hypothesis-drawn shapes
and values (by default distinct and away from 0, so a correct op with kinks such as relu or
max-pool is never failed), always including the shapes that hide bugs, plus reusable strategies
(``arrays``, ``broadcastable_shapes``, ``mlp_sizes``, ``named_shapes``) for your own tests.

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

from .errors import GradcheckError
from .gradcheck import gradcheck
from .tensor import Tensor

Dim = Union[int, str]
ShapeSpec = Union[Tuple[Dim, ...], str]   # ("B", "n") with named sizes, (3, "n"), or "any" / "broadcast"


# ------------------------------------------------------------------ strategies
def distinct_values(rng: np.random.Generator, shapes: Sequence[tuple], low: float = -2.0,
                    high: float = 2.0, min_abs: float = 0.0) -> List[np.ndarray]:
    """float64 arrays of ``shapes`` in [low, high] whose entries, over ALL the arrays, differ
    pairwise and stay away from 0: the kinks of max, max-pool, relu, leaky_relu, abs (ties and 0).

    The n entries are n points of an even grid over [low, high] (less (-gap, gap) around 0, gap =
    max(min_abs, a quarter of the grid's step)), each moved by less than a quarter step and then
    shuffled by ``rng``: any two are at least half a step apart, far beyond a finite difference's
    eps for any array a gradient check can afford.
    """
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    n = max(sum(sizes), 1)
    gap = max(min_abs, (high - low) / (4 * n))
    parts = [(a, b) for a, b in ((low, min(high, -gap)), (max(low, gap), high)) if b > a]
    if not parts:
        raise ValueError(f"distinct values: no room for {n} distinct values in [{low}, {high}] away "
                         f"from 0 (min_abs {min_abs}); widen the range or pass distinct=False")
    total = sum(b - a for a, b in parts)
    step = total / n
    t = (np.arange(n) + 0.5 + rng.uniform(-0.25, 0.25, n)) * step
    rng.shuffle(t)
    first = parts[0][1] - parts[0][0]
    values = np.where(t < first, parts[0][0] + t, parts[-1][0] + (t - first))
    out, start = [], 0
    for shape, size in zip(shapes, sizes):
        out.append(values[start:start + size].reshape(shape))
        start += size
    return out


def arrays(shape, low: float = -2.0, high: float = 2.0, min_abs: float = 0.0,
           dtype=np.float64, distinct: bool = False) -> st.SearchStrategy[np.ndarray]:
    """Finite float arrays of ``shape`` (a tuple or a strategy of tuples) with entries in
    [low, high]; ``min_abs`` > 0 keeps every |entry| >= min_abs (away from kinks and poles:
    relu at 0, 1/x, log near 0 with low=min_abs). ``distinct=True``: entries pairwise apart and
    away from 0 (``distinct_values``), so max has no ties; hypothesis then draws a seed, not each
    value."""
    if not low <= high:
        raise ValueError(f"arrays: need low <= high, got {low} and {high}")
    if distinct:
        shapes = shape if isinstance(shape, st.SearchStrategy) else st.just(shape)
        return st.tuples(shapes, st.integers(0, 2**32 - 1)).map(
            lambda p: distinct_values(np.random.default_rng(p[1]), [p[0]], low, high, min_abs)[0].astype(dtype))
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
    except Exception as e:  # re-raised with the shapes: a bare error from inside hypothesis names none
        raise GradcheckError(f"{where}: the op raised {type(e).__name__}: {e}. If these shapes are outside "
                             f"the op's domain, fix those sizes in the shape spec (ints instead of names) "
                             f"or pass kwargs that fit them") from e
    for name, a, b in zip(argnames, arrays_, originals):
        if not np.array_equal(a, b, equal_nan=True):
            raise GradcheckError(f"{where}: the op modified its input {name} in place; ops must not "
                                 f"mutate their inputs")


def check_op(op: Callable, *shapes: ShapeSpec, kwargs: Optional[dict] = None, low: float = -2.0,
             high: float = 2.0, min_abs: float = 0.0, distinct: bool = True, max_side: int = 4,
             max_examples: int = 25, atol: float = 1e-5, rtol: float = 1e-4, seed: int = 0) -> int:
    """Gradient-check ``op`` (the ``ops`` contract: arrays -> (out, vjps)) on many shapes.

    One spec per input: a tuple of sizes, ints fixed and names shared (``check_op(linear,
    ("B", "n_in"), ("n_out", "n_in"), ("n_out",))``); ``"any"`` for any shape (elementwise
    ops); ``"broadcast"`` for inputs drawn as a mutually broadcastable set. Always tried first,
    whatever hypothesis draws: every named size different and > 1 (non-square: a transposed
    gradient or a confused axis cannot hide), every size 1 (batch 1), every size equal (square),
    and broadcasting pairs with size-1 and missing axes. Then ``max_examples`` hypothesis
    cases. Values are float64 in [low, high] with |value| >= min_abs; ``kwargs`` go to the op.

    ``distinct=True`` (the default): within a case no two entries are equal, even across inputs,
    and none is near 0 (``distinct_values``). A finite difference then never steps over a kink:
    no tie for max or max-pool to break, no relu or leaky_relu at 0, so a correct op passes.
    ``distinct=False`` lets hypothesis pick every value, ties and zeros included: for ops
    that must be smooth there, or to see what a tie does to yours.

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

    def case_values(case):
        return distinct_values(rng, case, low, high, min_abs) if distinct else [values(s) for s in case]

    for case in _edge_cases(shapes):
        _check_one(op, case_values(case), kwargs, argnames, atol, rtol)
        count += 1

    n_bcast = sum(s == "broadcast" for s in shapes)
    table = [s for s in shapes if isinstance(s, tuple)]

    @st.composite
    def cases(draw):
        named = iter(draw(named_shapes(*table, max_side=max_side)) if table else ())
        bcast = iter(draw(broadcastable_shapes(n_bcast, max_side=max_side)) if n_bcast else ())
        case = []
        for spec in shapes:
            if spec == "any":
                case.append(draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=max_side)))
            elif spec == "broadcast":
                case.append(next(bcast))
            else:
                case.append(next(named))
        if distinct:  # one draw for the whole case, so entries differ across inputs too
            return distinct_values(np.random.default_rng(draw(st.integers(0, 2**32 - 1))), case,
                                   low, high, min_abs)
        return [draw(arrays(shape, low, high, min_abs)) for shape in case]

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
