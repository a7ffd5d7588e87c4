"""Issue 13's table, measured: each hostile input or event run as a real command, with its exit
status, wall time and peak RSS above the bare interpreter (tests/helpers.run_measured). The
tests assert bounds on the same runs (`pytest -k table`); this prints the numbers.

    python benchmarks/issue13_table.py
"""
import http.server
import shutil
import json
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]
import numpy as np  # noqa: E402
import hostile as h  # noqa: E402
import helpers as H  # noqa: E402
import test_cli as C  # noqa: E402
import test_download as D  # noqa: E402
from tinygrad_mnist import digits, nn, serialize  # noqa: E402
base = H.interpreter_rss()
print(f"interpreter: {base/2**20:.0f} MB; | row | exit | seconds | MB above the interpreter | what it said |")
def row(name, m, note=""):
    print(f"| {name} | exit {m.status} | {m.seconds:.2f} s | {(m.peak_rss-base)/2**20:.0f} MB | {(note or m.err.strip())[:150]} |")
t = pathlib.Path(tempfile.mkdtemp()); env = H.cli_env(t)
serialize.save(nn.MLP([784, 30, 10], seed=0), t / "model.npz")
digits.write_png(t / "digit.png", np.zeros((28, 28), np.uint8))
run = lambda *a, **kw: H.run_measured(H.tinygrad(*a), timeout=120, env=env, **kw)
row("billion laughs", run("train", "--data", h.billion_laughs(t / "bl.pkl.gz")))
row("100M push-None", run("train", "--data", h.opcode_flood(t / "fl.pkl.gz")))
row("CSV 300 MB line", run("train", "--data", h.csv_long_line(t / "line.csv.gz")))
row("CSV valid rows 300 MB (1 member)", run("train", "--data", h.csv_valid_rows(t / "rows.csv.gz")))
row("CSV valid rows 300 MB (members)", run("train", "--data", h.csv_valid_rows(t / "rowsm.csv.gz", members=True)))
row("IDX 1 GB, --limit 100", run("train", "--data", h.idx_dir(t / "idx"), "--limit", 100, "--epochs", 1, "--quiet"), "ok")
row("IDX 1 GB, no --limit", run("train", "--data", t / "idx"))
row("npz 784-675000-10 f16", run("predict", h.mlp_of_zeros(t / "big.npz", [784, 675000, 10], "<f2"), t / "digit.png"))
row("npz 784-200000-10 f16", run("predict", h.mlp_of_zeros(t / "big2.npz", [784, 200000, 10], "<f2"), t / "digit.png"))
row("PNG 4096x4096", run("predict", t / "model.npz", h.huge_png(t / "big.png")))
m = run("show", h.mlp_of_zeros(t / "wide.npz", [784, 15000, 10]), "-o", t / "w.png"); row("show 784-15000-10", m, m.out.strip())
# downloads
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), D.Handler); httpd.daemon_threads = True
httpd.hits, httpd.stop = [], threading.Event(); threading.Thread(target=httpd.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{httpd.server_address[1]}"
home = t / "dl" / "home"
argv, denv = D.download_in_subprocess(url + "/drip/", len(D.BLOBS[D.NAME]), 2, home)
m = H.run_measured(argv, timeout=60, env=denv); row("dripping mirror (deadline 2 s)", m, json.loads(m.out)["error"][-70:] + f"; {len(json.loads(m.out)['seen'])} progress calls; left: {D.leftovers(home)}")
argv, denv = D.download_in_subprocess(url + "/endless/", len(D.BLOBS[D.NAME]), 60, home)
m = H.run_measured(argv, timeout=60, env=denv); row("endless response (known size)", m, json.loads(m.out)["error"][-60:] + f"; left: {D.leftovers(home)}")
argv, denv = D.download_in_subprocess(url + "/endless/", 0, 60, home)
m = H.run_measured(argv, timeout=60, env=denv); row("endless response (unknown size)", m, json.loads(m.out)["error"][-60:] + f"; left: {D.leftovers(home)}")
argv, denv = D.download_in_subprocess(url + "/drip/", len(D.BLOBS[D.NAME]), 60, home)
L = H.Launched(argv, env=denv)
while not any(p.name.endswith(".part") for p in home.rglob("*")): time.sleep(0.02)
L.signal(signal.SIGTERM); m = L.finish(60); row("SIGTERM during download", m, f"left: {D.leftovers(home)}")
httpd.stop.set(); httpd.shutdown()
# outputs
tr = ["train", "--limit", 300, "--epochs", 3, "--save", t / "o.npz", "--metrics", t / "o.json"]
L = H.Launched(H.tinygrad(*tr), env=env, stdout=subprocess.PIPE); L.proc.stdout.readline(); L.proc.stdout.close(); m = L.finish(60)
row("| head -1", m, f"files: {sorted(p.name for p in t.iterdir() if p.name.startswith('o.'))}")
for p in (t / "o.npz", t / "o.json"): p.unlink()
with open("/dev/full", "w") as full: m = H.run_measured(H.tinygrad(*tr), timeout=60, env=env, stdout=full)
row("stdout > /dev/full", m, f"files: {sorted(p.name for p in t.iterdir() if p.name.startswith('o.'))}")
for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
    s = t / sig.name; s.mkdir()
    L = H.Launched(H.tinygrad("train", "--limit", 2000, "--epochs", 50, "--save", s / "m.npz", "--metrics", s / "m.json"), env=env, stdout=subprocess.PIPE)
    while not L.proc.stdout.readline().startswith("epoch 3/"): pass
    L.signal(sig); m = L.finish(60); row(f"{sig.name} mid-training", m, m.err.strip()[-80:])
m = H.run_measured(H.tinygrad("train", "--data", t / "missing"), timeout=60, env=env, close_stderr=True)
row("stderr closed (2>&-), bad --data", m, f"stdout: {m.out!r}")
penv = dict(env); [penv.pop(k, None) for k in ("HOME", "TINYGRAD_MNIST_HOME", "XDG_CACHE_HOME")]
np.save(t / "d.npy", np.zeros(784, np.float32))
m = H.run_measured([sys.executable, "-c", C.NO_PASSWD, "predict", str(t / "model.npz"), str(t / "d.npy")], timeout=60, env=penv); row("no HOME, no passwd: predict", m, m.out.strip()[-60:])
m = H.run_measured([sys.executable, "-c", C.NO_PASSWD, "train", "--limit", "100", "--epochs", "1", "--quiet"], timeout=60, env=penv); row("no HOME, no passwd: train", m, m.out.strip()[-60:])
m = run("train", "--epochs", 1, "--batch-size", 10000, "--lr", 1e300, "--save", t / "d.npz", "--metrics", t / "d.json"); row("divergence on the last step", m)
m = run("train", "--epochs", 50, "--save", t / ("m" * 300 + ".npz")); row("--save of 300 characters", m, m.err.strip()[-110:])
m = run("train", "--epochs", 50, "--plot", t / "curve.txt"); row("--plot curve.txt", m)
shutil.rmtree(t, ignore_errors=True)
