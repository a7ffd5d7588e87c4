"""Data for tinygrad_mnist: readers for IDX, Nielsen's ``mnist.pkl.gz`` and Kaggle CSV; MNIST and
Fashion-MNIST from the cache, a system install or the bundled 10k/10k sample; downloads with
mirror fallback and md5 checks; and the array helpers training needs (standardize, one_hot,
batches).  NumPy and the standard library only (plus ``tinygrad_mnist.files`` and
``tinygrad_mnist.limits``, themselves standard library only); nothing here imports the engine,
and ``download`` (with urllib) is imported only when it is first used.  Every reader's work is
bounded by what its file really holds (``limits``: bytes after decompression, CSV line length,
pickle opcodes), and ``limit=N`` reads only the first N images.

Arrays: X float32 ``(N, 784)`` in [0, 1]; y int64 ``(N,)`` with values 0..9.
Every data problem raises ``DataError`` (a ``ValueError``) naming the file and what is wrong.
"""
from .catalog import DATASETS, cache_root, dataset_dir, sweep_cache
from .datasets import (Dataset, find_idx_files, load_bundled_sample, load_dataset, load_dir,
                       load_file, load_idx_pair, load_mnist, load_path)
from .errors import BundledSampleWarning, DataError, DownloadError
from .formats import read_idx, read_kaggle_csv, write_idx
from .preprocess import batches, one_hot, standardize
from .safe_pickle import RestrictedUnpickler, read_mnist_pickle

__all__ = [
    "DATASETS", "cache_root", "dataset_dir", "sweep_cache",
    "Dataset", "find_idx_files", "load_bundled_sample", "load_dataset", "load_dir", "load_file",
    "load_idx_pair", "load_mnist", "load_path",
    "download", "md5sum",
    "BundledSampleWarning", "DataError", "DownloadError",
    "RestrictedUnpickler", "read_idx", "read_kaggle_csv", "read_mnist_pickle", "write_idx",
    "batches", "one_hot", "standardize",
]


def __getattr__(name):
    # urllib and http.client take longer to import than all of data/ and are needed only to download
    if name in ("download", "md5sum"):
        from . import fetch
        value = getattr(fetch, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
