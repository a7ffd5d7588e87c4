"""Michael Nielsen's ``mnist.pkl.gz`` read without running its code.  The unpickler's
``find_class`` allows only the handful of globals numpy array pickles name, and even those map
to stand-ins here that check their arguments and rebuild plain numeric arrays themselves, so no
numpy unpickling internals ever see the file.  The pickle machine's work is bounded by the
file's real content: opcodes run, frame sizes and data lengths are capped (``limits``), the
opcodes that hash (dict and set items) are refused, and every container is rebuilt once however
often it is referenced.  Leaves out: IDX and CSV (``formats``).
"""
from __future__ import annotations

import os
import pickle
import pickletools
import reprlib
import struct

import numpy as np

from ..limits import MAX_PICKLE_FRAME, MAX_PICKLE_NESTING, MAX_PICKLE_OPCODES
from .errors import DataError
from .formats import DEFAULT_MAX_BYTES, N_PIXELS, _Capped, _open_binary

# Every global a pickle of numpy arrays names: numpy 1 and Python 2 pickles say numpy.core,
# numpy 2 ones numpy._core; Python 3's protocols 0-2 store bytes as _codecs.encode(text,
# "latin1"), and empty bytes as bytes() (__builtin__.bytes once fix_imports renames it).
ALLOWED_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    ("builtins", "bytes"), ("__builtin__", "bytes"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
})
# Messages quote a pickle's values through this: repr() of nested shared references would
# expand every one of them (10**16 items for a 98-byte file), and only then be cut.
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxtuple, _SHORT.maxlist, _SHORT.maxstring, _SHORT.maxother = 2, 4, 4, 40, 40


def _short(obj: object) -> str:
    """A bounded repr: at most a few items per level, two levels deep."""
    return _SHORT.repr(obj)


class _Ndarray:
    """Stands in for ``numpy.ndarray``: numpy's pickles only pass it to ``_reconstruct``;
    calling it, as a hostile ``ndarray((10**12,))`` would, is refused."""

    def __new__(cls, *args, **kwargs):
        raise DataError("pickle calls numpy.ndarray(...) directly; only numpy's own "
                        "_reconstruct(ndarray, (0,), ...) may build arrays")


class _Dtype:
    """What the pickle's ``numpy.dtype(spec, align, copy)`` builds: a plain numeric dtype
    (bool, int, uint, float), never object, string, record or sub-array types."""

    def __init__(self, spec: object, align: object = False, copy: object = False) -> None:
        try:
            dtype = np.dtype(spec) if isinstance(spec, str) and len(spec) <= 4 else None
        except (TypeError, ValueError):
            dtype = None
        if dtype is None or dtype.kind not in "biuf":
            raise DataError(f"pickle asks for dtype {_short(spec)}; only plain numeric dtypes are "
                            "allowed")
        self.dtype = dtype

    def __setstate__(self, state: object) -> None:
        # numpy's dtype state: (3, byteorder, subarray, names, fields, elsize, alignment, flags)
        # (+ metadata in version 4); only the byte order matters for a plain numeric dtype.
        if not (isinstance(state, tuple) and len(state) in (8, 9) and state[0] in (3, 4)
                and state[1] in ("<", ">", "|", "=") and state[2:5] == (None, None, None)):
            raise DataError(f"pickle gives dtype {self.dtype} an unexpected state {_short(state)}")
        if state[1] in "<>":
            self.dtype = self.dtype.newbyteorder(state[1])


def _array_from(data: object, dtype: object, shape: object, fortran: object) -> np.ndarray:
    """A fresh, writable array from a pickle's pieces, each checked before use."""
    fresh = isinstance(data, str)
    if fresh:  # a Python 2 str, decoded with latin-1 by the unpickler: a buffer of our own
        data = bytearray(data, "latin1")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DataError(f"array data should be bytes, got {type(data).__name__}")
    if not isinstance(dtype, _Dtype):
        raise DataError(f"array dtype should come from numpy.dtype, got {type(dtype).__name__}")
    if not (isinstance(shape, tuple) and all(type(n) is int and n >= 0 for n in shape)):
        raise DataError(f"array shape should be a tuple of sizes, got {_short(shape)}")
    need, held = int(np.prod(shape, dtype=object)) * dtype.dtype.itemsize, memoryview(data).nbytes
    if held != need:
        raise DataError(f"array of shape {_short(shape)} and dtype {dtype.dtype} needs {need} bytes, "
                        f"pickle holds {held}")
    array = np.frombuffer(data, dtype=dtype.dtype).reshape(shape, order="F" if fortran else "C")
    return array if fresh else array.copy(order="K")  # the pickle's buffers may be shared


class _Array:
    """What ``_reconstruct(ndarray, (0,), b'b')`` builds: an empty shell the pickle's BUILD
    fills with ``(version, shape, dtype, is_fortran, data)``."""

    array = None

    def __setstate__(self, state: object) -> None:
        if not (isinstance(state, tuple) and len(state) in (4, 5)):
            raise DataError(f"pickle gives an array an unexpected state {_short(state)}")
        shape, dtype, fortran, data = state[-4:]
        self.array = _array_from(data, dtype, shape, fortran)


def _reconstruct(cls: object, shape: object, typecode: object) -> _Array:
    if cls is not _Ndarray or shape != (0,):
        what = cls.__name__ if isinstance(cls, type) else _short(cls)
        raise DataError(f"pickle calls _reconstruct({what!r}, {_short(shape)}); only "
                        "_reconstruct(ndarray, (0,), ...) is allowed")
    return _Array()


def _frombuffer(buf: object, dtype: object, shape: object, order: object) -> np.ndarray:
    """numpy's protocol-5 array pickles: ``_frombuffer(buffer, dtype, shape, order)``."""
    return _array_from(buf, dtype, shape, order == "F")


def _scalar(dtype: object, data: object) -> np.generic:
    if not isinstance(data, (bytes, bytearray)):
        raise DataError(f"scalar data should be bytes, got {type(data).__name__}")
    return _array_from(data, dtype, (), False)[()]


def _latin1_encode(text: object, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it (bytes stored as latin-1 text), only that."""
    if not isinstance(text, str) or not isinstance(encoding, str) or \
            encoding.lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1"):
        raise DataError(f"pickle calls _codecs.encode with encoding {_short(encoding)}; only "
                        "latin1 text is allowed")
    return text.encode("latin1", "strict")


def _empty_bytes(*args: object) -> bytes:
    """``bytes()`` as protocols 0-2 write an empty bytes object; ``bytes(10**12)`` is refused."""
    if args:
        raise DataError("pickle calls bytes(...) with arguments; only bytes() is allowed")
    return b""


_STAND_INS = {"ndarray": _Ndarray, "dtype": _Dtype, "encode": _latin1_encode, "bytes": _empty_bytes,
              "_reconstruct": _reconstruct, "scalar": _scalar, "_frombuffer": _frombuffer}


def _leaf(obj: object) -> object:
    if isinstance(obj, _Array):
        if obj.array is None:
            raise DataError("pickle leaves an array without data")
        return obj.array
    return obj.dtype if isinstance(obj, _Dtype) else obj


def _finish(root: object) -> object:
    """Swap the filled ``_Array`` shells in the result for their arrays (and ``_Dtype`` for
    dtypes), rebuilding the tuples and lists that hold them.

    Iterative, and each container is rebuilt once however often the pickle refers to it, so the
    work is that of the distinct objects (no more than the opcodes run), never that of the
    expanded tree: 8 lists of 100 references each are 800 items here, not 10**16. Refuses
    nesting deeper than MAX_PICKLE_NESTING and a container that contains itself.
    """
    results, heights, open_ = {}, {}, set()
    stack = [(root, False)]
    while stack:
        obj, expanded = stack.pop()
        key = id(obj)  # every object stays alive inside root, so ids stay unique
        if key in results:
            continue
        if not isinstance(obj, (tuple, list)):
            results[key], heights[key] = _leaf(obj), 0
        elif not expanded:
            if key in open_:
                raise DataError("pickle holds a list that contains itself")
            open_.add(key)
            stack.append((obj, True))
            stack.extend((item, False) for item in obj)
        else:
            open_.discard(key)
            heights[key] = 1 + max((heights[id(item)] for item in obj), default=0)
            if heights[key] > MAX_PICKLE_NESTING:
                raise DataError(f"pickle nests tuples or lists more than {MAX_PICKLE_NESTING} deep")
            results[key] = type(obj)(results[id(item)] for item in obj)
    return results[id(root)]


# Opcodes no pickle of numpy arrays uses, refused outright: dict and set items are hashed, and
# hashing a tuple key built of shared references costs as much as expanding all of them; the
# others build objects of classes or call hooks this reader never offers.
_REFUSED_OPCODES = {op.code.encode("latin1")[0]: op.name for op in pickletools.opcodes if op.name in (
    "EMPTY_DICT", "DICT", "SETITEM", "SETITEMS", "EMPTY_SET", "ADDITEMS", "FROZENSET", "INST", "OBJ",
    "NEWOBJ", "NEWOBJ_EX", "PERSID", "BINPERSID", "EXT1", "EXT2", "EXT4")}


def _refused(name: str):
    def refuse(self) -> None:
        raise DataError(f"pickle uses the {name} opcode, which a pickle of numpy arrays never "
                        "needs; not loading it")
    return refuse


def _counted(run):
    """An opcode's handler that first counts it against MAX_PICKLE_OPCODES: each opcode builds
    at most one object, so this bounds the objects built too."""
    def counted(self) -> None:
        self.opcodes += 1
        if self.opcodes > MAX_PICKLE_OPCODES:
            raise DataError(f"pickle runs more than {MAX_PICKLE_OPCODES} opcodes (a pickle of "
                            "numpy arrays needs a few hundred); not loading it")
        run(self)
    return counted


class RestrictedUnpickler(pickle._Unpickler):
    """An unpickler that rebuilds numpy arrays, dtypes and tuples and nothing else.

    ``find_class`` allows exactly ``ALLOWED_GLOBALS`` and returns checking stand-ins for them;
    any other global (the door a malicious pickle uses to call ``os.system`` or ``open``)
    raises DataError naming it.  ``load()`` returns real numpy arrays.  Built on the
    pure-Python unpickler: the C one sizes its memo table from an index in the file (one
    4-byte LONG_BINPUT made it zero 10 GB in a fuzz run); for a few big arrays the Python one
    is fast enough (0.5 s for a 220 MB pickle).  Its work is bounded: at most
    MAX_PICKLE_OPCODES opcodes, frames of at most MAX_PICKLE_FRAME bytes, no dict or set
    opcodes (see ``limits``), shared references never expanded (``_finish``).
    """

    def __init__(self, file, name: str) -> None:
        super().__init__(file, encoding="latin1")  # Nielsen's file is a Python 2 pickle
        self._name = name
        self.opcodes = 0

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise DataError(f"{self._name}: pickle asks for global {module[:80]}.{name[:80]}, which is "
                            "forbidden (only numpy arrays and dtypes may be rebuilt); "
                            "not loading it")
        return _STAND_INS[name]

    def load(self) -> object:
        return _finish(super().load())

    def _load_build(self) -> None:
        """BUILD fills only our array and dtype shells.  The stock BUILD would also set
        attributes on any object, e.g. on the stand-in classes, for the rest of the process."""
        state, inst = self.stack.pop(), self.stack[-1]
        if not isinstance(inst, (_Array, _Dtype)):
            raise DataError(f"pickle sets the state of a {type(inst).__name__}; only arrays "
                            "and dtypes may be filled in")
        inst.__setstate__(state)

    def _load_frame(self) -> None:
        """A protocol-4 frame is read whole before it runs: cap it (the pickler writes ~64 kB)."""
        (size,) = struct.unpack("<Q", self.read(8))
        if size > MAX_PICKLE_FRAME:
            raise DataError(f"pickle frame of {size} bytes, more than {MAX_PICKLE_FRAME} (the "
                            "pickler writes frames of about 64 kB)")
        self._unframer.load_frame(size)

    def _load_bytearray8(self) -> None:
        """The stock handler allocates the claimed length before reading; read it instead (the
        source refuses a claim beyond what may still come)."""
        (size,) = struct.unpack("<Q", self.read(8))
        self.append(bytearray(self.read(size)))

    dispatch = {code: _counted(run) for code, run in {
        **pickle._Unpickler.dispatch, pickle.BUILD[0]: _load_build, pickle.FRAME[0]: _load_frame,
        pickle.BYTEARRAY8[0]: _load_bytearray8,
        **{code: _refused(name) for code, name in _REFUSED_OPCODES.items()}}.items()}


class _Source:
    """What the unpickler reads: the capped stream, refusing before reading a length field that
    claims more bytes than may still come out (a 9-byte BINBYTES8 header must not make it read,
    or allocate, 256 MB)."""

    def __init__(self, stream: _Capped, name: str) -> None:
        self._stream, self._name = stream, name

    def read(self, size: int = -1) -> bytes:
        if size is not None and size > self._stream.left:
            raise DataError(f"{self._name}: pickle asks for {size} bytes at once, more than "
                            f"max_bytes={self._stream.cap} allows")
        return self._stream.read(size)

    def readline(self, size: int = -1) -> bytes:
        return self._stream.readline(size)


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
    with _open_binary(path, max_bytes) as stream:
        try:
            obj = RestrictedUnpickler(_Source(stream, name), name).load()
        except DataError as e:
            if str(e).startswith(name):
                raise
            raise DataError(f"{name}: {e}") from e  # from a stand-in that cannot know the file
        except MemoryError as e:
            raise DataError(f"{name}: pickle asks for more memory than there is") from e
        except (pickle.UnpicklingError, ValueError, TypeError, AttributeError, IndexError,
                KeyError, OverflowError, struct.error, EOFError) as e:
            raise DataError(f"{name}: not a valid pickle ({type(e).__name__}: {str(e)[:200]})") from e
    if not (isinstance(obj, tuple) and len(obj) == 3):
        raise DataError(f"{name}: expected a tuple (training, validation, test) of (X, y) pairs "
                        f"as in Nielsen's mnist.pkl.gz, got {type(obj).__name__}")
    return tuple(_check_split(name, s, p) for s, p in zip(("training", "validation", "test"), obj))
