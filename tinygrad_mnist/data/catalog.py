"""What each known data set is: file names, md5 checksums, mirrors, class names, and where it
lives on disk (the cache directory and system-wide install locations).

Leaves out: reading (``formats``), loading (``datasets``) and fetching (``download``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

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


@dataclass(frozen=True)
class DatasetSpec:
    """One downloadable data set: ``md5`` maps each file name to the md5 of the file as served."""

    name: str
    md5: Mapping[str, str]
    mirrors: tuple[str, ...]
    system_dirs: tuple[str, ...]
    classes: tuple[str, ...]


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
    ),
})


def get_spec(name: str) -> DatasetSpec:
    """The ``DatasetSpec`` for ``name`` ("mnist" or "fashion-mnist"); DataError if unknown."""
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(repr(k) for k in DATASETS)
        raise DataError(f"unknown dataset {name!r}; known: {known}") from None


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache directory: ``cache_dir`` if given, else ``$TINYGRAD_MNIST_HOME``, else
    ``~/.cache/tinygrad_mnist`` (``~`` expanded; nothing is created).

    The environment variable must be absolute after ``~`` expansion: a relative one would make
    the cache depend on the current directory, so it raises DataError.
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(ENV_HOME, "")
    root = Path(env or DEFAULT_HOME).expanduser()
    if not root.is_absolute():
        raise DataError(f"${ENV_HOME}={env!r} is a relative path; set it to an absolute path "
                        "(or one starting with ~) so the cache does not depend on the current "
                        "directory")
    return root


def dataset_dir(name: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where data set ``name`` is cached: ``cache_root(cache_dir) / name``, e.g.
    ``~/.cache/tinygrad_mnist/fashion-mnist``."""
    spec = get_spec(name)
    return cache_root(cache_dir) / spec.name
