"""What each known data set is: file names, sizes, md5 checksums, mirrors, class names, and
where it lives on disk (the cache directory, found without needing a home directory, and
system-wide install locations), and ``sweep_cache`` for what killed downloads left there.

Leaves out: reading (``formats``), loading (``datasets``) and fetching (``download``).
"""
from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from ..files import sweep_stale
from .errors import DataError

# The four standard IDX files, in (train images, train labels, test images, test labels) order.
IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

# The offline sample shipped in tinygrad_mnist/_data, same order as IDX_FILES.
BUNDLED_FILES = (
    "train-images-idx3-ubyte-first10k.gz",
    "train-labels-idx1-ubyte-first10k.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

ENV_HOME = "TINYGRAD_MNIST_HOME"
DEFAULT_HOME = "~/.cache/tinygrad_mnist"
_CACHE_NAME = "tinygrad_mnist"  # the folder under $XDG_CACHE_HOME, ~/.cache or the temp dir
# What killed downloads (.NAME.<hex>.part) and saves (.NAME.tmp-<hex>, .tmp-<hex>) leave behind.
STALE_PATTERNS = (r"\..+\.part", r"\.(.+\.)?tmp-[0-9a-f]{12}.*")


@dataclass(frozen=True)
class DatasetSpec:
    """One downloadable data set: ``md5`` maps each file name to the md5 of the file as served,
    ``sizes`` to its size in bytes (a download stops past it)."""

    name: str
    md5: Mapping[str, str]
    mirrors: tuple[str, ...]
    system_dirs: tuple[str, ...]
    classes: tuple[str, ...]
    sizes: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


DATASETS: Mapping[str, DatasetSpec] = MappingProxyType({
    "mnist": DatasetSpec(
        name="mnist",
        md5=MappingProxyType(dict(zip(IDX_FILES, (
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "d53e105ee54ea40749a09fcbcd1e9432",
            "9fb629c4189551a2d022fa330f9573f3",
            "ec29112dd5afa0611ce80d1b7f02629c",
        )))),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        system_dirs=(),
        classes=tuple(str(d) for d in range(10)),
        sizes=MappingProxyType(dict(zip(IDX_FILES, (9912422, 28881, 1648877, 4542)))),
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        # md5 of Zalando's .gz files.  Debian's dataset-fashion-mnist re-gzips them (other .gz
        # md5s, identical decompressed bytes), so installed copies are checked by structure.
        md5=MappingProxyType(dict(zip(IDX_FILES, (
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "25c81989df183df01b3e8a0aad5dffbe",
            "bef4ecab320f06d8554ea6380940ec79",
            "bb300cfdad3c16e7a12a480ee83cd310",
        )))),
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        system_dirs=("/usr/share/datasets/fashion-mnist",),  # Debian: dataset-fashion-mnist
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        sizes=MappingProxyType(dict(zip(IDX_FILES, (26421880, 29515, 4422102, 5148)))),
    ),
})


def get_spec(name: str) -> DatasetSpec:
    """The ``DatasetSpec`` for ``name`` ("mnist" or "fashion-mnist"); DataError if unknown."""
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(repr(k) for k in DATASETS)
        raise DataError(f"unknown dataset {name!r}; known: {known}") from None


def _home() -> str | None:
    """The user's home directory: $HOME, else the passwd entry; None when neither gives an
    absolute path (``docker --user 12345`` with no HOME: no entry, no variable)."""
    home = os.environ.get("HOME") or None
    if home is None:
        try:
            import pwd
            home = pwd.getpwuid(os.getuid()).pw_dir
        except (ImportError, KeyError, AttributeError):  # no pwd module on Windows
            home = os.path.expanduser("~") if os.name == "nt" else None
    return home if home and os.path.isabs(home) else None


def expand_home(path: str | os.PathLike) -> Path:
    """``path`` with a leading ``~`` or ``~/`` replaced by the home directory; DataError when
    there is none to replace it with."""
    text = os.fspath(path)
    if text != "~" and not text.startswith(("~/", "~" + os.sep)):
        return Path(os.path.expanduser(text)) if text.startswith("~") else Path(text)
    home = _home()
    if home is None:
        raise DataError(f"{text}: there is no home directory to expand ~ to ($HOME is not set "
                        "and the user has no passwd entry); give an absolute path")
    return Path(home) / text[2:]


def _temp_cache() -> Path:
    """The last resort: a folder of our own in the system's temp directory. One that exists
    but is another user's, or a symbolic link, is refused: someone could plant data there."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    folder = Path(tempfile.gettempdir()) / (_CACHE_NAME if uid is None else f"{_CACHE_NAME}-{uid}")
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        return folder
    if not stat.S_ISDIR(st.st_mode) or (uid is not None and st.st_uid != uid):
        raise DataError(f"{folder}: the fallback cache exists but is not a directory of this "
                        f"user's; set ${ENV_HOME} to a directory of your own")
    return folder


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache directory (nothing is created), the first of: ``cache_dir`` if given;
    ``$TINYGRAD_MNIST_HOME``; ``$XDG_CACHE_HOME/tinygrad_mnist``; ``~/.cache/tinygrad_mnist``;
    and, with no home directory at all (no ``$HOME``, no passwd entry), ``tinygrad_mnist-<uid>``
    in the system's temp directory. ``~`` is expanded in each.

    ``$TINYGRAD_MNIST_HOME`` must be absolute after ``~`` expansion: a relative one would make
    the cache depend on the current directory, so it raises DataError. A relative
    ``$XDG_CACHE_HOME`` is ignored, as the XDG specification says.
    """
    if cache_dir is not None:
        return expand_home(cache_dir)
    env = os.environ.get(ENV_HOME, "")
    if env:
        root = expand_home(env)
        if not root.is_absolute():
            raise DataError(f"${ENV_HOME}={env!r} is a relative path; set it to an absolute path "
                            "(or one starting with ~) so the cache does not depend on the current "
                            "directory")
        return root
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg) / _CACHE_NAME
    home = _home()
    return Path(home) / ".cache" / _CACHE_NAME if home else _temp_cache()


def sweep_cache(directory: str | os.PathLike) -> list[str]:
    """Remove from ``directory`` (a data set's cache folder) the partial downloads and
    temporary files (``STALE_PATTERNS``) older than ``limits.STALE_SECONDS``: a killed process
    leaves them, and nothing else would ever remove them. Returns the names removed."""
    return [name for pattern in STALE_PATTERNS for name in sweep_stale(directory, pattern)]


def dataset_dir(name: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where data set ``name`` is cached: ``cache_root(cache_dir) / name``, e.g.
    ``~/.cache/tinygrad_mnist/fashion-mnist``."""
    spec = get_spec(name)
    return cache_root(cache_dir) / spec.name
