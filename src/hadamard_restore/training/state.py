"""Full training states (``last.pt``): enough to continue a killed training bit for bit.

A ``training`` checkpoint of :mod:`hadamard_restore.runtime.checkpoint`::

    {"format": "hadamard-restore/training", "version": 2,
     "meta": {...}, "state_dict": {...},           # as a model file, so it loads as one
     "training": {"optimizer", "scheduler", "step", "rng", "best_val_psnr", "best_step",
                  "history", "ema" (with train.ema_decay)}}

Version-1 states (written before the run infrastructure was unified) also hold the state of a
disabled ``GradScaler`` under ``"scaler"`` and an older RNG layout; both still load (the scaler
is ignored, :func:`~hadamard_restore.runtime.rng.restore_rng` reads the old layout).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from hadamard_restore.errors import CheckpointError
from hadamard_restore.net.model_file import cpu_state_dict, read_model_file
from hadamard_restore.runtime.checkpoint import save_checkpoint


@dataclass
class LoopState:
    """The loop's counters and curves (saved in ``last.pt``)."""

    step: int = 0
    best_val_psnr: float = -math.inf
    best_step: int = 0
    history: dict = field(default_factory=lambda: {"train": [], "val": []})


def best_weights(history: dict, best_step: int) -> str | None:
    """Which weights model.pt holds: ``"ema"`` (the average) or ``"raw"``; None before any
    validation, or for a history written before the trainer recorded the choice."""
    for entry in history["val"]:
        if entry["step"] == best_step:
            return entry.get("weights")
    return None


def rng_in_current_layout(rng: dict) -> dict:
    """A version-1 RNG block (``{"data", "torch", "cuda"}``) in the layout of
    :func:`~hadamard_restore.runtime.rng.capture_rng`."""
    if "generators" in rng:
        return rng
    return {"generators": {"data": rng["data"]}, "torch": rng["torch"], "cuda": rng.get("cuda")}


def save_training_state(path: str | Path, model: nn.Module, meta: dict, training: dict) -> Path:
    """Write a full training state atomically (a valid model file too).

    Args:
        path: destination, usually ``<run_dir>/last.pt``.
        model: the network being trained.
        meta: the block from :func:`~hadamard_restore.net.model_file.make_meta`.
        training: optimizer/scheduler state dicts, ``step``, RNG states (tensors),
            ``best_val_psnr`` and anything else the loop needs to resume; only tensors,
            numbers, strings, lists, tuples and dicts.
    """
    payload = {"meta": meta, "state_dict": cpu_state_dict(model), "training": training}
    return save_checkpoint(path, "training", payload)


def load_training_state(path: str | Path) -> dict:
    """Read a full training state (``last.pt``); a plain model file is an error here."""
    blob = read_model_file(path)
    if blob["kind"] != "training" or not isinstance(blob.get("training"), dict):
        raise CheckpointError(
            f"{path} is a model file, not a training state; --resume needs the last.pt of the run directory"
        )
    return blob
