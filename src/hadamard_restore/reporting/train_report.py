"""The report of ``train`` alone, with the same pieces as ``run``'s: training curves, the loss weights and
architecture trained, warnings, and a labelled grid (input | output | reference) of held-out validation
pairs through the kept ``model.pt``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from hadamard_restore.data.io import write_image
from hadamard_restore.net.model_file import load_model
from hadamard_restore.reporting.grid import GRID_COLUMNS, comparison_grid
from hadamard_restore.reporting.report import write_report

VAL_GRID = "val_grid.png"


@torch.inference_mode()
def validation_grid(
    model_file: str | Path,
    val: Sequence[tuple[torch.Tensor, torch.Tensor]],
    count: int,
    device: torch.device,
    out: Path,
) -> Path | None:
    """``out`` (a PNG): the first ``count`` validation pairs, input | output | reference; None without pairs."""
    if count <= 0 or not val:
        return None
    model, _ = load_model(model_file, device)
    model.eval()
    rows = [[deg, model(deg[None].to(device))[0].float().clamp(0, 1).cpu(), ref] for deg, ref in val[:count]]
    return write_image(out, comparison_grid(rows, labels=GRID_COLUMNS))


def write_train_report(
    run_dir: str | Path,
    model_file: str | Path,
    val: Sequence[tuple[torch.Tensor, torch.Tensor]],
    count: int,
    device: torch.device,
    title: str,
) -> Path:
    """``run_dir/val_grid.png`` and ``run_dir/report.md`` (with ``plots/``); returns the report's path."""
    run_dir = Path(run_dir)
    validation_grid(model_file, val, count, device, run_dir / VAL_GRID)
    return write_report(run_dir, title=title)
