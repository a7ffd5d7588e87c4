"""The model file format: ``save`` and ``load`` (.npz: one array per parameter by dotted name,
plus the architecture as JSON), built through ``nn``'s layer registry, so any registered layer
is saveable. ``load`` treats every file as hostile. Leaves out: the layers themselves (``nn``)
and how bytes reach the disk (``files.atomic_file``).
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
from .nn import LAYERS, Module, build

__all__ = ["save", "load", "ModelFileError", "ARCH_KEY", "MAX_MODEL_BYTES"]

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


# Limits that only stop hostile files: a saved 784-128-128-10 float32 model is 0.5 MB, 4 layers
# and one level of nesting.
MAX_MODEL_BYTES = 1 << 30
MAX_LAYERS = 10_000
MAX_NESTING = 100


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


def _check_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> None:
    """Read one entry's .npy header (not its data) and refuse what np.load should never see:
    something other than an array, Python objects (pickle), or a shape the entry cannot hold
    (a hostile header claiming 10**12 numbers would make NumPy allocate them up front)."""
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


def load(path: Union[str, os.PathLike]) -> Module:
    """Read a model written by ``save``: checks the archive, rebuilds the architecture, sets the weights.

    Arrays are read with ``allow_pickle=False``. A file that is not a .npz archive, an entry
    whose .npy header claims Python objects or more bytes than it holds, an architecture that
    claims more numbers than the file holds or absurd nesting (all checked before anything is
    allocated), a missing, extra, mis-shaped, non-float or non-finite array, raise
    ModelFileError. A missing path raises FileNotFoundError, a directory IsADirectoryError.
    """
    path = os.fspath(path)
    refuse_special(path, "a .npz model file", ModelFileError)
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ModelFileError(f"{path}: not a readable .npz model file (no zip archive signature)")
    try:
        with zipfile.ZipFile(path) as zf:
            claimed = sum(info.file_size for info in zf.infolist())
            if claimed > MAX_MODEL_BYTES:
                raise ModelFileError(f"{path}: the archive unpacks to {claimed} bytes, more than the "
                                     f"{MAX_MODEL_BYTES} a model may hold")
            for info in zf.infolist():
                _check_entry(zf, info, path)
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) + _ZIP_ERRORS as e:
        if isinstance(e, ModelFileError):
            raise
        raise ModelFileError(f"{path}: not a readable .npz model file ({e})") from None
    with archive:
        names = set(archive.files)
        if ARCH_KEY not in names:
            raise ModelFileError(f"{path}: no {ARCH_KEY} entry; was it written by tinygrad_mnist's save()?")
        try:
            config = json.loads(str(archive[ARCH_KEY]))
        except RecursionError:
            raise ModelFileError(f"{path}: {ARCH_KEY} nests too deeply to be an architecture") from None
        except (ValueError, TypeError) + _ZIP_ERRORS as e:
            raise ModelFileError(f"{path}: {ARCH_KEY} is not valid JSON ({e})") from None
        arrays = {}
        for name in names - {ARCH_KEY}:
            try:
                arrays[name] = archive[name]
            except (ValueError, OSError) + _ZIP_ERRORS as e:
                raise ModelFileError(f"{path}: array {name!r} cannot be read ({e})") from None
    # Building allocates what the architecture claims: refuse claims far beyond what the file
    # holds (a hostile [100000, 100000] would be 40 GB); near misses get the precise checks below.
    held = sum(a.size for a in arrays.values())
    claimed = _count_params(config, path)
    if claimed > max(4 * held, 1 << 20):
        raise ModelFileError(f"{path}: the architecture needs {claimed} numbers but the file holds {held}; "
                             f"was it saved by a different architecture?")
    model = _build(config, path)
    expected = dict(model.named_parameters())
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        raise ModelFileError(f"{path}: arrays do not match the architecture: missing {missing or 'none'}, "
                             f"unexpected {extra or 'none'}")
    for name, param in expected.items():
        arr = arrays[name]
        if arr.shape != param.shape:
            raise ModelFileError(f"{path}: array {name!r} has shape {arr.shape}, the architecture "
                                 f"needs {param.shape}")
        if arr.dtype.kind != "f":
            raise ModelFileError(f"{path}: array {name!r} has dtype {arr.dtype}, expected floats")
        if not np.isfinite(arr).all():
            raise ModelFileError(f"{path}: array {name!r} contains NaN or Inf; the model was saved "
                                 f"after its training diverged")
        param.data = arr.copy()
    return model
