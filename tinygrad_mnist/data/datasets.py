"""Whole data sets as ``Dataset``: MNIST / Fashion-MNIST from the cache or a system install, the
bundled offline sample, and any directory or file a user points ``--data`` at.

Leaves out: parsing bytes (``formats``) and fetching (``download``).
"""
from __future__ import annotations

import gzip
import os
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..files import refuse_special
from .catalog import BUNDLED_FILES, DATASETS, IDX_FILES, dataset_dir, get_spec, sweep_cache
from .errors import BundledSampleWarning, DataError
from .formats import _GZIP_ERRORS, _IDX_CODES, GZIP_MAGIC, N_PIXELS, read_idx, read_kaggle_csv
from .safe_pickle import read_mnist_pickle

_RESOURCE_PACKAGE = "tinygrad_mnist"  # the bundled sample is in tinygrad_mnist/_data
_DIGITS = DATASETS["mnist"].classes


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A train/test split: X float32 ``(N, 784)`` in [0, 1], y int64 ``(N,)`` with values 0..9.

    Unpacks like the tutorials' 4-tuple: ``X_train, y_train, X_test, y_test = load_mnist()``.
    ``name`` is "mnist", "fashion-mnist" or the file it came from; ``source`` says in a sentence
    where the arrays came from (print it); ``classes`` names the 10 labels; ``X_valid``/``y_valid``
    hold a separate validation split when the source has one (Nielsen's pickle), else None.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str = "mnist"
    source: str = ""
    classes: tuple[str, ...] = _DIGITS
    X_valid: np.ndarray | None = None
    y_valid: np.ndarray | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.X_train, self.y_train, self.X_test, self.y_test))

    def __repr__(self) -> str:
        valid = "" if self.X_valid is None else f", valid={len(self.X_valid)}"
        return (f"Dataset(name={self.name!r}, train={len(self.X_train)}, test={len(self.X_test)}"
                f"{valid}, source={self.source!r})")


# ----------------------------------------------------------------------------- IDX pairs
def _idx_magic(a: np.ndarray) -> str:
    """The magic number the array's file had, e.g. 0x00000801 for uint8 labels."""
    return f"0x0000{_IDX_CODES[a.dtype]:02x}{a.ndim:02x}"


def load_idx_pair(images: str | os.PathLike, labels: str | os.PathLike, *,
                  limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read an MNIST-style pair of IDX files into X float32 ``(N, 784)`` in [0, 1] and y int64
    ``(N,)``.  Checks the magic numbers (2051 images, 2049 labels), the 28x28 size, equal counts
    and labels 0..9; DataError names the file at fault.  ``limit``: read only the first
    ``limit`` images and labels (``read_idx``)."""
    img, lab = read_idx(images, limit=limit), read_idx(labels, limit=limit)
    if img.dtype != np.uint8 or img.ndim != 3:
        raise DataError(f"{os.fspath(images)}: magic number {_idx_magic(img)}, expected 2051 "
                        "(0x00000803: uint8 images, 3 dimensions); is it a labels file?")
    if lab.dtype != np.uint8 or lab.ndim != 1:
        raise DataError(f"{os.fspath(labels)}: magic number {_idx_magic(lab)}, expected 2049 "
                        "(0x00000801: uint8 labels, 1 dimension); is it an images file?")
    if img.shape[1:] != (28, 28):
        raise DataError(f"{os.fspath(images)}: images are {img.shape[1]}x{img.shape[2]}, "
                        "expected 28x28")
    if len(img) != len(lab):
        raise DataError(f"{os.fspath(images)} holds {len(img)} images but "
                        f"{os.fspath(labels)} holds {len(lab)} labels")
    if lab.size and lab.max() > 9:
        raise DataError(f"{os.fspath(labels)}: label {lab.max()} at index "
                        f"{int(np.argmax(lab > 9))}; labels must be 0..9")
    X = img.reshape(len(img), N_PIXELS).astype(np.float32)
    X /= 255.0
    return X, lab.astype(np.int64)


def _idx_candidates(standard: str) -> list[str]:
    """Names a standard IDX file goes by: ``train-images-idx3-ubyte[.gz]`` and the
    ``train-images.idx3-ubyte`` spelling of some unpacked copies."""
    base = standard[:-3]  # drop ".gz"
    dotted = base.replace("-idx", ".idx")
    return [base + ".gz", base, dotted + ".gz", dotted]


def find_idx_files(directory: str | os.PathLike) -> tuple[list[Path], list[str]]:
    """Look for the four standard IDX files in ``directory``.  Returns (found paths in the order
    train images, train labels, test images, test labels; names of the missing ones)."""
    found, missing = [], []
    for standard in IDX_FILES:
        hit = next((Path(directory, n) for n in _idx_candidates(standard)
                    if Path(directory, n).is_file()), None)
        if hit is None:
            missing.append(standard[:-3] + "[.gz]")
        else:
            found.append(hit)
    return found, missing


def _first(limit: int | None) -> str:
    """How a Dataset's source says it was cut: ' (first 100 images of each set)'."""
    return "" if limit is None else f" (first {limit} images of each set)"


def _from_idx_dir(directory: Path, name: str, classes: tuple[str, ...], source: str,
                  limit: int | None = None) -> Dataset:
    found, missing = find_idx_files(directory)
    if missing:
        raise DataError(f"{directory}: missing {', '.join(missing)}")
    return Dataset(*load_idx_pair(found[0], found[1], limit=limit),
                   *load_idx_pair(found[2], found[3], limit=limit),
                   name=name, source=source + _first(limit), classes=classes)


# ---------------------------------------------------------------------- files and folders
def _rows_to_read(limit: int | None) -> int | None:
    """Rows of a single labelled file to read for ``limit`` training and ``limit`` test rows."""
    return None if limit is None else 2 * limit


def _holdout(X: np.ndarray, y: np.ndarray, path: str, note: str = "",
             limit: int | None = None) -> Dataset:
    """Split the last sixth (MNIST's 60k/10k ratio) off a labelled file as the test set.
    With ``limit``, X holds the file's first 2 * limit rows (``_rows_to_read``): the first
    ``limit`` train and the next ``limit`` are the test set; a shorter file is split as usual
    and each part cut to ``limit``."""
    if limit is not None and len(X) == 2 * limit:
        return Dataset(X[:limit], y[:limit], X[limit:], y[limit:], name=os.path.basename(path),
                       source=f"{path}: first {limit} rows for training, the next {limit} held "
                              f"out as the test set (a limit of {limit}){note}")
    n_test = len(X) // 6
    if n_test == 0:
        raise DataError(f"{path}: {len(X)} rows, too few to hold out a test set")
    cut = len(X) - n_test
    end = None if limit is None else cut + limit
    return Dataset(X[:cut][:limit], y[:cut][:limit], X[cut:end], y[cut:end], name=os.path.basename(path),
                   source=f"{path}: first {cut} rows for training, last {n_test} held out as the "
                          f"test set{note}{_first(limit)}")


def _sniff(path: Path) -> str:
    """'idx', 'pickle', 'csv' or 'unknown', from the first bytes (decompressed if gzip)."""
    with open(path, "rb") as f:
        head = f.read(64)
    if head[:2] == GZIP_MAGIC:
        try:
            with gzip.open(path, "rb") as f:
                head = f.read(64)
        except _GZIP_ERRORS as e:
            raise DataError(f"{path}: corrupt or truncated gzip data ({e})") from e
    if head[:2] == b"\0\0":
        return "idx"
    if head[:1] in (b"\x80", b"("):  # pickle protocol >= 2, or protocol 0/1 starting a tuple
        return "pickle"
    if head and all(32 <= b < 127 or b in b"\r\n\t" for b in head.lstrip(b"\xef\xbb\xbf")):
        return "csv"
    return "unknown"


def load_file(path: str | os.PathLike, *, limit: int | None = None) -> Dataset:
    """Load one file, recognised by content: Nielsen's ``mnist.pkl.gz`` (train/valid/test as
    published), or a labelled Kaggle CSV (the last sixth of its rows becomes the test set).
    A single IDX file holds only images or only labels: pass its directory to ``load_dir``.
    A pipe or a device raises DataError without being opened (reading a pipe would block).
    ``limit``: at most ``limit`` training and ``limit`` test images; a CSV is then read only
    up to its first 2 * limit rows (see ``_holdout``), a pickle is read whole (within
    ``limits.MAX_DATA_BYTES``: a pickle cannot be read in part) and cut."""
    path = Path(path)
    refuse_special(path, "a data file (mnist.pkl.gz, train.csv) or a directory holding them", DataError)
    kind = _sniff(path)
    if kind == "pickle":
        (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = read_mnist_pickle(path)
        return Dataset(X_tr[:limit], y_tr[:limit], X_te[:limit], y_te[:limit], name=path.name,
                       X_valid=X_va[:limit], y_valid=y_va[:limit],
                       source=f"{path}: Nielsen's pickle, {len(X_tr)} train / {len(X_va)} "
                              f"validation / {len(X_te)} test{_first(limit)}")
    if kind == "csv":
        X, y = read_kaggle_csv(path, limit=_rows_to_read(limit))
        if y is None:
            raise DataError(f"{path}: has no label column (Kaggle's test.csv?); training needs "
                            "train.csv, whose first column is the label")
        return _holdout(X, y, str(path), limit=limit)
    if kind == "idx":
        raise DataError(f"{path}: one IDX file holds only images or only labels; pass the "
                        "directory holding all four (train-images-idx3-ubyte.gz, "
                        "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
                        "t10k-labels-idx1-ubyte.gz)")
    raise DataError(f"{path}: unrecognised format; expected an IDX file, a pickle "
                    "(mnist.pkl.gz) or a CSV (train.csv)")


def load_dir(path: str | os.PathLike, *, limit: int | None = None) -> Dataset:
    """Load the data set in a directory, trying in turn: the four standard IDX files
    (``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``, ``t10k-...``);
    ``mnist.pkl.gz``; Kaggle's ``train.csv`` with ``test.csv`` as the test set when it is
    labelled (Kaggle's own is not: then the last sixth of train.csv is held out).
    ``limit``: at most ``limit`` training and ``limit`` test images, read as they are needed
    (``load_file`` says how)."""
    directory = Path(path)
    found, missing = find_idx_files(directory)
    if not missing:
        spec = DATASETS.get(directory.name)  # e.g. .../fashion-mnist: name its classes
        return _from_idx_dir(directory, directory.name, spec.classes if spec else _DIGITS,
                             f"IDX files in {directory}", limit)
    for pkl in ("mnist.pkl.gz", "mnist.pkl"):
        if (directory / pkl).is_file():
            return load_file(directory / pkl, limit=limit)
    train_csv, test_csv = directory / "train.csv", directory / "test.csv"
    if train_csv.is_file():
        labelled_test = test_csv.is_file() and read_kaggle_csv(test_csv, limit=1)[1] is not None
        X, y = read_kaggle_csv(train_csv, limit=limit if labelled_test else _rows_to_read(limit))
        if y is None:
            raise DataError(f"{train_csv}: has no label column")
        if labelled_test:
            X_te, y_te = read_kaggle_csv(test_csv, limit=limit)
            return Dataset(X, y, X_te, y_te, name=directory.name,
                           source=f"Kaggle CSVs {train_csv} and {test_csv}{_first(limit)}")
        note = f" ({test_csv} has no labels)" if test_csv.is_file() else ""
        return _holdout(X, y, str(train_csv), note, limit=limit)
    if found:
        raise DataError(f"{directory}: incomplete IDX set, missing {', '.join(missing)}")
    listing = sorted(p.name for p in directory.iterdir())[:10]
    raise DataError(f"{directory}: no MNIST data found; expected the four IDX files "
                    "(train-images-idx3-ubyte[.gz] ...), mnist.pkl.gz, or train.csv; "
                    f"found: {', '.join(listing) or 'nothing'}")


def load_path(path: str | os.PathLike, *, limit: int | None = None) -> Dataset:
    """``load_dir`` for a directory, ``load_file`` for a file: what the CLI's ``--data`` calls.
    ``limit``: at most ``limit`` training and ``limit`` test images, read as needed."""
    p = _expand(path)
    if p.is_dir():
        return load_dir(p, limit=limit)
    if not p.exists():
        raise DataError(f"{p}: no such file or directory")
    return load_file(p, limit=limit)  # which refuses a pipe or a device without opening it


def _expand(path: str | os.PathLike) -> Path:
    """``path`` with a leading ~ expanded; as given when there is no home to expand it to."""
    try:
        return Path(path).expanduser()
    except RuntimeError:  # no $HOME and no passwd entry
        return Path(path)


# --------------------------------------------------------------------------- named sets
def load_bundled_sample(*, limit: int | None = None) -> Dataset:
    """The offline sample shipped with the package (read via importlib.resources): the first
    10,000 MNIST training images and the official 10,000 test images, X ``(10000, 784)``
    (``limit``: only the first ``limit`` of each, read as needed)."""
    base = resources.files(_RESOURCE_PACKAGE) / "_data"
    arrays = []
    for images, labels in (BUNDLED_FILES[:2], BUNDLED_FILES[2:]):
        with resources.as_file(base / images) as img, resources.as_file(base / labels) as lab:
            arrays += load_idx_pair(img, lab, limit=limit)
    return Dataset(*arrays, name="mnist", classes=_DIGITS,
                   source="bundled sample: the first 10000 MNIST training images and the "
                          "official 10000 test images" + _first(limit))


def load_dataset(name: str = "mnist", cache_dir: str | os.PathLike | None = None, *,
                 search_dirs: Sequence[str | os.PathLike] | None = None,
                 warn: bool = True, limit: int | None = None) -> Dataset:
    """Load ``name`` ("mnist" or "fashion-mnist"): X float32 ``(N, 784)`` in [0, 1], y int64.

    Looks for the four IDX files in ``dataset_dir(name, cache_dir)`` (``cache_dir`` defaults to
    ``$TINYGRAD_MNIST_HOME`` or ``~/.cache/tinygrad_mnist``), then in ``search_dirs`` (default:
    the system install, ``/usr/share/datasets/fashion-mnist`` from Debian's
    ``dataset-fashion-mnist``).  If MNIST is in neither, returns the bundled 10k/10k sample and
    says so in ``Dataset.source`` and, if ``warn``, in one ``BundledSampleWarning``.  A missing
    Fashion-MNIST raises DataError saying how to get it.  ``limit``: at most ``limit`` training
    and ``limit`` test images, read as needed.  Stale temporary files of killed downloads are
    swept from the cache (``catalog.sweep_cache``).
    """
    spec = get_spec(name)
    cache = dataset_dir(name, cache_dir)
    sweep_cache(cache)
    dirs = [cache] + [Path(d) for d in (spec.system_dirs if search_dirs is None else search_dirs)]
    for d in dirs:
        if d.is_dir() and not find_idx_files(d)[1]:
            return _from_idx_dir(d, spec.name, spec.classes, f"{spec.name} from {d}", limit)
    where = " or ".join(str(d) for d in dirs)
    if spec.name == "mnist":
        sample = load_bundled_sample(limit=limit)
        note = (f"{sample.source} (full MNIST not found in {where}; run "
                "`tinygrad-mnist download` to fetch all 60000 training images)")
        if warn:
            warnings.warn(note, BundledSampleWarning, stacklevel=2)
        return Dataset(*sample, name="mnist", source=note, classes=_DIGITS)
    raise DataError(f"{spec.name} not found in {where}; run `tinygrad-mnist download --dataset "
                    f"{spec.name}`" + (", or install the Debian package dataset-fashion-mnist "
                                       "(apt-get install dataset-fashion-mnist)"
                                       if spec.name == "fashion-mnist" else ""))


def load_mnist(cache_dir: str | os.PathLike | None = None, *, warn: bool = True,
               limit: int | None = None) -> Dataset:
    """``load_dataset("mnist", cache_dir, warn=warn, limit=limit)``: full MNIST (60000 + 10000)
    from the cache, else the bundled 10000 + 10000 sample.  X float32 ``(N, 784)``, y int64
    ``(N,)``."""
    return load_dataset("mnist", cache_dir, warn=warn, limit=limit)
