"""``fastpath.json``: the backend choices and parity checks, one entry per model and situation.

An entry (all fields optional but ``parity``)::

    {"backend": "bf16",                      # auto's choice; absent when only named backends were checked
     "chosen_by": "timing" | "parity check, untimed",
     "parity": {"eager": 0.0, "bf16": 0.0061},     # max |candidate - eager| on the example
     "tolerance": {"eager": 0.001, "bf16": 0.02},  # what each was checked against
     "rejected": {"onnx": "max abs diff ... > tolerance ..."},
     "times_s": {"eager": 0.39, "bf16": 0.13},     # only when timed
     "measured": "2025-01-01T00:00:00+00:00"}
"""

from __future__ import annotations

from pathlib import Path

import torch

from hadamard_restore.artifacts import read_json, write_json
from hadamard_restore.data.task_data import cache_root
from hadamard_restore.inference.fastpath.backends import size_class
from hadamard_restore.runtime.log import get_logger

log = get_logger("hadamard_restore.inference.fastpath")
_MERGED = ("parity", "tolerance", "rejected")


def cache_path() -> Path:
    return cache_root() / "fastpath.json"


def read_cache() -> dict:
    """The whole cache file, ``{"format": ..., "entries": {key: entry}}``; empty when absent or corrupt."""
    path = cache_path()
    try:
        data = read_json(path) if path.is_file() else {}
    except Exception as exc:  # a corrupt cache is rebuilt, not fatal
        log.warning("ignoring unreadable %s (%s); it will be rewritten", path, exc)
        data = {}
    return data if isinstance(data.get("entries"), dict) else {"format": "hadamard-restore/fastpath", "entries": {}}


def read_entry(key: str) -> dict:
    """The entry stored under ``key`` (``{}`` when none, or when it is not in this format)."""
    entry = read_cache()["entries"].get(key)
    if not isinstance(entry, dict) or not all(isinstance(entry.get(f, {}), dict) for f in _MERGED):
        return {}
    return entry


def merge(old: dict, new: dict) -> dict:
    """``new`` over ``old``; the per-backend records (parity, tolerance, rejected) are merged, a
    backend checked anew dropping its old rejection."""
    out = {**old, **{k: v for k, v in new.items() if k not in _MERGED}}
    for name in ("parity", "tolerance"):
        out[name] = {**old.get(name, {}), **new.get(name, {})}
    checked = set(new.get("parity", {})) | set(new.get("rejected", {}))
    kept = {k: v for k, v in old.get("rejected", {}).items() if k not in checked}
    out["rejected"] = {**kept, **new.get("rejected", {})}
    return out


def store(key: str, entry: dict) -> dict:
    """Merge ``entry`` into the one stored under ``key`` (atomic write); returns the merged entry."""
    data = read_cache()
    merged = merge(read_entry(key), entry)
    data["entries"][key] = merged
    write_json(cache_path(), data)
    return merged


def make_key(sha: str, example: torch.Tensor, device: torch.device, threads: int, replay: bool, precision: str) -> str:
    """Model, size class, replay, device, threads, precision and library versions."""
    try:
        import onnxruntime  # lazy: optional dependency (onnxruntime)

        ort = onnxruntime.__version__
    except ImportError:
        ort = "none"
    return "|".join(
        [
            sha[:20],
            size_class(*example.shape[-2:]),
            "replay" if replay else "plain",
            str(device),
            f"{threads} threads",
            f"precision {precision}",
            f"torch {torch.__version__}",
            f"onnxruntime {ort}",
        ]
    )
