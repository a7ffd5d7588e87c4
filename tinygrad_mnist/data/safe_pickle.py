"""Michael Nielsen's ``mnist.pkl.gz`` read without running its code: a ``pickle.Unpickler``
whose ``find_class`` allows only what rebuilds numpy arrays, dtypes and tuples, fed through a
reader that caps the decompressed size.  Leaves out: IDX and CSV (``formats``).
"""
from __future__ import annotations

import importlib
import os
import pickle
import struct
from typing import BinaryIO

import numpy as np

from .errors import DataError
from .formats import _GZIP_ERRORS, DEFAULT_MAX_BYTES, N_PIXELS, _open_binary, _read_upto


def _numpy_global(module: str, name: str):
    # numpy >= 2 keeps these in numpy._core; pickles written by numpy 1 / Python 2 name numpy.core
    for pkg in ("numpy._core", "numpy.core"):
        try:
            mod = importlib.import_module(f"{pkg}.{module}")
        except ImportError:
            continue
        if hasattr(mod, name):
            return getattr(mod, name)
    raise DataError(f"this numpy has no {module}.{name}")


def _reconstruct(cls: type, shape: tuple, typecode: bytes) -> np.ndarray:
    """numpy's ``_reconstruct`` as ndarray pickles call it: an empty ndarray that BUILD fills."""
    if cls is not np.ndarray or tuple(shape) != (0,):
        raise DataError(f"pickle calls _reconstruct({getattr(cls, '__name__', cls)!r}, {shape!r}); "
                        "only _reconstruct(ndarray, (0,), ...) is allowed")
    return _numpy_global("multiarray", "_reconstruct")(cls, shape, typecode)


def _latin1_encode(text: str, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it (bytes stored as latin-1 text), only that."""
    if encoding.lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1", "iso8859-1"):
        raise DataError(f"pickle calls _codecs.encode with encoding {encoding!r}; only latin1 is "
                        "allowed")
    return text.encode("latin1", errors)


# Every global a pickle of numpy arrays needs: numpy 1 and Python 2 pickles say numpy.core,
# numpy 2 ones numpy._core; protocol-2 pickles store bytes via _codecs.encode.
ALLOWED_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
})


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays, dtypes and tuples and nothing else.

    ``find_class`` allows exactly the globals in ``ALLOWED_GLOBALS``; any other global (the
    door a malicious pickle uses to call ``os.system`` or ``open``) raises DataError naming it.
    """

    def __init__(self, file: BinaryIO, name: str) -> None:
        super().__init__(file, encoding="latin1")  # Nielsen's file is a Python 2 pickle
        self._name = name

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise DataError(f"{self._name}: pickle asks for global {module}.{name}, which is "
                            "forbidden (only numpy arrays and dtypes may be rebuilt); not loading it")
        if module == "numpy":
            return getattr(np, name)
        if module == "_codecs":
            return _latin1_encode
        if name == "_reconstruct":
            return _reconstruct
        return _numpy_global(module.rpartition(".")[2], name)


class _CappedReader:
    """A read-only view of a stream that fails once more than ``cap`` bytes come out of it."""

    def __init__(self, stream: BinaryIO, cap: int, name: str) -> None:
        self._stream, self._left, self._cap, self._name = stream, cap, cap, name

    def _take(self, data: bytes) -> bytes:
        self._left -= len(data)
        if self._left < 0:
            raise DataError(f"{self._name}: decompresses to more than max_bytes={self._cap}")
        return data

    def _call(self, method, size):
        size = self._left + 1 if size is None or size < 0 else min(size, self._left + 1)
        try:
            return self._take(bytes(method(self._stream, size)))
        except _GZIP_ERRORS as e:  # said here, so an EOFError reaching load() is the pickle's own
            raise DataError(f"{self._name}: corrupt or truncated gzip data ({e})") from e

    def read(self, size: int = -1) -> bytes:
        return self._call(_read_upto, size)

    def readline(self, size: int = -1) -> bytes:
        return self._call(lambda stream, n: stream.readline(n), size)


def _check_split(name: str, split: str, pair: object) -> tuple[np.ndarray, np.ndarray]:
    if not (isinstance(pair, tuple) and len(pair) == 2):
        raise DataError(f"{name}: {split} set should be an (X, y) pair, got {type(pair).__name__}")
    X, y = pair
    if not (isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == N_PIXELS
            and X.dtype.kind == "f"):
        raise DataError(f"{name}: {split} X should be a float array of shape (N, 784), got "
                        f"{getattr(X, 'dtype', type(X).__name__)} {getattr(X, 'shape', '')}")
    if not (isinstance(y, np.ndarray) and y.shape == (len(X),) and y.dtype.kind in "iu"):
        raise DataError(f"{name}: {split} y should be an integer array of shape ({len(X)},), "
                        f"got {getattr(y, 'dtype', type(y).__name__)} {getattr(y, 'shape', '')}")
    if X.size and not (np.isfinite(X).all() and X.min() >= 0.0 and X.max() <= 1.0):
        raise DataError(f"{name}: {split} X should hold pixel values in [0, 1]")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{name}: {split} labels should be 0..9, found {y.min()}..{y.max()}")
    return X.astype(np.float32, copy=False), y.astype(np.int64, copy=False)


def read_mnist_pickle(path: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES
                      ) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Read Michael Nielsen's ``mnist.pkl.gz`` (gzip optional) without running its code.

    Returns ``((X_train, y_train), (X_valid, y_valid), (X_test, y_test))`` as his
    ``mnist_loader.load_data()`` does (50000/10000/10000 rows in the original): X float32
    ``(N, 784)`` in [0, 1], y int64 ``(N,)``.  Unpickles with ``RestrictedUnpickler``
    (latin-1 for Python 2 strings), reading at most ``max_bytes`` decompressed bytes.
    """
    name = os.fspath(path)
    with _open_binary(path) as (stream, _):
        try:
            obj = RestrictedUnpickler(_CappedReader(stream, max_bytes, name), name).load()
        except DataError as e:
            if str(e).startswith(name):
                raise
            raise DataError(f"{name}: {e}") from e  # from a helper that cannot know the file
        except MemoryError as e:  # e.g. a hostile ndarray((10**12,)) call
            raise DataError(f"{name}: pickle asks for more memory than there is") from e
        except (pickle.UnpicklingError, ValueError, TypeError, AttributeError, IndexError,
                KeyError, OverflowError, struct.error, EOFError) as e:
            raise DataError(f"{name}: not a valid pickle ({type(e).__name__}: {e})") from e
    if not (isinstance(obj, tuple) and len(obj) == 3):
        raise DataError(f"{name}: expected a tuple (training, validation, test) of (X, y) pairs "
                        f"as in Nielsen's mnist.pkl.gz, got {type(obj).__name__}")
    return tuple(_check_split(name, s, p) for s, p in zip(("training", "validation", "test"), obj))
