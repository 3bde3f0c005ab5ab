"""Divergence: stop a training with the tool's own message and keep the last good checkpoint.

The training loop (:class:`~hadamard_restore.training.trainer.Trainer`) checks the loss at
every step; the weights are checked before each validation and before each checkpoint (a NaN
that appears in the update after the last loss check would otherwise reach ``psnr`` as a
traceback, or overwrite ``last.pt`` with NaN weights).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from hadamard_restore.errors import HadamardRestoreError
from hadamard_restore.metrics.common import NonFiniteValues
from hadamard_restore.net.model_file import read_model_file


class TrainingDiverged(HadamardRestoreError):
    """The loss, the weights or the validation output became NaN or infinite."""


def nonfinite_parameters(model: nn.Module) -> list[str]:
    """Names of the parameters and floating-point buffers holding NaN or infinite values."""
    named = list(model.named_parameters()) + [(n, b) for n, b in model.named_buffers() if b.is_floating_point()]
    return [name for name, t in named if not bool(torch.isfinite(t.detach()).all())]


def _kept(run_dir: Path) -> str:
    """What the run directory still holds from before the divergence."""
    parts = []
    for name, what in (("last.pt", "training state"), ("model.pt", "best model")):
        path = run_dir / name
        if path.is_file():
            try:
                meta = read_model_file(path)
                step = meta.get("training", {}).get("step", meta["meta"].get("step"))
            except HadamardRestoreError:
                step = "?"
            parts.append(f"{path} ({what}, step {step})")
    if not parts:
        return "No checkpoint had been written yet."
    return (
        "The last good files are kept: " + ", ".join(parts) + "; to continue from last.pt with other "
        "settings add --resume --allow-changes."
    )


def diverged(what: str, step: int, lr: float, run_dir: str | Path) -> HadamardRestoreError:
    """The error to raise: what happened, what to change, and which files are still good."""
    return TrainingDiverged(
        f"training diverged: {what} at step {step}; lower train.lr (now {lr:g}) or "
        f"train.grad_clip. {_kept(Path(run_dir))}"
    )


def check_finite(model: nn.Module, step: int, lr: float, run_dir: str | Path) -> None:
    """Raise :class:`TrainingDiverged` when any weight of ``model`` is NaN or infinite."""
    bad = nonfinite_parameters(model)
    if bad:
        raise diverged(f"{len(bad)} weight tensor(s) became NaN or infinite (e.g. {bad[0]})", step, lr, run_dir)


def checked_psnr(validate, step: int, lr: float, run_dir: str | Path) -> float:
    """``validate()`` (a validation PSNR), with NaN/infinite network outputs reported as divergence."""
    try:
        psnr = validate()
    except NonFiniteValues:
        raise diverged("the network output on the held-out images became NaN or infinite", step, lr, run_dir) from None
    if math.isnan(psnr):
        raise diverged("the validation PSNR became NaN", step, lr, run_dir)
    return psnr
