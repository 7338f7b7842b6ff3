"""Weight files: ``model_state.pdparams`` and ``model.safetensors``, read and written here only.

- ``.pdparams`` is Paddle's pickle of ``{name: numpy array}``. It is read by a restricted
  unpickler that builds numpy arrays, dicts, lists, tuples, numbers, strings and bytes, and
  refuses every other global with ``UnsafeCheckpointError`` before calling it, so loading one never
  runs code. It is written by this module too (the same pickle ``paddle.save`` writes, protocol 4),
  so ``paddle.load`` and PaddleNLP read it, and equal weights give byte-identical files.
- ``.safetensors`` is read and written by the small parser below, which checks every offset.
- ``save_pretrained_files`` changes a directory as one unit: a marker file says a save is in
  progress until every file is in place; ``check_saved_directory`` refuses a directory whose marker
  is still there (a save killed half-way), so new weights are never loaded with an old config.

bfloat16 has no numpy dtype: Paddle pickles it as its raw bits in a ``uint16`` array. Readers here
return it as float32 (exact); safetensors files store it as float32.

Only the standard library and numpy are imported: Paddle is not needed to read or write weights.
"""
from __future__ import annotations

import _compat_pickle
import builtins
import collections
import contextlib
import json
import logging
import os
import pickle
import socket
import struct
import time
from typing import Callable, Dict, Iterable, Mapping, Tuple

import numpy as np

from .config import CONFIG_NAME
from .utils import atomic_write, fsync_directory, pid_alive, remove_stale_temp_files

logger = logging.getLogger("paddle_roformer")

WEIGHTS_NAME = "model_state.pdparams"
SAFE_WEIGHTS_NAME = "model.safetensors"
SAVE_MARKER_NAME = "save_in_progress.json"  # present only while save_pretrained_files runs

PICKLE_PROTOCOL = 4  # what paddle.save writes by default
NAME_TABLE_KEY = "StructuredToParameterName@@"  # paddle.save's key -> parameter-name table
SPLIT_TABLE_KEY = "UnpackBigParamInfor@@"  # paddle.save's record of arrays split in pieces (protocol 2/3)
MAX_SAFETENSORS_HEADER = 100 << 20


class UnsafeCheckpointError(ValueError):
    """A pickle asks for something a Paddle state dict never holds; nothing of it was run."""


class InterruptedSaveError(ValueError):
    """A directory whose last save did not finish: its files may come from two different saves."""


# ---------------------------------------------------------------------------- arrays


def _raw_array(value) -> Tuple[np.ndarray, bool]:
    """(numpy array, is_bfloat16) of a numpy array or a Paddle tensor; bfloat16 as its uint16 bits."""
    if isinstance(value, np.ndarray):
        array = value
    elif hasattr(value, "numpy"):  # a Paddle tensor (on any device); bfloat16 gives uint16 bits
        bf16 = "bfloat16" in str(getattr(value, "dtype", ""))
        return np.asarray(value.numpy()), bf16
    else:
        array = np.asarray(value)
    if array.dtype.name == "bfloat16":  # ml_dtypes' numpy bfloat16
        return array.view(np.uint16), True
    return array, False


def bfloat16_bits_to_float32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 is the upper half of a float32, so widening is a shift and every value is exact."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def as_numpy(value) -> np.ndarray:
    """A numpy array of a numpy array or a Paddle tensor; bfloat16 comes back as float32."""
    array, bf16 = _raw_array(value)
    return bfloat16_bits_to_float32(array) if bf16 else array


# ---------------------------------------------------------------------------- restricted unpickling


def _safe_dtype(*args):
    """``numpy.dtype`` for the numeric dtypes of a state dict only (never object)."""
    if not args or not isinstance(args[0], str):
        raise UnsafeCheckpointError(f"numpy.dtype{args!r} is not a numeric dtype")
    dtype = np.dtype(args[0])
    if dtype.kind not in "biufc":
        raise UnsafeCheckpointError(
            f"arrays of dtype {dtype} (kind {dtype.kind!r}) are refused: only numbers are loaded")
    return np.dtype(*args)


def _safe_encode(text, encoding="utf-8"):
    """``_codecs.encode``, which protocol 2 uses to spell bytes; latin-1 is the only codec it needs."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafeCheckpointError(f"_codecs.encode with encoding {encoding!r} is refused")
    return text.encode("latin1")


def _numpy_globals() -> Dict[Tuple[str, str], Callable]:
    # The functions numpy's pickles name, whatever module this numpy version keeps them in.
    reconstruct = np.zeros(0).__reduce__()[0]
    scalar = np.float32(0).__reduce__()[0]
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]
    table = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): _safe_dtype}
    for core in ("numpy.core", "numpy._core"):  # numpy 1.x and 2.x spellings
        table[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        table[(f"{core}.multiarray", "scalar")] = scalar
        table[(f"{core}.numeric", "_frombuffer")] = frombuffer
    return table


_SAFE_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("_codecs", "encode"): _safe_encode,
    **{("builtins", name): getattr(builtins, name)
       for name in ("tuple", "list", "dict", "set", "frozenset", "bytearray", "complex")},
    **_numpy_globals(),
}


class _StateDictUnpickler(pickle.Unpickler):
    """Resolves only the globals in ``_SAFE_GLOBALS``; anything else stops the load before it is called."""

    def __init__(self, file, path: str):
        super().__init__(file, encoding="latin1")  # what paddle.load passes, for pickles of Python 2
        self.path = path

    def find_class(self, module, name):
        # Protocols 0-2 spell globals by their Python 2 names; map them as pickle itself does.
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        try:
            return _SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafeCheckpointError(
                f"{self.path}: refused to unpickle the global {module}.{name}: a Paddle state dict holds only "
                "numpy arrays, dicts, lists, tuples, numbers and strings, and loading anything else could run "
                "code. Nothing from the file was run. If you trust the file, convert it where it was made "
                "(save_pretrained(..., safe_serialization=True))."
            ) from None

    def persistent_load(self, pid):
        raise UnsafeCheckpointError(f"{self.path}: refused a persistent id in the pickle ({pid!r})")


def _check_array(path: str, key: str, array: np.ndarray) -> np.ndarray:
    if array.dtype.hasobject or array.dtype.kind not in "biufc":
        raise UnsafeCheckpointError(
            f"{path}: {key!r} is an array of dtype {array.dtype}; only numeric arrays are loaded")
    return array


def _state_dict_from_pickle(path: str, obj) -> Dict[str, np.ndarray]:
    """The ``{name: array}`` of what ``paddle.save`` pickles (bfloat16 widened to float32)."""
    if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
        raise ValueError(f"{path} does not hold a state dict (a mapping of parameter names to arrays)")
    obj = dict(obj)
    obj.pop(NAME_TABLE_KEY, None)
    split = obj.pop(SPLIT_TABLE_KEY, None)
    if split is not None:  # arrays over 1 GiB, saved with protocol 2 or 3 as flat pieces
        try:
            for key, info in split.items():
                pieces = [obj.pop(part) for part in info["slices"]]
                obj[key] = np.concatenate(pieces).reshape(info["OriginShape"])
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ValueError(f"{path}: its {SPLIT_TABLE_KEY} table does not match its arrays ({err})") from err
    state = {}
    for key, value in obj.items():
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
            value = value[1]  # how paddle.save pickles a tensor outside a plain state dict: (name, array)
        if not isinstance(value, (np.ndarray, np.generic)):
            raise ValueError(f"{path} does not hold a state dict: {key!r} is a {type(value).__name__}, not an array")
        array = _check_array(path, key, np.asarray(value))
        # Paddle's numpy form of bfloat16 is uint16, which no model parameter is otherwise.
        state[key] = bfloat16_bits_to_float32(array) if array.dtype == np.uint16 else array
    return state


def read_pdparams(path: str) -> Dict[str, np.ndarray]:
    """Read a ``paddle.save`` state dict without running code (see the module docstring)."""
    with open(path, "rb") as f:
        try:
            obj = _StateDictUnpickler(f, path).load()
        except UnsafeCheckpointError as err:
            if path in str(err):
                raise
            raise UnsafeCheckpointError(f"{path}: {err}. Nothing from the file was run.") from None
        except Exception as err:  # truncated or not a pickle: many exception types
            raise ValueError(f"{path} is not a readable Paddle state dict ({type(err).__name__}: {err})") from err
    return _state_dict_from_pickle(path, obj)


def _write_pdparams(state: Mapping[str, object], f) -> None:
    # paddle.save turns every tensor into a numpy array and pickles the dict; bfloat16 as uint16 bits.
    # It adds a key -> generated-parameter-name table, which loading drops; leaving it out keeps
    # the bytes a function of the weights alone.
    arrays = {key: np.asarray(_raw_array(value)[0], order="C") for key, value in state.items()}
    pickle.Pickler(f, protocol=PICKLE_PROTOCOL).dump(arrays)


def write_pdparams(state: Mapping[str, object], path: str) -> None:
    """Write ``{name: array or tensor}`` as ``paddle.save`` does, atomically."""
    atomic_write(path, lambda f: _write_pdparams(state, f))


# ---------------------------------------------------------------------------- safetensors

# safetensors dtype -> little-endian numpy dtype; BF16 is read as uint16 bits, then widened
_SAFETENSORS_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}
_NUMPY_TO_SAFETENSORS = {np.dtype(v).newbyteorder("<") if np.dtype(v).itemsize > 1 else np.dtype(v): k
                         for k, v in _SAFETENSORS_DTYPES.items() if k != "BF16"}


def read_safetensors(path: str) -> Dict[str, np.ndarray]:
    """Read a ``.safetensors`` file into numpy arrays (BF16 as float32), checking its header first."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise ValueError("shorter than its 8-byte header length")
            (header_len,) = struct.unpack("<Q", head)
            if header_len > MAX_SAFETENSORS_HEADER or 8 + header_len > size:
                raise ValueError(f"header length {header_len} does not fit a file of {size} bytes")
            try:
                header = json.loads(f.read(header_len).decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise ValueError(f"header is not JSON ({err})") from None
            if not isinstance(header, dict):
                raise ValueError("header is not a JSON object")
            header.pop("__metadata__", None)
            entries = sorted(header.items(), key=lambda item: _entry_offsets(item)[0])
            expected, data_len = 0, size - 8 - header_len
            for name, entry in entries:
                begin, end = _entry_offsets((name, entry))
                if begin != expected:
                    raise ValueError(f"tensor {name!r} starts at {begin}, expected {expected} (gap or overlap)")
                expected = end
            if expected != data_len:
                raise ValueError(f"tensors cover {expected} bytes of a {data_len}-byte data section")
            arrays = {}
            for name, entry in entries:  # in file order: one forward pass
                begin, end = entry["data_offsets"]
                buffer = bytearray(end - begin)
                if f.readinto(buffer) != len(buffer):
                    raise ValueError(f"tensor {name!r} is cut short (the file changed while it was read?)")
                array = np.frombuffer(buffer, dtype=_SAFETENSORS_DTYPES[entry["dtype"]]).reshape(entry["shape"])
                arrays[name] = bfloat16_bits_to_float32(array) if entry["dtype"] == "BF16" else array
            return arrays
    except FileNotFoundError:
        raise
    except (ValueError, OSError) as err:
        raise ValueError(f"{path} is not a readable safetensors file ({err})") from err


def _entry_offsets(item) -> Tuple[int, int]:
    name, entry = item
    if not isinstance(entry, dict) or entry.get("dtype") not in _SAFETENSORS_DTYPES:
        raise ValueError(f"tensor {name!r}: dtype {entry.get('dtype') if isinstance(entry, dict) else entry!r} "
                         f"is not one of {sorted(_SAFETENSORS_DTYPES)}")
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if (not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape)
            or not isinstance(offsets, list) or len(offsets) != 2 or not all(isinstance(o, int) for o in offsets)):
        raise ValueError(f"tensor {name!r}: malformed shape {shape!r} or data_offsets {offsets!r}")
    begin, end = offsets
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(_SAFETENSORS_DTYPES[entry["dtype"]]).itemsize
    if begin < 0 or end - begin != nbytes:
        raise ValueError(f"tensor {name!r}: data_offsets {offsets} do not hold shape {shape} of {entry['dtype']}")
    return begin, end


def _safetensors_payload(arrays: Mapping[str, object]):
    """The header bytes and the arrays in file order (widest dtype first, so each is aligned)."""
    prepared = {}
    for name, value in arrays.items():
        array, bf16 = _raw_array(value)
        if bf16:  # stored as float32: numpy readers (PaddleNLP's included) cannot read BF16
            array = bfloat16_bits_to_float32(array)
        dtype = array.dtype.newbyteorder("<") if array.dtype.itemsize > 1 else array.dtype
        if dtype not in _NUMPY_TO_SAFETENSORS:
            raise ValueError(f"{name!r}: arrays of dtype {array.dtype} cannot be stored in safetensors")
        prepared[name] = np.asarray(array, dtype=dtype, order="C")
    order = sorted(prepared, key=lambda n: (-prepared[n].dtype.itemsize, n))
    header, offset = {"__metadata__": {"format": "np"}}, 0  # PaddleNLP requires the "np" format tag
    for name in order:
        array = prepared[name]
        header[name] = {"dtype": _NUMPY_TO_SAFETENSORS[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data section starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text, [prepared[n] for n in order]


def _write_safetensors(arrays: Mapping[str, object], f) -> None:
    header, ordered = _safetensors_payload(arrays)
    f.write(header)
    for array in ordered:
        f.write(array.reshape(-1).view(np.uint8).data if array.size else b"")


def write_safetensors(arrays: Mapping[str, object], path: str) -> None:
    """Write ``{name: array or tensor}`` as a ``.safetensors`` file (bfloat16 as float32), atomically."""
    atomic_write(path, lambda f: _write_safetensors(arrays, f))


# ---------------------------------------------------------------------------- any weights file


def load_state_dict(path: str) -> Dict[str, np.ndarray]:
    """Read ``.safetensors`` or a ``.pdparams`` pickle as ``{name: numpy array}``, running no code.

    Raises FileNotFoundError for a missing file, ``UnsafeCheckpointError`` for a pickle that asks for
    anything but arrays and containers, and ValueError naming the file for a corrupt or foreign one.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file not found: {path}")
    if path.endswith(".safetensors"):
        return read_safetensors(path)
    return read_pdparams(path)


# ---------------------------------------------------------------------------- the directory save


def _read_marker(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            marker = json.load(f)
        return marker if isinstance(marker, dict) else {}
    except (OSError, ValueError):
        return {}  # empty or half-written: a save killed while it started


def _begin_save(directory: str, files: list) -> str:
    """Put the marker in place (atomically); refuse when a live process on this host is saving here."""
    path = os.path.join(directory, SAVE_MARKER_NAME)
    if os.path.exists(path):
        other = _read_marker(path)
        pid = other.get("pid")
        if (isinstance(pid, int) and pid != os.getpid() and other.get("host") == socket.gethostname()
                and pid_alive(pid)):
            raise RuntimeError(
                f"{directory}: another process (pid {pid}) is saving a model into it right now; wait for it to "
                f"finish, or delete {path} if that process is not saving"
            )
        logger.info("%s: taking over the marker of an interrupted save (%s)", directory, other or "unreadable")
    marker = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "files": files}
    atomic_write(path, lambda f: f.write(json.dumps(marker, indent=2).encode("utf-8")))
    fsync_directory(directory)
    return path


class SaveInProgress:
    """Handed out by ``directory_save``: set ``changed`` once the first file of the directory is replaced."""

    changed = False


@contextlib.contextmanager
def directory_save(directory: str, files: Iterable[str]):
    """Change the model files of ``directory`` as one unit, under the save marker.

    The marker is put in place first, so a loader refuses the directory until the block ends. If
    the block fails before it set ``changed`` (nothing replaced yet), the marker goes and the
    directory is as it was; after that a failure keeps the marker until a later save completes.
    """
    directory = os.fspath(directory)
    marker = _begin_save(directory, list(files))
    save = SaveInProgress()
    try:
        yield save
        fsync_directory(directory)
    except BaseException:
        if not save.changed:  # nothing was replaced: the directory is as it was
            with contextlib.suppress(OSError):
                os.remove(marker)
        else:
            logger.error("%s: the save failed half-way; the directory is refused until a save into it completes",
                         directory)
        raise
    os.remove(marker)
    fsync_directory(directory)


def save_pretrained_files(directory: str, state: Mapping[str, object], config_text: str,
                          safe_serialization: bool = False, config_name: str = CONFIG_NAME) -> str:
    """Write the weights and the config into ``directory`` as one change; returns the weights path.

    1. ``save_in_progress.json`` is put in place: from now on loading the directory is refused;
    2. the weights (``model.safetensors`` if ``safe_serialization`` else ``model_state.pdparams``),
       then the config, each written to a temporary file, fsynced and renamed into place;
    3. the other format's weights file is removed, so no stale file can shadow the new one;
    4. the directory is fsynced and the marker removed: the save is complete.

    A save killed in 2-3 leaves the marker, and ``check_saved_directory`` refuses the directory until
    a save completes there. A save that fails with an exception before it has replaced any file
    leaves the directory exactly as it was (marker removed). Temporary files of killed saves are
    removed by the next save. Files and directories get the umask's permissions.
    """
    directory = os.fspath(directory)
    if os.path.isfile(directory):
        raise ValueError(f"save_directory {directory!r} is a file, expected a directory")
    os.makedirs(directory, mode=0o777, exist_ok=True)
    weights_name, other_name = SAFE_WEIGHTS_NAME, WEIGHTS_NAME
    if not safe_serialization:
        weights_name, other_name = other_name, weights_name
    remove_stale_temp_files(directory, [weights_name, other_name, config_name, SAVE_MARKER_NAME])
    writer = _write_safetensors if safe_serialization else _write_pdparams
    weights_path = os.path.join(directory, weights_name)
    with directory_save(directory, [weights_name, config_name]) as save:
        atomic_write(weights_path, lambda f: writer(state, f))
        save.changed = True
        atomic_write(os.path.join(directory, config_name), lambda f: f.write(config_text.encode("utf-8")))
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(directory, other_name))
    return weights_path


def check_saved_directory(directory: str) -> None:
    """Raise ``InterruptedSaveError`` when ``directory`` holds the marker of a save that did not finish."""
    path = os.path.join(os.fspath(directory), SAVE_MARKER_NAME)
    if not os.path.exists(path):
        return
    marker = _read_marker(path)
    when = f" (started {marker['started']} by pid {marker.get('pid')})" if "started" in marker else ""
    raise InterruptedSaveError(
        f"{directory}: a save into this directory did not finish{when}, so its weights and config may come from "
        f"two different saves. Save the model into it again, or, if you know its files belong together, "
        f"delete {path}."
    )
