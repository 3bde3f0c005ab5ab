"""The small JSON summary every stage writes beside its artifact (steps, time per step, results)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import torch

from hadamard_restore.artifacts import write_json
from hadamard_restore.config import SearchConfig
from hadamard_restore.runtime.process import Dist


def beta_trajectory(settings: SearchConfig, history: list[dict]) -> dict[str, Any]:
    """``{"beta_param", "beta_trajectory"}`` when the records hold β values, else ``{}``."""
    rows = [
        {"step": r["step"], **{k: v for k, v in r.items() if k.startswith("beta/")}}
        for r in history
        if any(k.startswith("beta/") for k in r)
    ]
    return {"beta_param": settings.beta_param, "beta_trajectory": rows} if rows else {}


def finish_stage(
    path: Path,
    stage: str,
    settings: SearchConfig,
    history: list[dict],
    seconds: float,
    dist_ctx: Dist,
    results: dict[str, Any],
) -> Path:
    """Write ``path`` with the stage's settings, timing and results.

    ``seconds_per_step`` is the median over the steps run in this process (resumed steps carry
    the times of the process that ran them). Stages that search loss weights also record the
    parametrisation and ``beta_trajectory``: every step's β (``{"step", "beta/<name>"...}``), so
    a report can plot the weights without reading the checkpoint.
    """
    times = sorted(r["time/step_s"] for r in history if "time/step_s" in r)
    median = times[len(times) // 2] if times else None
    last = history[-1] if history else {}
    return write_json(
        path,
        {
            "stage": stage,
            "steps": len(history),
            "hessian": settings.hessian,
            "crop": settings.crop,
            "batch_size_per_rank": settings.batch_size,
            "world_size": dist_ctx.world_size,
            "seconds_per_step_median": median,
            "seconds_this_process": seconds,
            "machine": {
                "platform": platform.platform(),
                "cpu_count": os.cpu_count(),
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            },
            "final": {k: v for k, v in last.items() if k.startswith(("loss/", "terms/"))},
            **beta_trajectory(settings, history),
            **results,
        },
    )
