"""GT-mean rescaling: the output's mean brightness matched to the reference's (docs/evaluation.md §4).

Many published low-light numbers are computed after this step (KinD's evaluation script,
then LLFlow, Retinexformer and others): ``out' = clip(out * mean(gray(ref)) / mean(gray(out)), 0, 1)``
with ``gray = 0.299 R + 0.587 G + 0.114 B`` (OpenCV's RGB-to-gray) and the means over all pixels
of the image. It removes a global brightness error before scoring, so it is reported as a
separate, labelled column and never replaces the plain numbers.
"""

from __future__ import annotations

import torch

from hadamard_restore.metrics.common import check_pair

GRAY_WEIGHTS = (0.299, 0.587, 0.114)


def mean_gray(img: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB -> (B,) float64 mean of ``0.299 R + 0.587 G + 0.114 B`` over the pixels."""
    w = torch.tensor(GRAY_WEIGHTS, dtype=torch.float64, device=img.device).view(1, 3, 1, 1)
    return (img.to(torch.float64) * w).sum(dim=1).flatten(1).mean(dim=1)


def gt_mean_factor(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(B,) float64 ``mean(gray(y)) / mean(gray(x))``; ``inf`` where ``x`` is black (no finite factor)."""
    x, y = check_pair(x, y, "gt_mean")
    mx, my = mean_gray(x), mean_gray(y)
    out = torch.full_like(mx, float("inf"))
    ok = mx > 0
    out[ok] = my[ok] / mx[ok]
    return out


def gt_mean_rescale(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``x`` scaled per image by :func:`gt_mean_factor` and clipped to [0, 1] (float64, (B, 3, H, W)).

    Raises:
        ValueError: an image of ``x`` is black, so no factor matches its mean to the reference's.
    """
    factor = gt_mean_factor(x, y)
    if not torch.isfinite(factor).all():
        raise ValueError("gt_mean: an output image is black (mean 0), so its brightness cannot be rescaled")
    x = x if x.dim() == 4 else x.unsqueeze(0)
    return (x.to(torch.float64) * factor.view(-1, 1, 1, 1)).clamp(0.0, 1.0)
