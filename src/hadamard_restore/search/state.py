"""Full-state search checkpoints: enough to continue a killed run bit for bit.

A checkpoint holds the model's ``state_dict`` (weights and α), the upper variables in a fixed
order (β and the VGG logits, or α, or both), both optimisers (SGD momentum buffers and Adam
moments included), every random stream the search draws from (the explicit
``torch.Generator`` objects of every rank, Python's ``random``, NumPy and the torch CPU/CUDA
default generators), the step counter and the logged history that the plots are drawn from.

It is written through :func:`hadamard_restore.artifacts.atomic_torch_save`, so a kill during
the write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from hadamard_restore.artifacts import atomic_torch_save
from hadamard_restore.errors import CheckpointError

FORMAT = "hadamard-restore/search-checkpoint/v1"


def rng_state(generators: dict[str, torch.Generator]) -> dict[str, Any]:
    """Every random stream of this process: the named generators and the global ones."""
    state = {
        "generators": {k: g.get_state() for k, g in generators.items()},
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], generators: dict[str, torch.Generator]) -> None:
    """Restore what :func:`rng_state` captured (the named generators must match)."""
    missing = set(generators) - set(state["generators"])
    if missing:
        raise CheckpointError(f"checkpoint lacks the random streams {sorted(missing)}; "
                              "it was written by another stage or version; start without --resume")
    for k, g in generators.items():
        g.set_state(state["generators"][k])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class SearchState:
    """What one search stage saves and restores.

    Attributes:
        stage: ``loss``, ``arch`` or ``joint`` (a checkpoint of another stage is refused).
        step: the number of completed steps.
        model: ``model.state_dict()``.
        upper: the upper variables, in the order the stage lists them.
        w_opt, upper_opt: the optimisers' ``state_dict()``.
        rng: one :func:`rng_state` per rank (index = rank).
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
        "format": FORMAT,
        "stage": state.stage,
        "step": state.step,
        "model": {k: v.detach().cpu().clone() for k, v in state.model.items()},
        "upper": [t.detach().cpu().clone() for t in state.upper],
        "w_opt": state.w_opt,
        "upper_opt": state.upper_opt,
        "rng": state.rng,
        "history": state.history,
    }
    return atomic_torch_save(payload, path)


def load_state(path: str | Path, stage: str) -> SearchState:
    """Read a checkpoint written by :func:`save_state` for the same ``stage``.

    Raises:
        CheckpointError: missing, unreadable, of another format or of another stage.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no search checkpoint at {path}; run without --resume to start afresh")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise CheckpointError(f"{path} is not a readable checkpoint ({exc}); delete it to start afresh") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a search checkpoint (format {payload.get('format') if isinstance(payload, dict) else None!r})")
    if payload["stage"] != stage:
        raise CheckpointError(f"{path} belongs to the {payload['stage']!r} stage, not {stage!r}; "
                              "point --out at the run directory of this stage")
    return SearchState(payload["stage"], payload["step"], payload["model"], payload["upper"],
                       payload["w_opt"], payload["upper_opt"], payload["rng"], payload["history"])


def copy_into(targets: Sequence[torch.Tensor], values: Sequence[torch.Tensor]) -> None:
    """Load saved upper variables into live parameters, checking shapes."""
    if len(targets) != len(values):
        raise CheckpointError(f"checkpoint has {len(values)} upper variables, the model {len(targets)}; "
                              "was it written with another configuration?")
    with torch.no_grad():
        for t, v in zip(targets, values):
            if t.shape != v.shape:
                raise CheckpointError(f"upper variable of shape {tuple(v.shape)} in the checkpoint, "
                                      f"{tuple(t.shape)} in the model; was the configuration changed?")
            t.copy_(v.to(t.device))
