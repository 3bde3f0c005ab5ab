"""The demo's first minute: every bundled pretrained model enhances photos of its task, no training.

For each bundled model (``hadamard_restore.zoo``) :func:`showcase` enhances

* **built-in photos** (no data needed): ``per_task`` clean photos that scikit-image /
  matplotlib ship (:func:`hadamard_restore.data.demo.clean_photos`), at their full size,
  degraded with the model's task (:mod:`hadamard_restore.data.degrade`, seeded per task and
  photo, then saved-photo 8-bit), scored against the clean photo;
* **held-out pairs** (where ``$HADAMARD_RESTORE_DATA`` holds the model's data folder): the
  first ``per_task`` pairs of the card's held-out split, scored against their references.

Scores follow the evaluation protocol: 8-bit output (and input) against the clean image, RGB
PSNR and SSIM. It writes into ``out_dir``::

    showcase.json     per model: card summary, one row per image (input and output PSNR/SSIM,
                      size, seconds), notes on what was skipped and why
    <model>.png       the before/after grid: one row per image, input | output | clean

``reporting.report`` puts them at the top of ``report.md``. Missing data, a task without a
synthetic degradation or a damaged model becomes a note in the JSON, never an exception.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from hadamard_restore.artifacts import write_json
from hadamard_restore.config import EnhanceConfig
from hadamard_restore.data.degrade import TASKS, degrade, task_name
from hadamard_restore.data.demo import clean_photos
from hadamard_restore.data.io import read_image, write_image
from hadamard_restore.errors import DataError, HadamardRestoreError
from hadamard_restore.inference.enhance import enhance_tensor, quantize_8bit
from hadamard_restore.metrics.psnr import psnr
from hadamard_restore.metrics.ssim import ssim
from hadamard_restore.reporting.grid import GRID_COLUMNS, comparison_grid
from hadamard_restore.runtime.log import get_logger
from hadamard_restore.zoo.api import load_pretrained
from hadamard_restore.zoo.registry import available_models, read_card

log = get_logger("hadamard_restore.showcase")

FORMAT = "hadamard-restore-showcase/1"
SHOWCASE_FILE = "showcase.json"
GRID_HEIGHT = 320
#: built-in photos tried first for each task (then any other installed photo)
PREFERRED = {
    "low-light": ("coffee", "astronaut"),
    "dehaze": ("astronaut", "motorcycle_left"),
    "underwater": ("chelsea", "coffee"),
}


@dataclass
class Sample:
    """One image to enhance: ``degraded`` and ``clean`` are ``(3, H, W)`` 8-bit values in [0, 1]."""

    kind: str  # "built-in" or "held-out"
    name: str
    degraded: torch.Tensor
    clean: torch.Tensor
    extra: dict = field(default_factory=dict)


def _fit(img: torch.Tensor, max_side: int | None) -> torch.Tensor:
    """``img`` downscaled (antialiased) so its long side is at most ``max_side`` (None: as is)."""
    h, w = img.shape[-2:]
    if max_side is None or max(h, w) <= max_side:
        return img
    size = (max(1, round(h * max_side / max(h, w))), max(1, round(w * max_side / max(h, w))))
    return F.interpolate(img[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0].clamp(0, 1)


def builtin_samples(
    task: str, count: int = 2, seed: int = 0, max_side: int | None = None
) -> tuple[list[Sample], list[str]]:
    """``count`` built-in photos degraded with ``task``'s formula: ``(samples, notes)``."""
    try:
        task = task_name(task)
    except DataError:
        return [], [f"no synthetic degradation for task {task!r}: no built-in photos"]
    photos = dict(clean_photos())
    if not photos:
        return [], ["no built-in photos installed (scikit-image / matplotlib sample data)"]
    order = [n for n in PREFERRED.get(task, ()) if n in photos] + sorted(set(photos) - set(PREFERRED.get(task, ())))
    samples = []
    for k, name in enumerate(order[:count]):
        clean = quantize_8bit(_fit(read_image(photos[name]), max_side))
        generator = torch.Generator().manual_seed(seed + 1000 * TASKS.index(task) + k)
        degraded, params = degrade(task, clean, generator)
        samples.append(Sample("built-in", name, quantize_8bit(degraded), clean, {"degradation": params}))
    return samples, []


def heldout_samples(
    card: dict, count: int = 2, data_root: str | Path | None = None, max_side: int | None = None
) -> tuple[list[Sample], list[str]]:
    """The first ``count`` held-out pairs of ``card`` under ``data_root``: ``(samples, notes)``."""
    data = card.get("data", {})
    entries = (data.get("split") or {}).get("heldout") or []
    pattern = data.get("path", "")
    if data_root is None:
        folder = pattern.replace("${HADAMARD_RESTORE_DATA}/", "")
        return [], [f"held-out pairs: set HADAMARD_RESTORE_DATA to the data folder holding `{folder}` to also see them"]
    root = Path(pattern.replace("${HADAMARD_RESTORE_DATA}", str(data_root)))
    if not entries or not root.is_dir():
        return [], [f"held-out pairs: {root} not found (or the card lists none); skipped"]
    samples, notes = [], []
    for entry in entries[:count]:
        try:
            deg, ref = read_image(root / entry["degraded"]), read_image(root / entry["reference"])
        except (HadamardRestoreError, OSError, KeyError) as exc:
            notes.append(f"held-out pair {entry.get('degraded')!r} unreadable ({exc}); skipped")
            continue
        if deg.shape != ref.shape:
            notes.append(f"held-out pair {entry['degraded']!r}: sizes differ; skipped")
            continue
        samples.append(
            Sample(
                "held-out",
                Path(entry["degraded"]).name,
                quantize_8bit(_fit(deg, max_side)),
                quantize_8bit(_fit(ref, max_side)),
            )
        )
    return samples, notes


def _scores(image: torch.Tensor, clean: torch.Tensor) -> dict:
    return {"psnr": float(psnr(image[None], clean[None])[0]), "ssim": float(ssim(image[None], clean[None])[0])}


def enhance_samples(model: torch.nn.Module, samples: list[Sample]) -> tuple[list[dict], list[list[torch.Tensor]]]:
    """Enhance and score every sample: ``(rows for the JSON, grid rows input | output | clean)``."""
    rows, grid = [], []
    for s in samples:
        t0 = time.perf_counter()
        # eager: the automatic backend choice times every backend once per size class, which costs
        # more than the demo's few one-off images gain from it
        out = quantize_8bit(enhance_tensor(model, s.degraded, EnhanceConfig(backend="eager"), "cpu"))
        seconds = time.perf_counter() - t0
        rows.append(
            {
                "kind": s.kind,
                "image": s.name,
                "height": int(s.clean.shape[-2]),
                "width": int(s.clean.shape[-1]),
                "input": _scores(s.degraded, s.clean),
                "output": _scores(out, s.clean),
                "seconds": round(seconds, 3),
                **s.extra,
            }
        )
        grid.append([s.degraded, out, s.clean])
    return rows, grid


def showcase_model(
    name: str,
    out_dir: Path,
    per_task: int = 2,
    seed: int = 0,
    data_root: str | Path | None = None,
    max_side: int | None = None,
) -> dict:
    """Enhance the built-in photos and held-out pairs of bundled model ``name``; its JSON entry."""
    t0 = time.perf_counter()
    card = read_card(name)
    task = card.get("task", name)
    entry: dict[str, Any] = {"name": name, "task": task, "summary": card.get("summary", ""), "grid": None}
    builtin, notes = builtin_samples(task, per_task, seed, max_side)
    held, held_notes = heldout_samples(card, per_task, data_root, max_side)
    model = load_pretrained(name)
    rows, grid = enhance_samples(model, builtin + held)
    if grid:
        entry["grid"] = write_image(
            out_dir / f"{name}.png", comparison_grid(grid, height=GRID_HEIGHT, labels=GRID_COLUMNS)
        ).name
    entry.update(rows=rows, notes=notes + held_notes, seconds=round(time.perf_counter() - t0, 2))
    return entry


def showcase(
    out_dir: str | Path,
    names: list[str] | None = None,
    per_task: int = 2,
    seed: int = 0,
    data_root: str | Path | None = None,
    max_side: int | None = None,
) -> dict:
    """Run every bundled model (or ``names``) on its photos; writes ``out_dir/showcase.json``.

    Args:
        out_dir: folder for ``showcase.json`` and the grids (created).
        names: models to show (default: all bundled ones).
        per_task: built-in photos and held-out pairs per model (each).
        seed: seeds the synthetic degradations.
        data_root: the real data folder (default ``$HADAMARD_RESTORE_DATA``; unset: built-in only).
        max_side: downscale images to this long side (None: full size; tests use a few dozen).

    Returns:
        The JSON written: ``{"format", "models": [...], "note"}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if data_root is None:
        data_root = os.environ.get("HADAMARD_RESTORE_DATA") or None
    names = available_models() if names is None else names
    result: dict[str, Any] = {"format": FORMAT, "models": [], "note": None}
    if not names:
        result["note"] = "no pretrained model is bundled in this installation; skipping the pretrained showcase"
        log.info(result["note"])
    for name in names:
        try:
            entry = showcase_model(name, out_dir, per_task, seed, data_root, max_side)
        except (HadamardRestoreError, OSError) as exc:
            log.warning("pretrained model %s skipped: %s", name, exc)
            entry = {
                "name": name,
                "task": None,
                "summary": "",
                "grid": None,
                "rows": [],
                "notes": [f"model skipped: {exc}"],
                "seconds": 0.0,
            }
        else:
            log.info("pretrained %s: %d images in %.1f s", name, len(entry["rows"]), entry["seconds"])
        result["models"].append(entry)
    write_json(out_dir / SHOWCASE_FILE, result)
    return result
