"""Mutation testing: plant one realistic bug at a time and check that the test suite notices.

    python tests/mutate.py                      # every mutant: ~15 minutes on 2 cores
    python tests/mutate.py --list               # the table, with the file each row patches
    python tests/mutate.py --only exp_vjp_writes_into_saved_output log_vjp_offset
    python tests/mutate.py --tests "tests/test_ops.py -k exp"

A row of MUTANTS is (name, old, new, why): ``old`` is a snippet of today's source, ``new`` the
buggy version, ``why`` the bug a person could write. A row names no file: the one file under
tinygrad_mnist/ whose text holds ``old`` exactly once is patched, so the table survives modules
moving around (a snippet found nowhere, or more than once, stops the script, naming the row).
Each mutant runs in a fresh copy of the repository (the real tree is never touched) with
``CI=1`` (the derandomized hypothesis profile) and ``pytest -x``; it is "killed" when a test
fails or it times out. Not collected by pytest (no ``test_`` prefix); a measuring tool, so it
exits 0 whatever the score, and non-zero only when it cannot measure (bad row, red baseline).
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "tinygrad_mnist"
SKIP = shutil.ignore_patterns(".git", "__pycache__", ".hypothesis", ".pytest_cache", "*.egg-info",
                              "build", "dist", "*.png")
# Test files that kill most mutants run first, so ``pytest -x`` stops early; then all the rest.
FIRST = ("test_vjp_contract.py", "test_vjp_closed_form.py", "test_optim.py", "test_reference_extremes.py",
         "test_gradcheck_sensitivity.py", "test_backward_bookkeeping.py", "test_ops.py", "test_engine.py",
         "test_gradcheck.py", "test_manual.py", "test_stability.py", "test_nn.py")

MUTANTS = [
    # ------------------------------------------------ the rows of issue 11's table
    ("exp_vjp_writes_into_saved_output",
     "return y, (lambda g: g * y,)",
     "return y, (lambda g: np.multiply(y, g, out=y),)",
     "exp's VJP multiplies into its saved output in place: the forward .data is corrupted"),
    ("log_vjp_offset",
     "np.log(x), (lambda g: g / x,)",
     "np.log(x), (lambda g: g / (x + 1e-7),)",
     "log's VJP guards the pole with g / (x + 1e-7): wrong near small x"),
    ("sigmoid_clips_at_30",
     "        np.exp(y, out=y)\n    one = constant(1, y.dtype)",
     "        np.exp(np.minimum(y, 30.0, out=y), out=y)\n    one = constant(1, y.dtype)",
     "sigmoid clips -x at 30 before exp: the tail x < -30 is wrong"),
    ("sigmoid_overflow_warns",
     'with np.errstate(over="ignore"):\n        np.exp(y, out=y)',
     'with np.errstate(over="warn"):\n        np.exp(y, out=y)',
     "sigmoid lets exp(-x) overflow with a warning at x = -1000 (the lean form has no clip pass)"),
    ("sum_vjp_negative_axis_vs_output_ndim",
     "        g = np.expand_dims(g, axis)\n",
     "        g = np.expand_dims(g, tuple(a + g.ndim if a < 0 else a\n"
     "                                    for a in (axis if isinstance(axis, tuple) else (axis,))))\n",
     "sum/mean VJP normalises a negative axis against the output's ndim (keepdims=False)"),
    ("reshape_vjp_order_A",
     "(lambda g: g.reshape(x.shape),)",
     "(lambda g: g.reshape(x.shape, order=\"A\"),)",
     "reshape's VJP with order='A': wrong for a Fortran-ordered incoming gradient"),
    ("sce_probabilities_drop_row_sum",
     "(np.exp(logp) * target.sum(axis=1, keepdims=True) - target)",
     "(np.exp(logp) - target)",
     "softmax-CE on probabilities drops the sum_j y_j factor (rows not summing to 1)"),
    ("sgd_weight_decay_after_momentum",
     "            if self.weight_decay:\n                g = g + self.weight_decay * p.data\n"
     "            if self.momentum:\n                v = self._velocity[i]\n"
     "                if v is None:\n                    v = self._velocity[i] = g.copy()\n"
     "                else:\n                    v *= self.momentum\n                    v += g\n"
     "                g = v\n",
     "            if self.momentum:\n                v = self._velocity[i]\n"
     "                if v is None:\n                    v = self._velocity[i] = g.copy()\n"
     "                else:\n                    v *= self.momentum\n                    v += g\n"
     "                g = v\n"
     "            if self.weight_decay:\n                g = g + self.weight_decay * p.data\n",
     "SGD adds weight decay after the momentum buffer instead of to the gradient before it"),
    ("adam_decoupled_weight_decay",
     "                g = g + self.weight_decay * p.data\n            m *= self.b1",
     "                p.data -= self.lr * self.weight_decay * p.data\n            m *= self.b1",
     "Adam's weight decay made decoupled (AdamW) instead of torch.optim.Adam's coupled L2"),
    ("manual_softmax_global_max",
     "e = z - z.max(axis=axis, keepdims=True)",
     "e = z - z.max()",
     "manual.softmax shifts by the global max instead of each sample's"),
    ("gradcheck_rtol_loosened",
     "              rtol: float = 1e-4, seed: int = 0) -> bool:",
     "              rtol: float = 1e-1, seed: int = 0) -> bool:",
     "gradcheck's default rtol loosened from 1e-4 to 1e-1"),
    # ------------------------------------------------ engine: backward and apply
    ("backward_leaf_fan_out_overwrites",
     "done[parent] = prev + r",
     "done[parent] = r",
     "a leaf used twice keeps only the last path's gradient"),
    ("backward_node_fan_out_overwrites",
     "                    grads[parent] = prev + r\n",
     "                    grads[parent] = r\n",
     "an intermediate used twice keeps only the last path's gradient"),
    ("backward_no_accumulation_across_calls",
     "                t.grad = t.grad + g\n",
     "                t.grad = g\n",
     "a second backward() overwrites .grad instead of adding to it"),
    ("backward_leaf_grad_aliases_views",
     "elif r.base is None and r is not g:",
     "elif r is not g:",
     "a VJP's view of g (reshape, transpose) becomes a leaf's .grad without a copy"),
    ("backward_root_leaf_grad_not_copied",
     "self.grad = grad.copy() if self.grad is None else self.grad + grad",
     "self.grad = grad if self.grad is None else self.grad + grad",
     "backward() on a leaf stores the shared read-only seed as its .grad"),
    ("retain_grad_aliases_g",
     "t.grad = g if t.node is None else g.copy()",
     "t.grad = g",
     "a retained .grad is the gradient array flowing on (shared with other tensors)"),
    ("retain_grad_no_accumulation",
     "                t.grad = t.grad + g\n",
     "                t.grad = t.grad + g if t.node is None else g\n",
     "a retained .grad is overwritten by the next backward instead of accumulating"),
    ("backward_never_frees",
     "    if free:\n        for node in visited:",
     "    if False:\n        for node in visited:",
     "backward keeps the graph alive: a second backward silently double-counts"),
    ("backward_no_dtype_cast",
     "    if r.dtype != pdata.dtype:\n        r = r.astype(pdata.dtype)\n",
     "",
     "gradients keep the op's dtype: a float32 weight gets a float64 .grad"),
    ("unbroadcast_only_leading_axes",
     "    return tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1 and g_shape[extra + i] != 1)",
     "    return tuple(range(extra))",
     "unbroadcast sums the added leading axes but not the stretched size-1 ones"),
    ("heap_pops_shallowest_first",
     "                heappush(heap, (-parent.node.depth, tiebreak, parent))\n",
     "                heappush(heap, (parent.node.depth, tiebreak, parent))\n",
     "backward visits shallow nodes first: VJPs run before all their gradient arrived"),
    ("inplace_check_never_refuses",
     "        if counter.count != count:\n",
     "        if False:\n",
     "backward no longer notices a parameter changed in place since the op used it"),
    ("tracked_setitem_not_counted",
     "    def __setitem__(self, index, value):\n        if self._version is not None:\n            self._version.count += 1\n",
     "    def __setitem__(self, index, value):\n",
     "w.data[i] = v is not counted as an in-place write"),
    ("apply_records_under_no_grad",
     "if record and mode.grad:",
     "if record:",
     "ops record a graph inside no_grad"),
    # ------------------------------------------------ elementwise ops
    ("div_vjp_b_missing_square",
     "lambda g: -g * y / b)",
     "lambda g: -g * a / b)",
     "div's VJP for b uses a / b instead of a / b**2"),
    ("mul_vjp_writes_into_g",
     "return a * b, (lambda g: g * b, lambda g: g * a)",
     "return a * b, (lambda g: np.multiply(g, b, out=g), lambda g: g * a)",
     "mul's VJP for a multiplies into g in place, so the VJP for b sees a corrupted g"),
    ("power_vjp_exponent",
     "(lambda g: g * p * x ** (p - 1),)",
     "(lambda g: g * p * x ** p / x,)",
     "power's VJP as p x**p / x: nan at x = 0 where x**(p-1) is fine"),
    ("sigmoid_vjp_in_place_on_output",
     "        d = np.subtract(one, y)\n        d *= y\n",
     "        d = y\n        d *= np.subtract(one, y)\n",
     "sigmoid's VJP reuses the saved output as its buffer: right once, forward .data corrupted"),
    ("tanh_vjp_squares_output_in_place",
     "(lambda g: g * (1.0 - y * y),)",
     "(lambda g: g * (1.0 - np.square(y, out=y)),)",
     "tanh's VJP squares its saved output in place: right once, forward .data corrupted"),
    ("relu_vjp_at_zero",
     "(lambda g: np.multiply(g, x > zero),)",
     "(lambda g: np.multiply(g, x >= zero),)",
     "relu's subgradient at exactly 0 becomes 1 instead of the documented 0"),
    ("relu_forward_into_input",
     "return np.maximum(x, zero), (",
     "return np.maximum(x, zero, out=x), (",
     "relu's forward clamps its input array in place"),
    # ------------------------------------------------ reductions
    ("max_ties_not_split",
     "return mask * (g / mask.sum(axis=axis, keepdims=True))",
     "return mask * g",
     "max's gradient goes in full to every tied maximum"),
    ("max_ties_counted_over_whole_array",
     "return mask * (g / mask.sum(axis=axis, keepdims=True))",
     "return mask * (g / mask.sum())",
     "max's tie count is over the whole array instead of per reduced slice"),
    ("max_vjp_negative_axis_vs_output_ndim",
     "g = g if keepdims or axis is None else np.expand_dims(g, axis)",
     "g = g if keepdims or axis is None else np.expand_dims(\n"
     "            g, axis + g.ndim if isinstance(axis, int) and axis < 0 else axis)",
     "max's VJP normalises a negative axis against the output's ndim"),
    ("mean_divides_by_first_axis_only",
     "n = int(np.prod([self.shape[a] for a in axes])) if self.ndim else 1",
     "n = self.shape[axes[0]] if self.ndim and len(axes) else 1",
     "mean divides by the length of the first reduced axis only"),
    # ------------------------------------------------ linear algebra
    ("matmul_fast_path_untransposed",
     "lambda g: (g.T @ a).T)",
     "lambda g: g.T @ a)",
     "matmul's contiguous-gradient path forgets the final transpose (right only when square)"),
    ("matmul_batched_T_instead_of_swapaxes",
     "gb = np.swapaxes(a2, -1, -2) @ as_2d(g)",
     "gb = a2.T @ as_2d(g)",
     "matmul's batched VJP transposes all axes instead of the last two"),
    ("matmul_1d_a_expand_at_front",
     "            g = np.expand_dims(g, -2)\n",
     "            g = g[None]\n",
     "matmul's VJP promotes g for a 1-D a at the front instead of before the last axis"),
    ("linear_vjp_W_outer_swapped",
     "np.outer(g, x) if x.ndim == 1",
     "np.outer(x, g) if x.ndim == 1",
     "linear's weight gradient for one sample is x g.T instead of g x.T (transposed)"),
    ("linear_vjp_W_2d_formula_for_nd",
     "else g.reshape(-1, g.shape[-1]).T @ x.reshape(-1, x.shape[-1])",
     "else g.T @ x",
     "linear's weight gradient written for 2-D only: wrong for a stacked (N-D) input"),
    ("linear_vjp_W_outer_product_for_every_batch",
     "if x.shape[0] == 1 else (lambda g: np.dot(g.T, x))",
     "if x.shape[0] >= 1 else (lambda g: np.dot(g.T, x))",
     "linear takes its one-sample outer-product shortcut for every batch size"),
    ("matmul_outer_product_test_on_wrong_axis",
     "outer = a.shape[0] == 1",
     "outer = a.shape[1] == 1",
     "matmul takes its outer-product shortcut when a has one column, not one row"),
    # ------------------------------------------------ shape ops
    ("transpose_inverse_negative_axes",
     "tuple(np.argsort([a % x.ndim for a in axes]))",
     "tuple(np.argsort(axes))",
     "transpose's inverse permutation from un-normalised negative axes"),
    ("transpose_inverse_is_the_permutation",
     "tuple(np.argsort([a % x.ndim for a in axes]))",
     "tuple(a % x.ndim for a in axes)",
     "transpose's VJP applies the permutation again instead of its inverse (right for swaps)"),
    ("getitem_repeats_overwrite",
     "        if _is_basic(idx):\n            dx[idx] = g\n",
     "        if True:\n            dx[idx] = g\n",
     "getitem's VJP assigns instead of np.add.at: repeated indices keep one gradient"),
    ("getitem_lists_are_basic",
     "isinstance(i, (int, np.integer, slice, type(None), type(Ellipsis)))",
     "isinstance(i, (int, np.integer, slice, type(None), type(Ellipsis), list))",
     "a list index is taken for basic indexing, so its repeats overwrite"),
    # ------------------------------------------------ softmax family
    ("softmax_vjp_last_axis",
     "return y, (lambda g: y * (g - (g * y).sum(axis=axis, keepdims=True)),)",
     "return y, (lambda g: y * (g - (g * y).sum(axis=-1, keepdims=True)),)",
     "softmax's VJP sums over the last axis whatever axis the forward used"),
    ("softmax_forward_global_max",
     "e = np.exp(x - x.max(axis=axis, keepdims=True))",
     "e = np.exp(x - x.max())",
     "softmax shifts by the global max: a row far below it underflows to 0/0"),
    ("log_softmax_vjp_last_axis",
     "g - np.exp(y) * g.sum(axis=axis, keepdims=True)",
     "g - np.exp(y) * g.sum(axis=-1, keepdims=True)",
     "log_softmax's VJP sums over the last axis whatever axis the forward used"),
    # ------------------------------------------------ losses
    ("sce_labels_vjp_no_batch_mean",
     "            gB = g / B\n",
     "            gB = g\n",
     "softmax-CE's VJP with labels forgets the 1/B of the mean"),
    ("sce_labels_vjp_in_place_on_saved_exp",
     "d = e * (gB / total)[:, None]",
     "d = np.multiply(e, (gB / total)[:, None], out=e)",
     "softmax-CE's VJP normalises its saved exponentials in place: right once only"),
    ("sce_target_vjp_no_batch_mean",
     "lambda g: logp * (-g / B))",
     "lambda g: logp * -g)",
     "softmax-CE's gradient for a probability target forgets the 1/B"),
    ("label_losses_subtract_in_place",
     "        diff = a.copy()\n",
     "        diff = a\n",
     "quadratic/mse with labels subtract the one-hot from the caller's predictions in place"),
    ("quadratic_vjp_no_batch_mean",
     "return loss, (lambda g: diff * (g / B),",
     "return loss, (lambda g: diff * g,",
     "quadratic cost's VJP forgets the 1/B"),
    ("mse_mean_over_batch_only",
     "n = diff.size or 1",
     "n = (diff.shape[0] if diff.ndim else 1) or 1",
     "mse divides by the batch size instead of the number of elements"),
    ("bce_float64_clip_1e7",
     "eps = 1e-7 if p.dtype.itemsize <= 4 else 1e-12",
     "eps = 1e-7",
     "binary cross-entropy clips float64 probabilities at 1e-7 instead of 1e-12"),
    ("bce_vjp_unclipped_p",
     "lambda g: (pc - y) / (pc * (1.0 - pc)) * (g / n)",
     "lambda g: (p - y) / (p * (1.0 - p)) * (g / n)",
     "binary cross-entropy's VJP uses the unclipped p: inf/nan at p = 0 or 1"),
    # ------------------------------------------------ optimizers
    ("sgd_velocity_aliases_grad",
     "v = self._velocity[i] = g.copy()",
     "v = self._velocity[i] = g",
     "SGD's first momentum buffer is the .grad array itself, updated in place later"),
    ("sgd_momentum_dampened",
     "                    v *= self.momentum\n                    v += g\n",
     "                    v *= self.momentum\n                    v += (1.0 - self.momentum) * g\n",
     "SGD's momentum as an average (dampening = momentum) instead of PyTorch's v = mu v + g"),
    ("sgd_plain_step_rebinds",
     "                d = updatable(p)\n                d -= s\n",
     "                p.data = p.data - s\n",
     "plain SGD rebinds .data: the model and the optimizer stop sharing arrays"),
    ("sgd_weight_decay_only_with_momentum",
     "if not self.momentum and not self.weight_decay:",
     "if not self.momentum:",
     "SGD ignores weight_decay unless momentum is set"),
    ("adam_eps_inside_sqrt",
     "(np.sqrt(v / c2) + self.eps)",
     "np.sqrt(v / c2 + self.eps)",
     "Adam adds eps inside the square root"),
    ("adam_v_bias_correction_outside_sqrt",
     "(np.sqrt(v / c2) + self.eps)",
     "(np.sqrt(v) / c2 + self.eps)",
     "Adam divides sqrt(v) by 1 - b2^t instead of taking sqrt(v / (1 - b2^t))"),
    ("adam_bias_correction_one_step_late",
     "c1, c2 = 1.0 - self.b1 ** t, 1.0 - self.b2 ** t",
     "c1, c2 = 1.0 - self.b1 ** (t + 1), 1.0 - self.b2 ** (t + 1)",
     "Adam's bias correction uses t + 1"),
    # ------------------------------------------------ the manual reference
    ("manual_batch_first_no_1_over_B",
     "    delta /= B\n",
     "",
     "manual.backprop forgets the 1/B of the mean cost"),
    ("manual_columns_no_1_over_B",
     "delta = output_delta(activations[-1], Y, cost, n_out) / B",
     "delta = output_delta(activations[-1], Y, cost, n_out)",
     "manual.backprop_columns forgets the 1/B"),
    ("manual_rows_no_1_over_B",
     "delta = output_delta(activations[-1], y, cost, sizes[-1]) / X.shape[0]",
     "delta = output_delta(activations[-1], y, cost, sizes[-1])",
     "manual.backprop_rows forgets the 1/B"),
    ("manual_loop_sums_instead_of_mean",
     "return [nw / len(X_rows) for nw in nabla_w], [nb / len(X_rows) for nb in nabla_b]",
     "return nabla_w, nabla_b",
     "manual.backprop_loop returns the sum over samples, not the mean"),
    ("manual_quadratic_delta_no_sigmoid_prime",
     "        delta *= a * (1.0 - a)  # a = s(z^L)",
     "        pass  # a = s(z^L)",
     "the quadratic cost's output delta forgets s'(z^L)"),
    ("manual_loss_global_max",
     "shifted = zs[-1] - zs[-1].max(axis=1, keepdims=True)",
     "shifted = zs[-1] - zs[-1].max()",
     "manual.loss shifts the logits by the global max instead of each sample's"),
    ("manual_columns_softmax_over_samples",
     "activations.append(softmax(z, axis=0) if last",
     "activations.append(softmax(z, axis=-1) if last",
     "column-form softmax over the samples (axis -1) instead of the classes (axis 0)"),
    # ------------------------------------------------ gradcheck
    ("gradcheck_eps_coarse",
     "*inputs, eps: float = 1e-6,",
     "*inputs, eps: float = 1e-2,",
     "gradcheck's default step loosened from 1e-6 to 1e-2: truncation error hides 1e-4 errors"),
    ("gradcheck_compares_magnitudes",
     "if not abs(numeric - engine[idx]) <= atol + rtol * abs(numeric):",
     "if not abs(abs(numeric) - abs(engine[idx])) <= atol + rtol * abs(numeric):",
     "gradcheck compares magnitudes only: a VJP with the wrong sign passes"),
    ("gradcheck_projection_all_ones",
     "v = np.random.default_rng(seed).standard_normal(out.shape)",
     "v = np.ones(out.shape)",
     "gradcheck reduces a non-scalar output by sum(): a VJP that ignores g passes"),
]


def source_files() -> dict[Path, str]:
    return {p: p.read_text() for p in sorted((ROOT / PACKAGE).rglob("*.py"))}


def locate(name: str, old: str, sources: dict[Path, str]) -> Path:
    """The one file holding ``old`` exactly once; anything else is an error naming the mutant."""
    hits = {p: text.count(old) for p, text in sources.items() if old in text}
    if sum(hits.values()) != 1:
        where = ", ".join(f"{p.relative_to(ROOT)} x{n}" for p, n in hits.items()) or "no file"
        sys.exit(f"mutate.py: mutant {name!r}: its old snippet must occur exactly once under "
                 f"{PACKAGE}/, found in {where}:\n{old}")
    return next(iter(hits))


def pytest_args(tests: str | None) -> list[str]:
    if tests:
        return shlex.split(tests)
    files = sorted(p.name for p in (ROOT / "tests").glob("test_*.py"))
    first = [f for f in FIRST if f in files]
    return [f"tests/{f}" for f in first + [f for f in files if f not in first]]


def default_sigint() -> None:
    """Undo an inherited SIG_IGN (``nohup cmd &``, cron): the suite sends Ctrl-C to a real process."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_suite(patch: tuple[Path, str] | None, args: list[str], timeout: float) -> tuple[str, float, str, str]:
    """Copy the repository, apply ``patch`` (file, new text), run pytest:
    (status, seconds, first failing test, pytest's output)."""
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        copy = Path(tmp) / ROOT.name  # the same name, and the same parent layout one level up
        shutil.copytree(ROOT, copy, ignore=SKIP)
        if (ROOT.parent / "shared").is_dir():  # tests read ../shared/data when it is there
            os.symlink(ROOT.parent / "shared", Path(tmp) / "shared")
        if patch:
            path, text = patch
            (copy / path.relative_to(ROOT)).write_text(text)
        env = dict(os.environ, CI="1", PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
        start = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *args],
                                  cwd=copy, env=env, capture_output=True, text=True, timeout=timeout,
                                  preexec_fn=default_sigint)
        except subprocess.TimeoutExpired:
            return "killed", time.perf_counter() - start, f"(timeout after {timeout:.0f} s)", ""
        seconds = time.perf_counter() - start
    if proc.returncode == 0:
        return "survived", seconds, "", proc.stdout
    failed = re.search(r"^(?:FAILED|ERROR) (.+?)(?: - |$)", proc.stdout, re.M)
    return "killed", seconds, failed.group(1) if failed else f"(pytest exit {proc.returncode})", proc.stdout


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="print the mutants and exit")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these mutants")
    parser.add_argument("--tests", type=str,
                        help='pytest arguments instead of the whole suite, e.g. "tests/test_ops.py"')
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant (default: 300)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run that must pass")
    args = parser.parse_args(argv)

    names = [m[0] for m in MUTANTS]
    if len(set(names)) != len(names):
        sys.exit("mutate.py: two mutants share a name")
    unknown = set(args.only or ()) - set(names)
    if unknown:
        sys.exit(f"mutate.py: no mutant named {', '.join(sorted(unknown))}")
    sources = source_files()
    chosen = [(name, old, new, why, locate(name, old, sources)) for name, old, new, why in MUTANTS
              if not args.only or name in args.only]
    for name, old, new, _, path in chosen:  # a planted bug, not a syntax error
        compile(sources[path].replace(old, new), f"{path.name} with mutant {name}", "exec")
    if args.list:
        for name, _, _, why, path in chosen:
            print(f"{name:40} {str(path.relative_to(ROOT)):28} {why}")
        print(f"{len(chosen)} mutants")
        return 0

    tests = pytest_args(args.tests)
    if not args.no_baseline:
        status, seconds, failed, output = run_suite(None, tests, args.timeout)
        print(f"baseline (no mutant): {'passes' if status == 'survived' else 'FAILS ' + failed} in {seconds:.0f} s",
              flush=True)
        if status != "survived":
            print(output[-3000:])
            return 2  # a red suite would "kill" every mutant: nothing to measure
    print(f"{'mutant':40} {'result':8} {'seconds':>7}  first failing test")
    survivors = []
    for name, old, new, _, path in chosen:
        status, seconds, failed, _ = run_suite((path, sources[path].replace(old, new)), tests, args.timeout)
        print(f"{name:40} {status:8} {seconds:7.1f}  {failed}", flush=True)
        if status == "survived":
            survivors.append(name)
    killed = len(chosen) - len(survivors)
    print(f"\nscore: {killed}/{len(chosen)} killed ({100 * killed / len(chosen):.1f}%)")
    if survivors:
        print("survivors: " + ", ".join(survivors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
