"""Small helpers shared by test files (not strategies, not fixtures): ``peak_bytes`` (Python
allocations of a call) and ``run_measured`` / ``Launched`` (a command's time and peak RSS)."""
import functools
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path


def peak_bytes(fn) -> int:
    """Peak bytes Python allocated (tracemalloc) while ``fn()`` ran: proves a reader refused a
    huge claim without allocating it."""
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


# ------------------------------------------------------------------ a command, timed and measured

REPO = Path(__file__).resolve().parents[1]
MB = 1 << 20


@dataclass
class Measured:
    """What ``run_measured`` saw: exit status, output, wall time, and the child's peak resident
    memory (``ru_maxrss`` of that one child, from os.wait4)."""

    status: int
    out: str
    err: str
    seconds: float
    peak_rss: int  # bytes

    def summary(self) -> str:
        return f"exit {self.status}, {self.seconds:.2f} s, {self.peak_rss / MB:.0f} MB"


def cli_env(tmp_path: Path, **extra) -> dict:
    """The environment for `python -m tinygrad_mnist` in a test: this worktree's package, an
    empty cache, single-threaded BLAS, matplotlib's cache in tmp_path."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               TINYGRAD_MNIST_HOME=str(tmp_path / "cache"), MPLCONFIGDIR=str(tmp_path / "mpl"),
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env.update(extra)
    return env


# Measures the command from a small process of its own: Linux counts in a child's ru_maxrss
# the memory of the process it was forked from (the exec'd image starts from the fork's
# high-water mark), so forking from pytest, itself 100+ MB, would add pytest's size. The
# launcher ignores the stop signals itself (a test signals the whole process group) and gives
# the command their default handling back.
_LAUNCHER = """
import os, signal, sys
report, close_stderr = sys.argv[1], sys.argv[2] == "1"
stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
for s in stops:
    signal.signal(s, signal.SIG_IGN)
pid = os.fork()
if pid == 0:
    for s in stops:
        signal.signal(s, signal.SIG_DFL)
    if close_stderr:
        os.close(2)
    os.execv(sys.argv[3], sys.argv[3:])
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as f:
    f.write(f"{status} {usage.ru_maxrss}")
"""


class Launched:
    """A command started through the launcher: ``signal()`` it, read ``proc.stdout`` when
    started with ``stdout=subprocess.PIPE``, then ``finish()`` for the measurements."""

    def __init__(self, args, *, env=None, cwd=None, stdout=None, close_stderr=False):
        self._scratch = tempfile.TemporaryDirectory()
        self._out, self._err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        self._report = os.path.join(self._scratch.name, "report")
        self.args = [str(a) for a in args]
        self.start = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-S", "-c", _LAUNCHER, self._report, str(int(close_stderr)),
                                      *self.args], stdin=subprocess.DEVNULL, stdout=stdout or self._out,
                                     stderr=self._err, env=env, cwd=cwd, start_new_session=True,
                                     text=stdout == subprocess.PIPE)

    def signal(self, signum: int) -> None:
        os.killpg(self.proc.pid, signum)

    def finish(self, timeout: float) -> Measured:
        """Wait for the end; past ``timeout`` seconds from the start, kill it and fail."""
        try:
            self.proc.wait(timeout=max(0.0, self.start + timeout - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
            raise AssertionError(f"{' '.join(self.args)}: still running after {timeout} s; killed") from None
        finally:
            rest = ""
            if self.proc.stdout is not None and not self.proc.stdout.closed:
                rest = self.proc.stdout.read()
                self.proc.stdout.close()
        seconds = time.monotonic() - self.start
        with open(self._report) as f:
            status, maxrss = map(int, f.read().split())
        self._scratch.cleanup()
        self._out.seek(0)
        self._err.seek(0)
        out = rest if self.proc.stdout is not None else self._out.read().decode(errors="replace")
        err = self._err.read().decode(errors="replace")
        self._out.close()
        self._err.close()
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, kB on Linux
        return Measured(os.waitstatus_to_exitcode(status), out, err, seconds, maxrss * scale)


def run_measured(args, *, timeout: float, env=None, cwd=None, stdout=None, close_stderr=False) -> Measured:
    """Run ``args`` to completion and measure it. Past ``timeout`` seconds it is killed and the
    test fails: that is the bound on time. ``stdout``: a file to write to instead of capturing;
    ``close_stderr``: start it with file descriptor 2 closed."""
    return Launched(args, env=env, cwd=cwd, stdout=stdout, close_stderr=close_stderr).finish(timeout)


def assert_bounded(m: Measured, seconds: float, above_interpreter_mb: float = 200) -> None:
    """The bounds issue 13 asks of every hostile input: done within ``seconds`` (generous: the
    machine is shared and noisy; the unbounded versions ran for minutes) and at most
    ``above_interpreter_mb`` MB of resident memory more than the bare interpreter."""
    above = (m.peak_rss - interpreter_rss()) / MB
    assert m.seconds < seconds, f"took {m.seconds:.1f} s (bound {seconds} s): {m.err[-300:]}"
    assert above < above_interpreter_mb, f"{above:.0f} MB above the interpreter (bound {above_interpreter_mb})"


@functools.lru_cache(maxsize=None)
def interpreter_rss() -> int:
    """Peak resident memory of the bare interpreter (``python -c pass``, measured as every
    command is): what "RSS above the interpreter" is measured from."""
    return run_measured([sys.executable, "-c", "pass"], timeout=60).peak_rss


def tinygrad(*argv) -> list:
    """argv for `python -m tinygrad_mnist ...` (this worktree's package, via cli_env)."""
    return [sys.executable, "-m", "tinygrad_mnist", *map(str, argv)]
