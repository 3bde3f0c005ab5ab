"""Full-state search checkpoints: enough to continue a killed run bit for bit.

A checkpoint holds the model's ``state_dict`` (weights and α), the upper variables in a fixed
order (β and the VGG logits, or α, or both), both optimisers (SGD momentum buffers and Adam
moments included), every random stream the search draws from (one
:func:`~hadamard_restore.runtime.rng.capture_rng` per rank), the step counter and the logged
history that the plots are drawn from.

It is a ``search`` checkpoint of :mod:`hadamard_restore.runtime.checkpoint`: written
atomically (a kill during the write leaves the previous one intact) and read with
``weights_only=True``, so a checkpoint from someone else cannot run code on ``--resume``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from hadamard_restore.errors import CheckpointError
from hadamard_restore.runtime.checkpoint import load_checkpoint, save_checkpoint


@dataclass
class SearchState:
    """What one search stage saves and restores.

    Attributes:
        stage: ``loss``, ``arch`` or ``joint`` (a checkpoint of another stage is refused).
        step: the number of completed steps.
        model: ``model.state_dict()``.
        upper: the upper variables, in the order the stage lists them.
        w_opt, upper_opt: the optimisers' ``state_dict()``.
        rng: one :func:`~hadamard_restore.runtime.rng.capture_rng` per rank (index = rank).
        history: the logged per-step records (for plots after a resume).
    """

    stage: str
    step: int
    model: dict[str, torch.Tensor]
    upper: list[torch.Tensor]
    w_opt: dict
    upper_opt: dict
    rng: list[dict[str, Any]]
    history: list[dict[str, Any]] = field(default_factory=list)


def save_state(path: str | Path, state: SearchState) -> Path:
    """Write ``state`` atomically (CPU tensors, so a GPU run resumes on CPU and back)."""
    payload = {
        "stage": state.stage,
        "step": state.step,
        "model": {k: v.detach().cpu().clone() for k, v in state.model.items()},
        "upper": [t.detach().cpu().clone() for t in state.upper],
        "w_opt": state.w_opt,
        "upper_opt": state.upper_opt,
        "rng": state.rng,
        "history": state.history,
    }
    return save_checkpoint(path, "search", payload)


def load_state(path: str | Path, stage: str) -> SearchState:
    """Read a checkpoint written by :func:`save_state` for the same ``stage``.

    Raises:
        CheckpointError: missing, unreadable, holding pickled code, of another kind or of
            another stage.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no search checkpoint at {path}; run without --resume to start afresh")
    payload = load_checkpoint(path, "search")
    if payload["stage"] != stage:
        raise CheckpointError(
            f"{path} belongs to the {payload['stage']!r} stage, not {stage!r}; "
            "point --out at the run directory of this stage"
        )
    return SearchState(
        payload["stage"],
        payload["step"],
        payload["model"],
        payload["upper"],
        payload["w_opt"],
        payload["upper_opt"],
        payload["rng"],
        payload["history"],
    )


def copy_into(targets: Sequence[torch.Tensor], values: Sequence[torch.Tensor]) -> None:
    """Load saved upper variables into live parameters, checking shapes."""
    if len(targets) != len(values):
        raise CheckpointError(
            f"checkpoint has {len(values)} upper variables, the model {len(targets)}; "
            "was it written with another configuration?"
        )
    with torch.no_grad():
        for t, v in zip(targets, values):
            if t.shape != v.shape:
                raise CheckpointError(
                    f"upper variable of shape {tuple(v.shape)} in the checkpoint, "
                    f"{tuple(t.shape)} in the model; was the configuration changed?"
                )
            t.copy_(v.to(t.device))
