"""download(): mirror fallback, md5 checks, atomic writes, caching.

Only ever talks to a local http.server on 127.0.0.1 (port 0, shut down by the fixture) that
serves the real MNIST files; the cache is tmp_path, never ~/.cache.
"""
import hashlib
import io
import http.server
import os
import socket
import stat
import threading
from importlib import resources
from pathlib import Path

import pytest

from tinygrad_mnist.data import (DATASETS, DataError, DownloadError, download, load_mnist,
                                 md5sum)

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
REAL = ("train-images-idx3-ubyte-first10k.gz", "train-labels-idx1-ubyte-first10k.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
# The server also answers to the standard train names with the first-10k files.
ALIASES = {"train-images-idx3-ubyte.gz": REAL[0], "train-labels-idx1-ubyte.gz": REAL[1]}
OFFICIAL_T10K = {"t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
                 "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}


def _source_dir() -> Path:
    if SHARED_MNIST.is_dir():
        return SHARED_MNIST
    with resources.as_file(resources.files("tinygrad_mnist") / "_data") as d:  # same bytes
        return Path(d)


SOURCE = _source_dir()
BLOBS = {name: (SOURCE / real).read_bytes() for name, real in
         {**{r: r for r in REAL}, **ALIASES}.items()}
MD5 = {name: hashlib.md5(blob).hexdigest() for name, blob in BLOBS.items()}
LABELS = {name: MD5[name] for name in ("t10k-labels-idx1-ubyte.gz",
                                       "train-labels-idx1-ubyte-first10k.gz")}


class Handler(http.server.BaseHTTPRequestHandler):
    """/<mode>/<file>: good | corrupt (one byte flipped) | err500 | trunc (half the body, full
    Content-Length, then hang up) | slow (waits for teardown) | drip (the right Content-Length,
    then a byte every 0.2 s) | endless (no Content-Length, zeros until the client leaves) |
    loop (redirects to itself)."""

    def do_GET(self):
        self.server.hits.append(self.path)
        mode, _, name = self.path.lstrip("/").partition("/")
        blob = BLOBS.get(name)
        if mode == "err500":
            return self.send_error(500)
        if mode == "slow":
            self.server.stop.wait(10)
            return self.send_error(503)
        if mode == "loop":
            self.send_response(302)
            self.send_header("Location", self.path)
            self.send_header("Content-Length", "0")
            return self.end_headers()
        if mode == "endless":
            self.send_response(200)
            self.end_headers()
            try:
                while not self.server.stop.is_set():
                    self.wfile.write(bytes(1 << 16))
            except OSError:  # the client hung up: what it should do
                pass
            self.close_connection = True
            return
        if blob is None:
            return self.send_error(404)
        if mode == "drip":
            self.send_response(200)
            self.send_header("Content-Length", str(len(blob)))
            self.end_headers()
            try:
                for byte in blob:
                    if self.server.stop.wait(0.2):
                        break
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            except OSError:
                pass
            self.close_connection = True
            return
        if mode == "corrupt":
            blob = blob[:100] + bytes([blob[100] ^ 1]) + blob[101:]
        self.send_response(200)
        self.send_header("Content-Length", str(len(blob)))
        self.end_headers()
        self.wfile.write(blob[:len(blob) // 2] if mode == "trunc" else blob)
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.hits, httpd.stop = [], threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield httpd
    finally:
        httpd.stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def dead_url():
    """A URL on a port nobody listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def cache_listing(home, dataset="mnist"):
    d = home / dataset
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def test_success_fetches_verifies_and_reports_progress(server, home):
    calls = []
    table = {**OFFICIAL_T10K, REAL[0]: MD5[REAL[0]], REAL[1]: MD5[REAL[1]]}
    paths = download(mirrors=[server.url + "/good/"], files=table, timeout=5,
                     progress=lambda *a: calls.append(a))
    assert [p.name for p in paths] == list(table) and all(p.parent == home / "mnist" for p in paths)
    assert cache_listing(home) == sorted(table)  # no temp files left over
    for p in paths:
        assert md5sum(p) == table[p.name] and p.read_bytes() == BLOBS[p.name]
    for name in table:
        mine = [(done, total) for n, done, total in calls if n == name]
        assert mine[0] == (0, len(BLOBS[name])) and mine[-1] == (len(BLOBS[name]),) * 2
        assert [d for d, _ in mine] == sorted(d for d, _ in mine)


def test_downloaded_files_get_the_permissions_of_any_new_file(server, home):
    umask = os.umask(0o027)  # not the usual 022, so a hard-coded 0o644 would fail too
    try:
        (path,) = download(mirrors=[server.url + "/good/"], files={REAL[1]: MD5[REAL[1]]}, timeout=5)
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # not mkstemp's 0o600


def test_official_checksums_match_the_real_test_files():
    for name, md5 in OFFICIAL_T10K.items():
        assert DATASETS["mnist"].md5[name] == md5 == MD5[name]
    assert DATASETS["mnist"].mirrors[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"


def test_falls_back_past_dead_and_failing_mirrors(server, dead_url, home):
    mirrors = [dead_url, server.url + "/err500", server.url + "/corrupt/", server.url + "/good/"]
    download(mirrors=mirrors, files=LABELS, timeout=5)
    assert cache_listing(home) == sorted(LABELS)
    name = "t10k-labels-idx1-ubyte.gz"
    assert [h for h in server.hits if h.endswith(name)] == [f"/err500/{name}",
                                                            f"/corrupt/{name}", f"/good/{name}"]


def test_checksum_mismatch_leaves_no_file_and_names_both_md5s(server, home):
    bad = {"t10k-labels-idx1-ubyte.gz": "0" * 32}
    with pytest.raises(DownloadError) as err:
        download(mirrors=[server.url + "/good/"], files=bad, timeout=5)
    msg = str(err.value)
    assert "t10k-labels-idx1-ubyte.gz" in msg and "md5 mismatch" in msg
    assert f"expected {'0' * 32}, got {MD5['t10k-labels-idx1-ubyte.gz']}" in msg
    assert cache_listing(home) == []
    with pytest.raises(DownloadError, match="md5 mismatch"):  # a corrupting mirror, right md5
        download(mirrors=[server.url + "/corrupt/"], files=LABELS, timeout=5)
    assert cache_listing(home) == []


def test_every_mirror_failing_names_each_with_its_error(server, dead_url, home):
    mirrors = [server.url + "/err500/", dead_url, server.url + "/good/nowhere/"]
    with pytest.raises(DownloadError) as err:
        download(mirrors=mirrors, files=LABELS, timeout=5)
    e = err.value
    assert isinstance(e, DataError) and e.filename == "t10k-labels-idx1-ubyte.gz"
    assert [url for url, _ in e.attempts] == [m.rstrip("/") + "/" + e.filename for m in mirrors]
    reasons = [reason for _, reason in e.attempts]
    assert "HTTP 500" in reasons[0] and "refused" in reasons[1].lower() and "HTTP 404" in reasons[2]
    for url, reason in e.attempts:
        assert url in str(e) and reason in str(e)
    assert not home.exists()  # the cache directories it made for nothing are gone again


def test_truncated_transfer_leaves_no_partial_file_and_keeps_the_old_one(server, home):
    (home / "mnist").mkdir(parents=True)
    old = home / "mnist" / "t10k-labels-idx1-ubyte.gz"
    old.write_bytes(b"previous copy")  # wrong md5, so download() tries to replace it
    with pytest.raises(DownloadError, match=r"truncated transfer: got \d+ of \d+ bytes"):
        download(mirrors=[server.url + "/trunc/"], files=LABELS, timeout=5)
    assert cache_listing(home) == ["t10k-labels-idx1-ubyte.gz"]
    assert old.read_bytes() == b"previous copy"


def test_cached_files_are_not_downloaded_again(server, dead_url, home):
    download(mirrors=[server.url + "/good/"], files=LABELS, timeout=5)
    hits, mtimes = len(server.hits), [p.stat().st_mtime_ns for p in (home / "mnist").iterdir()]
    paths = download(mirrors=[dead_url], files=LABELS, timeout=5)
    assert len(server.hits) == hits
    assert [p.stat().st_mtime_ns for p in (home / "mnist").iterdir()] == mtimes
    assert [p.name for p in paths] == list(LABELS)


def test_timeout_moves_on_to_the_next_mirror(server, home):
    download(mirrors=[server.url + "/slow/", server.url + "/good/"],
             files={"t10k-labels-idx1-ubyte.gz": MD5["t10k-labels-idx1-ubyte.gz"]}, timeout=0.3)
    assert cache_listing(home) == ["t10k-labels-idx1-ubyte.gz"]


def test_downloaded_standard_names_load_as_full_mnist(server, home, tmp_path):
    table = {name: MD5[name] for name in DATASETS["mnist"].md5}
    download(cache_dir=tmp_path / "elsewhere", mirrors=[server.url + "/good/"], files=table,
             timeout=5)
    ds = load_mnist(cache_dir=tmp_path / "elsewhere")
    assert "bundled" not in ds.source and "elsewhere" in ds.source
    assert [len(a) for a in ds] == [10000] * 4 and ds.y_train[0] == 5
    assert cache_listing(home) == []


def test_rejects_path_like_file_names_and_empty_mirror_list(home):
    with pytest.raises(ValueError, match="plain names"):
        download(mirrors=["http://127.0.0.1:9/"], files={"../escape.gz": "0" * 32})
    with pytest.raises(ValueError, match="at least one mirror"):
        download(mirrors=[])
    with pytest.raises(DataError, match="unknown dataset"):
        download("cifar10")


# ---------------------------------------------------------------- issue 13's table: downloads
# Each run in a subprocess, measured (helpers.run_measured): done within the time bound (a
# generous one: the machine is shared) and at most 200 MB above the bare interpreter.
import json  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from helpers import Launched, assert_bounded, cli_env, run_measured  # noqa: E402
from tinygrad_mnist import cli  # noqa: E402

NAME = "t10k-labels-idx1-ubyte.gz"
DOWNLOAD_SCRIPT = """
import json, sys
from tinygrad_mnist.cli.signals import SignalGuard
from tinygrad_mnist.data import DownloadError, download
url, name, md5, size, deadline = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
seen = []
with SignalGuard():  # what the command line installs: SIGTERM becomes an exception
    try:
        download(mirrors=[url], files={name: md5}, sizes={name: size} if size else None, timeout=5,
                 deadline=deadline, progress=lambda n, done, total: seen.append(done))
        print(json.dumps({"seen": seen}))
    except DownloadError as e:
        print(json.dumps({"error": str(e), "seen": seen}))
    except KeyboardInterrupt as e:  # signals.Interrupted, as the command line's main handles it
        print(json.dumps({"interrupted": e.status, "seen": seen}))
        sys.exit(e.status)
"""


def download_in_subprocess(url, size, deadline, home, **kw):
    argv = [sys.executable, "-c", DOWNLOAD_SCRIPT, url, NAME, MD5[NAME], size, deadline]
    return argv, cli_env(home.parent, TINYGRAD_MNIST_HOME=str(home))


def leftovers(home):
    return [p.name for p in home.rglob("*") if p.is_file()]


def test_table_dripping_mirror_stops_at_the_deadline_with_progress(server, home):
    """A mirror that drips a byte at a time: `download` ran on at 120 s with no progress shown
    (the timeout was per read); now the whole call has a deadline, and progress moves."""
    argv, env = download_in_subprocess(server.url + "/drip/", len(BLOBS[NAME]), 2, home)
    m = run_measured(argv, timeout=15, env=env)
    result = json.loads(m.out)
    assert "the download's deadline passed after" in result["error"], result
    assert len(result["seen"]) >= 4 and result["seen"] == sorted(result["seen"])  # bytes kept arriving
    assert leftovers(home) == []  # no .part
    assert 2 <= m.seconds
    assert_bounded(m, seconds=10)


def test_table_endless_response_is_cut_at_the_files_size(server, home):
    """A response without length that never ends: 985 MB written in 6 s before; now cut past
    the file's known size (here 4542 bytes), or past 64 MiB when the size is not known."""
    for size, cap in ((len(BLOBS[NAME]), len(BLOBS[NAME])), (0, 64 << 20)):
        argv, env = download_in_subprocess(server.url + "/endless/", size, 60, home)
        m = run_measured(argv, timeout=20, env=env)
        assert f"more than {cap} bytes, the size of the file" in json.loads(m.out)["error"], m.out
        assert leftovers(home) == []
        assert_bounded(m, seconds=20)


def test_table_killed_download_removes_its_part_file(server, home):
    """SIGTERM during a download: the .part file was left for ever (985 MB in one case); now
    it is removed as the signal unwinds the transfer."""
    argv, env = download_in_subprocess(server.url + "/drip/", len(BLOBS[NAME]), 60, home)
    run = Launched(argv, env=env)
    deadline = time.monotonic() + 15
    while not any(p.name.endswith(".part") for p in home.rglob("*")) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert any(p.name.endswith(".part") for p in home.rglob("*")), "the transfer never started"
    run.signal(signal.SIGTERM)
    m = run.finish(timeout=20)
    assert m.status == 143 and json.loads(m.out)["interrupted"] == 143, m.err
    assert leftovers(home) == []
    assert_bounded(m, seconds=20)


def test_stale_partial_files_are_swept_on_the_next_run(server, home):
    """What SIGKILL or a power cut leaves (.part of a download, .tmp-* of a save) is removed
    from the cache by the next download once older than a day; fresh ones are left alone."""
    folder = home / "mnist"
    folder.mkdir(parents=True)
    old = [folder / f".{NAME}.0123456789ab.part", folder / ".model.npz.tmp-0123456789ab.npz",
           folder / ".tmp-0123456789ab.json"]
    fresh = folder / f".{NAME}.ba9876543210.part"
    for p in old + [fresh]:
        p.write_bytes(bytes(1000))
    two_days_ago = time.time() - 2 * 86400
    for p in old:
        os.utime(p, (two_days_ago, two_days_ago))
    download(mirrors=[server.url + "/good/"], files=LABELS, timeout=5)
    assert sorted(leftovers(home)) == sorted([fresh.name, *LABELS])


def test_redirect_loop_is_one_line(server, home, monkeypatch, capsys):
    """urllib words a redirect loop in three lines; the command prints one."""
    with pytest.raises(DownloadError) as err:
        download(mirrors=[server.url + "/loop/"], files=LABELS, timeout=5)
    assert all("\n" not in why for _, why in err.value.attempts) and "redirect" in str(err.value)
    monkeypatch.setattr(cli.train, "download", lambda *a, **kw: download(mirrors=[server.url + "/loop/"],
                                                                         files=LABELS, timeout=5))
    assert cli.main(["download"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "redirect" in lines[0], lines


def test_progress_on_a_terminal_is_one_line_redrawn(monkeypatch):
    """On a terminal the progress is one line redrawn in place (at most ten times a second)."""
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    def fake(dataset, cache_dir=None, progress=None, deadline=None):
        for done in range(0, 101, 10):
            progress(NAME, done * 1000, 100_000)
            time.sleep(0.02)
        return [Path("/cache/mnist") / NAME]
    terminal = Terminal()
    monkeypatch.setattr(cli.train, "download", fake)
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli.main(["download"]) == 0
    text = terminal.getvalue()
    assert text.startswith(f"\r{NAME}    0% 0.0/0.1 MB") and text.endswith(f"\r{NAME}  100% 0.1/0.1 MB   \n")
    assert 3 <= text.count("\r") < 11  # redraws, throttled
