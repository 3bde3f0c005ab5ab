"""Scoring restored images for :mod:`hadamard_restore.evaluation.evaluate` (docs/evaluation.md §4).

Every pair is run at full resolution, its output quantised to 8 bits as saved, and PSNR, SSIM and
LPIPS are computed for the output and for the degraded input against the reference; the protocol
flags are recorded with the numbers (:func:`protocol`). GT-mean PSNR and SSIM (:func:`score_gt_mean`)
and the appearance measures (:mod:`hadamard_restore.evaluation.appearance`) are extra, labelled columns.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
from tqdm.auto import tqdm

from hadamard_restore.config import EvalConfig
from hadamard_restore.data.integrity import read_eval_pair
from hadamard_restore.data.io import write_image
from hadamard_restore.errors import DataError
from hadamard_restore.evaluation.appearance import compare
from hadamard_restore.inference.enhance import infer, quantize_8bit
from hadamard_restore.metrics.gt_mean import gt_mean_factor, gt_mean_rescale
from hadamard_restore.metrics.perceptual import MIN_SIDE, lpips
from hadamard_restore.metrics.psnr import psnr
from hadamard_restore.metrics.ssim import ssim
from hadamard_restore.runtime.log import get_logger

log = get_logger("hadamard_restore.evaluate")
GT_MEAN_METRICS = ("gt_mean_psnr", "gt_mean_ssim")
METRICS = ("psnr", "ssim", "lpips", *GT_MEAN_METRICS)
GT_MEAN_PROTOCOL = (
    "gt_mean_*: the output clamped to [0,1] (before 8-bit rounding) times mean(gray(reference)) / "
    "mean(gray(output)), gray = 0.299 R + 0.587 G + 0.114 B over all pixels, clipped to [0,1], rounded "
    "to 8 bits, then scored as the plain columns; null for a black output"
)


def score_image(x: torch.Tensor, y: torch.Tensor, ecfg: EvalConfig, lpips_ok: bool) -> dict[str, float | None]:
    """PSNR, SSIM and (when ``lpips_ok``) LPIPS of one ``(3, H, W)`` image against its reference;
    LPIPS is None for an image smaller than its backbone needs (``metrics.perceptual.MIN_SIDE``)."""
    x, y = x.unsqueeze(0), y.unsqueeze(0)
    y_channel, border = ecfg.y_channel, ecfg.crop_border
    out: dict[str, float | None] = {
        "psnr": float(psnr(x, y, data_range=1.0, y_channel=y_channel, crop_border=border)[0]),
        "ssim": float(ssim(x, y, data_range=1.0, y_channel=y_channel, crop_border=border)[0]),
        "lpips": None,
    }
    if lpips_ok and min(x.shape[-2:]) >= MIN_SIDE[ecfg.lpips_net]:
        out["lpips"] = float(lpips(x, y, net=ecfg.lpips_net)[0])
    return out


def score_gt_mean(x: torch.Tensor, y: torch.Tensor, ecfg: EvalConfig) -> dict[str, float | None]:
    """GT-mean PSNR and SSIM of one ``(3, H, W)`` image ``x`` in [0, 1], not yet rounded to 8 bits.

    ``x`` is rescaled by ``metrics.gt_mean`` (its mean gray level made the reference's), rounded to
    8 bits like the plain score, and scored with the same protocol flags; None for a black ``x``.
    """
    x, y = x.unsqueeze(0), y.unsqueeze(0)
    if not math.isfinite(float(gt_mean_factor(x, y)[0])):
        return dict.fromkeys(GT_MEAN_METRICS)
    s = quantize_8bit(gt_mean_rescale(x, y).to(torch.float32))
    y_channel, border = ecfg.y_channel, ecfg.crop_border
    return {
        "gt_mean_psnr": float(psnr(s, y, data_range=1.0, y_channel=y_channel, crop_border=border)[0]),
        "gt_mean_ssim": float(ssim(s, y, data_range=1.0, y_channel=y_channel, crop_border=border)[0]),
    }


def mean_of(rows: list[dict], key: str) -> float | None:
    """The mean of ``key`` over the rows that have a value for it (None when none has)."""
    values = [r[key] for r in rows if r.get(key) is not None]
    return sum(values) / len(values) if values else None


def finite_or_none(value: float | None) -> float | None:
    """JSON has no infinity: identical images (PSNR = inf) are stored as null with a note."""
    return value if value is None or math.isfinite(value) else None


def protocol(ecfg: EvalConfig, lpips_note: str | None) -> dict:
    """How the numbers were computed (stored in metrics.json)."""
    return {
        "computed_on": "8-bit outputs (clamped to [0,1], rounded to 1/255, as saved)",
        "color_space": "Y (BT.601)" if ecfg.y_channel else "RGB",
        "y_channel": ecfg.y_channel,
        "crop_border": ecfg.crop_border,
        "data_range": 1.0,
        "data_range_uint8": 255,
        "ssim": "Gaussian window 11, sigma 1.5, per channel, averaged",
        "lpips_net": ecfg.lpips_net,
        "lpips_version": "0.1",
        "lpips_input_range": "[-1, 1]",
        "lpips_skipped": lpips_note,
        "gt_mean": GT_MEAN_PROTOCOL,
        "inference": "full resolution, batch 1, reflect-pad to a multiple of 4 inside the network",
    }


def score_pairs(
    model, pairs: list, out: Path, ecfg: EvalConfig, dev, lpips_ok: bool, save_outputs: bool
) -> tuple[list[dict], list, list[dict]]:
    """``(rows, grid_rows, failed)``: every good pair scored; a bad one listed in ``failed`` and skipped."""
    rows: list[dict] = []
    grid_rows: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    failed: list[dict] = []
    for pair in tqdm(pairs, desc="evaluate", dynamic_ncols=True, mininterval=1.0 if sys.stderr.isatty() else 30.0):
        try:  # a bad pair is listed and skipped; every good pair is scored
            deg, ref = read_eval_pair(pair, ecfg.crop_border)
        except DataError as exc:
            failed.append({"degraded": str(pair.degraded), "reference": str(pair.reference), "reason": str(exc)})
            log.error("skipped %s: %s", pair.degraded, exc)
            continue
        clamped = infer(model, deg, dev)
        restored = quantize_8bit(clamped)
        name = Path(pair.degraded).name
        if save_outputs:
            write_image(out / "outputs" / f"{Path(name).stem}.png", restored)
        got = {**score_image(restored, ref, ecfg, lpips_ok), **score_gt_mean(clamped, ref, ecfg)}
        base = {**score_image(quantize_8bit(deg), ref, ecfg, lpips_ok), **score_gt_mean(deg, ref, ecfg)}
        rows.append(
            {
                "name": name,
                "degraded": str(pair.degraded),
                "reference": str(pair.reference),
                "height": int(ref.shape[1]),
                "width": int(ref.shape[2]),
                **{k: finite_or_none(v) for k, v in got.items()},
                **{f"input_{k}": finite_or_none(v) for k, v in base.items()},
                "appearance": compare(restored, ref, quantize_8bit(deg)),
            }
        )
        if len(grid_rows) < ecfg.grid_images:
            grid_rows.append((deg, restored, ref))
    return rows, grid_rows, failed
