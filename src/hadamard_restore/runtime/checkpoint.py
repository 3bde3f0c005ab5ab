"""The one checkpoint file format: versioned, written atomically, read without running code.

Every ``.pt`` file the package writes (model, training state, search state, classifier) is a
plain ``torch.save`` dictionary::

    {"format": "hadamard-restore/<kind>", "version": 2, ...payload}

whose payload holds only tensors, numbers, strings, ``None``, lists, tuples and dicts
(:func:`save_checkpoint` checks this before writing). :func:`load_checkpoint` therefore always
reads with ``torch.load(weights_only=True)``: a file that holds pickled code (a crafted
``__reduce__``) is refused before anything in it runs.

Files of earlier versions stay readable: version 1 model, training and classifier files use
the same layout; version 1 search checkpoints (``"hadamard-restore/search-checkpoint/v1"``)
hold NumPy's RNG state as an array, which is read through a narrow allow-list of NumPy's
array reconstruction (plain data, no code).

Every file also carries ``weights_sha256``: a sha256 over every tensor of the payload (its place
in the payload, dtype, shape and bytes), written by :func:`save_checkpoint` and checked by
:func:`load_checkpoint`, so a copy whose tensor bytes were flipped on the way (disk, transfer)
is refused as damaged instead of running with corrupted weights. Files written before the
digest existed carry none and load as before.

Examples:
    >>> save_checkpoint("run/last.pt", "training", {"step": 3})        # doctest: +SKIP
    >>> load_checkpoint("run/last.pt", "training")["step"]             # doctest: +SKIP
    3
"""

from __future__ import annotations

import hashlib
import io
import pickle
from collections.abc import Iterator, Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hadamard_restore.artifacts import atomic_write_bytes
from hadamard_restore.errors import CheckpointError

PREFIX = "hadamard-restore/"
KINDS = ("model", "training", "search", "classifier")
VERSION = 2
DIGEST_KEY = "weights_sha256"
#: format strings of version-1 files that do not follow ``PREFIX + kind``
LEGACY_FORMATS = {"hadamard-restore/search-checkpoint/v1": "search"}
#: what each kind is, for error messages
WHAT = {
    "model": "a model.pt written by `hadamard-restore train`",
    "training": "the last.pt of a training run directory",
    "search": "the checkpoint.pt of a search stage directory",
    "classifier": "a classifier.pt written by `hadamard-restore classifier`",
}
_PLAIN = (torch.Tensor, int, float, bool, str, type(None))


def _check_plain(value: Any, where: str) -> None:
    """Raise TypeError when ``value`` holds anything ``weights_only`` loading would refuse."""
    if isinstance(value, _PLAIN):
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key, f"{where} key")
            _check_plain(item, f"{where}[{key!r}]")
        return
    raise TypeError(
        f"checkpoint payload {where} is a {type(value).__name__}; only tensors, numbers, "
        "strings, None, lists, tuples and dicts can be saved"
    )


def _tensors(value: Any, where: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor of a payload with its place in it, in a fixed order (dict keys sorted)."""
    if isinstance(value, torch.Tensor):
        yield where, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _tensors(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key in sorted(value, key=repr):
            yield from _tensors(value[key], f"{where}[{key!r}]")


def weights_digest(payload: Mapping[str, Any]) -> str:
    """sha256 over every tensor in ``payload`` (place, dtype, shape, bytes); other values are ignored."""
    h = hashlib.sha256()
    for where, tensor in _tensors({k: v for k, v in payload.items() if k != DIGEST_KEY}):
        t = tensor.detach().cpu().contiguous().reshape(-1)
        h.update(f"{where}|{t.dtype}|{tuple(tensor.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _kinds(kind: str | tuple[str, ...]) -> tuple[str, ...]:
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"unknown checkpoint kind(s) {unknown or kinds}; known: {', '.join(KINDS)}")
    return kinds


def save_checkpoint(path: str | Path, kind: str, payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` as a ``kind`` checkpoint atomically; return the path.

    Raises:
        TypeError: the payload holds something other than plain data (a bug in the caller).
        ValueError: ``kind`` is unknown or the payload uses the reserved keys.
    """
    _kinds(kind)
    if {"format", "version", "kind", DIGEST_KEY} & set(payload):
        raise ValueError(f"'format', 'version', 'kind' and {DIGEST_KEY!r} are written by save_checkpoint itself")
    _check_plain(dict(payload), "payload")
    blob = {"format": PREFIX + kind, "version": VERSION, **payload}
    blob[DIGEST_KEY] = weights_digest(blob)
    buf = io.BytesIO()
    torch.save(blob, buf)
    return atomic_write_bytes(path, buf.getvalue())


#: leading bytes of files that are often passed as a checkpoint by mistake
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"BM", "a BMP image"),
    (b"%PDF", "a PDF document"),
    (b"\x7fELF", "a program (ELF)"),
)


def looks_like(path: Path) -> str | None:
    """What a file that is not a checkpoint looks like, from its first bytes (None: unknown)."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    return next((what for magic, what in SIGNATURES if head.startswith(magic)), None)


def _numpy_globals() -> list:
    """NumPy's array reconstruction, for version-1 search files (their NumPy RNG state)."""
    core = getattr(np, "_core", None) or np.core  # NumPy 2 renamed np.core
    return [core.multiarray._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32))]


def _torch_load(path: Path, kinds: tuple[str, ...]) -> Any:
    legacy = torch.serialization.safe_globals(_numpy_globals()) if "search" in kinds else nullcontext()
    try:
        with legacy:
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"checkpoint {path} holds objects other than tensors and plain data, and is refused "
            f"because loading it could run code ({first[:200]}); use a file written by hadamard-restore "
            "(or re-save the weights as a plain state dict)"
        ) from None
    except Exception as exc:  # truncated zip, bad magic number, EOF ...
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}: {str(exc)[:160]}); the file "
            f"is truncated or corrupt ({path.stat().st_size} bytes): use another checkpoint or "
            "re-run the step that wrote it"
        ) from None


def _kind_of(blob: Any) -> tuple[str | None, int]:
    """``(kind, version)`` of a loaded blob; ``(None, 0)`` when it is not ours."""
    if not isinstance(blob, dict) or not isinstance(blob.get("format"), str):
        return None, 0
    fmt = blob["format"]
    if fmt in LEGACY_FORMATS:
        return LEGACY_FORMATS[fmt], 1
    kind = fmt[len(PREFIX) :] if fmt.startswith(PREFIX) else None
    version = blob.get("version", 1)
    return (kind, version) if kind in KINDS and isinstance(version, int) else (None, 0)


def load_checkpoint(path: str | Path, kind: str | tuple[str, ...]) -> dict:
    """Read a checkpoint of one of the ``kind`` s with ``torch.load(weights_only=True)``.

    Returns:
        The stored dict: the payload plus ``format``, ``kind`` and ``version``.

    Raises:
        CheckpointError: the file is missing, truncated, not a hadamard-restore checkpoint, of
            another kind, of a newer version, or holds pickled objects (refused unread).
    """
    kinds, path = _kinds(kind), Path(path)
    wanted = " or ".join(WHAT[k] for k in kinds)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; pass {wanted}")
    other = looks_like(path)
    if other is not None:
        raise CheckpointError(f"{path} is not a checkpoint (it looks like {other}); pass {wanted}")
    blob = _torch_load(path, kinds)
    found, version = _kind_of(blob)
    if found is None:
        fmt = blob.get("format") if isinstance(blob, dict) else type(blob).__name__
        raise CheckpointError(f"{path} is not a hadamard-restore checkpoint (format {fmt!r}); it must be {wanted}")
    if found not in kinds:
        raise CheckpointError(f"{path} is a {found} checkpoint ({WHAT[found]}), not {wanted}")
    if version > VERSION:
        raise CheckpointError(
            f"{path} has checkpoint version {version}, newer than this "
            f"hadamard-restore understands ({VERSION}); upgrade the package"
        )
    if DIGEST_KEY in blob and blob[DIGEST_KEY] != weights_digest(blob):
        raise CheckpointError(
            f"checkpoint {path} is damaged: its weights do not match the sha256 stored in the file "
            "(bytes changed after it was written, e.g. a bad disk or an incomplete copy); re-copy it "
            "from the original or re-run the step that wrote it"
        )
    return {**blob, "kind": found, "version": version}
