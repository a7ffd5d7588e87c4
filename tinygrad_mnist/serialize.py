"""The model file format: ``save`` and ``load`` (.npz: one array per parameter by dotted name,
plus the architecture as JSON), built through ``nn``'s layer registry, so any registered layer
is saveable. ``load`` treats every file as hostile: everything is counted from the archive's
headers before anything is built or read (at most ``limits.MAX_PARAMETERS`` numbers, the
limit ``train`` has too). Leaves out: the layers themselves (``nn``) and how bytes reach the
disk (``files.atomic_file``).
"""
from __future__ import annotations

import json
import os
import tokenize
import zipfile
import zlib
from typing import Union

import numpy as np

from .errors import ModelFileError
from .files import atomic_file, refuse_special
from .limits import MAX_ARCHITECTURE_CHARS, MAX_LAYERS, MAX_NESTING, MAX_PARAMETERS
from .nn import LAYERS, Module, build

__all__ = ["save", "load", "ModelFileError", "ARCH_KEY", "MAX_MODEL_BYTES", "MAX_PARAMETERS"]

ARCH_KEY = "__architecture__"


def _build(config: dict, path: str) -> Module:
    """Rebuild a module from its config through ``nn.LAYERS`` (weights set afterwards), naming
    the bad field if any."""
    if not isinstance(config, dict) or "type" not in config:
        raise ModelFileError(f"{path}: architecture must be a JSON object with a 'type' field")
    kind = config["type"]
    if not isinstance(kind, str) or kind not in LAYERS:
        raise ModelFileError(f"{path}: unknown layer type {kind!r} in the architecture")
    try:
        return build(config)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{path}: architecture field of {kind!r} is invalid: {e}") from None


def save(model: Module, path: Union[str, os.PathLike]) -> None:
    """Write ``model``'s parameters (by dotted name) and its architecture (JSON) to a .npz file.

    Atomic (``atomic_file``): the archive is written to a temporary file in the same directory
    and renamed over ``path``, so an interrupted save never destroys a previous model.
    """
    arrays = {name: p.data for name, p in model.named_parameters()}
    arrays[ARCH_KEY] = np.array(json.dumps(model.config()))
    with atomic_file(path, "wb", suffix=".npz") as f:
        np.savez(f, **arrays)


# A model file's bytes: its parameters in float64 at most, plus the architecture.
MAX_MODEL_BYTES = 8 * MAX_PARAMETERS + 4 * MAX_ARCHITECTURE_CHARS


def _count_params(config, path: str) -> int:
    """How many numbers the architecture in ``config`` holds, computed without building it,
    from each layer type's ``count_parameters`` (unknown counts as 0: ``_build`` judges it).

    Walks nested ``layers`` lists with an explicit stack (a hostile file may nest thousands
    deep) and refuses more than MAX_LAYERS layers or nesting deeper than MAX_NESTING.
    """
    total, layers, stack = 0, 0, [(config, 0)]
    while stack:
        config, depth = stack.pop()
        kind = config.get("type") if isinstance(config, dict) else None
        children = config.get("layers") if isinstance(config, dict) else None
        sizes = config.get("sizes") if isinstance(config, dict) else None
        layers += 1 + (len(children) if isinstance(children, list) else 0) \
            + (len(sizes) if isinstance(sizes, list) else 0)
        if layers > MAX_LAYERS or depth > MAX_NESTING:
            raise ModelFileError(f"{path}: the architecture has more than {MAX_LAYERS} layers or nests "
                                 f"deeper than {MAX_NESTING}; refusing to build it")
        cls = LAYERS.get(kind) if isinstance(kind, str) else None
        if cls is not None:
            try:
                total += cls.count_parameters(config) or 0
            except (KeyError, TypeError, ValueError) as e:
                raise ModelFileError(f"{path}: architecture {e}") from None
        if isinstance(children, list):
            stack.extend((c, depth + 1) for c in children)
    return total


# What reading a zip archive can raise besides OSError/ValueError: a bad CRC, corrupt deflate
# data, a stream cut short, an unsupported compression method, an encrypted entry; and
# NumPy's .npy header parser lets a garbled header escape as a SyntaxError or TokenError.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
               SyntaxError, tokenize.TokenError)


def _check_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> tuple:
    """Read one entry's .npy header (not its data) and refuse what np.load should never see:
    something other than an array, Python objects (pickle), or a shape the entry cannot hold
    (a hostile header claiming 10**12 numbers would make NumPy allocate them up front).
    Returns (shape, dtype)."""
    name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
    if not info.filename.endswith(".npy"):
        raise ModelFileError(f"{path}: entry {info.filename!r} is not a .npy array")
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ModelFileError(f"{path}: array {name!r} uses .npy format {version}, expected 1.0 or 2.0")
        header = f.tell()
    if dtype.hasobject:
        raise ModelFileError(f"{path}: array {name!r} holds Python objects (dtype {dtype}), which "
                             f"cannot be read without pickle; refusing it")
    needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if needed != info.file_size - header:
        raise ModelFileError(f"{path}: array {name!r} claims shape {shape} ({needed} bytes) but the "
                             f"archive holds {info.file_size - header} bytes of it")
    return shape, dtype


def _cut(e: BaseException) -> str:
    """An error from NumPy or zipfile in at most 200 characters: a garbled .npy header comes
    back whole inside the message."""
    text = " ".join(str(e).split())
    return text if len(text) <= 200 else text[:200] + "..."


def load(path: Union[str, os.PathLike]) -> Module:
    """Read a model written by ``save``: checks the archive, rebuilds the architecture, sets the weights.

    Everything is checked from the archive's directory and the .npy headers before anything
    is built or any weight is read: an entry whose header claims Python objects or more bytes
    than it holds, an architecture of more than ``limits.MAX_ARCHITECTURE_CHARS``, absurd
    nesting, more numbers than the file holds or more than ``limits.MAX_PARAMETERS`` (the
    limit ``train`` has too), missing, extra or mis-shaped arrays. The model is then built
    with zero weights (no random numbers drawn), which are dropped before the file's arrays
    are read, checked (floats, finite) and put in place one at a time: the model is never
    held twice. Arrays are read with
    ``allow_pickle=False``. Problems raise ModelFileError naming the file; a missing path
    FileNotFoundError, a directory IsADirectoryError.
    """
    path = os.fspath(path)
    refuse_special(path, "a .npz model file", ModelFileError)
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ModelFileError(f"{path}: not a readable .npz model file (no zip archive signature)")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            claimed = sum(info.file_size for info in infos)
            if claimed > MAX_MODEL_BYTES:
                raise ModelFileError(f"{path}: the archive unpacks to {claimed} bytes, more than the "
                                     f"{MAX_MODEL_BYTES} a model may hold")
            headers = {info.filename[:-4]: _check_entry(zf, info, path) for info in infos}
            if ARCH_KEY not in headers:
                raise ModelFileError(f"{path}: no {ARCH_KEY} entry; was it written by tinygrad_mnist's save()?")
            shape, dtype = headers[ARCH_KEY]
            chars = int(np.prod(shape, dtype=object)) * dtype.itemsize // 4  # numpy stores UTF-32
            if chars > MAX_ARCHITECTURE_CHARS:
                raise ModelFileError(f"{path}: {ARCH_KEY} has {chars} characters, more than the "
                                     f"{MAX_ARCHITECTURE_CHARS} an architecture may take")
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) + _ZIP_ERRORS as e:
        if isinstance(e, ModelFileError):
            raise
        raise ModelFileError(f"{path}: not a readable .npz model file ({_cut(e)})") from None
    with archive:
        try:
            config = json.loads(str(archive[ARCH_KEY]))
        except RecursionError:
            raise ModelFileError(f"{path}: {ARCH_KEY} nests too deeply to be an architecture") from None
        except (ValueError, TypeError) + _ZIP_ERRORS as e:
            raise ModelFileError(f"{path}: {ARCH_KEY} is not valid JSON ({_cut(e)})") from None
        shapes = {name: shape for name, (shape, _) in headers.items() if name != ARCH_KEY}
        held = sum(int(np.prod(shape, dtype=object)) for shape in shapes.values())
        needed = _count_params(config, path)
        # far beyond what the file holds (a hostile [100000, 100000] is 40 GB): said in numbers;
        # near misses get the precise checks below, after the build, which costs no memory
        if needed > max(4 * held, 1 << 20):
            raise ModelFileError(f"{path}: the architecture needs {needed} numbers but the file holds {held}; "
                                 f"was it saved by a different architecture?")
        if max(needed, held) > MAX_PARAMETERS:
            raise ModelFileError(f"{path}: the model has {max(needed, held):,} parameters, more than the "
                                 f"{MAX_PARAMETERS:,} a network may have here (784-30-10 has 23,860)")
        model = _build(config, path)
        expected = dict(model.named_parameters())
        missing = sorted(set(expected) - set(shapes))
        extra = sorted(set(shapes) - set(expected))
        if missing or extra:
            raise ModelFileError(f"{path}: arrays do not match the architecture: missing {missing or 'none'}, "
                                 f"unexpected {extra or 'none'}")
        for name, param in expected.items():
            if shapes[name] != param.shape:
                raise ModelFileError(f"{path}: array {name!r} has shape {shapes[name]}, the architecture "
                                     f"needs {param.shape}")
            if headers[name][1].kind != "f":
                raise ModelFileError(f"{path}: array {name!r} has dtype {headers[name][1]}, expected floats")
        for param in expected.values():  # the built weights go before any is read, so the model
            param.data = np.empty(0, param.data.dtype)  # is never held twice (a Tensor copies its array)
        for name, param in expected.items():
            try:
                arr = archive[name]
            except (ValueError, OSError) + _ZIP_ERRORS as e:
                raise ModelFileError(f"{path}: array {name!r} cannot be read ({_cut(e)})") from None
            if not np.isfinite(arr).all():
                raise ModelFileError(f"{path}: array {name!r} contains NaN or Inf; the model was saved "
                                     f"after its training diverged")
            param.data = arr  # a fresh array np.load made for us: no copy needed
    return model
