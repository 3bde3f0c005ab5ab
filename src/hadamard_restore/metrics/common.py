"""Input checks and the protocol options shared by PSNR and SSIM."""

from __future__ import annotations

import torch

# BT.601 luma for RGB in [0, 1] giving Y in [16, 235] / 255, as BasicSR's rgb2ycbcr(y_only=True).
_Y_WEIGHTS = (65.481 / 255.0, 128.553 / 255.0, 24.966 / 255.0)
_Y_OFFSET = 16.0 / 255.0


class NonFiniteValues(ValueError):
    """A metric's input holds NaN or infinite values (a diverged network's output, typically)."""


def check_pair(x: torch.Tensor, y: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a (B, 3, H, W) or (3, H, W) pair and return both as (B, 3, H, W).

    Raises:
        TypeError: not tensors.
        ValueError: wrong number of dims or channels, shapes differ.
        NonFiniteValues: NaN/inf values.
    """
    for label, t in (("x", x), ("y", y)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}: {label} must be a torch.Tensor, got {type(t).__name__}")
    if x.dim() != y.dim() or x.dim() not in (3, 4):
        raise ValueError(
            f"{name}: expected (B, 3, H, W) or (3, H, W) tensors, got x {tuple(x.shape)} and y {tuple(y.shape)}"
        )
    if x.dim() == 3:
        x, y = x.unsqueeze(0), y.unsqueeze(0)
    if x.shape != y.shape:
        raise ValueError(
            f"{name}: x {tuple(x.shape)} and y {tuple(y.shape)} differ in shape; "
            "compare images of the same size (crop or resize the output first)"
        )
    if x.shape[1] != 3:
        raise ValueError(
            f"{name}: expected 3 RGB channels in dim 1, got {x.shape[1]} "
            f"(shape {tuple(x.shape)}); images must be channels-first (B, 3, H, W)"
        )
    for label, t in (("x", x), ("y", y)):
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise NonFiniteValues(f"{name}: {label} contains NaN or inf values")
    return x, y


def prepare(
    x: torch.Tensor, y: torch.Tensor, data_range: float, y_channel: bool, crop_border: int, name: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check, cast to float64, crop ``crop_border`` pixels per side and optionally take Y.

    Returns:
        (B, C, H - 2 c, W - 2 c) float64 pair in the units of ``data_range``; C is 1 with
        ``y_channel`` (Y = data_range * (16 + 65.481 R + 128.553 G + 24.966 B) / 255 with R, G, B
        the inputs divided by data_range), else 3.
    """
    x, y = check_pair(x, y, name)
    if not data_range > 0:
        raise ValueError(f"{name}: data_range must be > 0 (1.0 for [0, 1] images, 255 for 8-bit), got {data_range}")
    x, y = x.to(torch.float64), y.to(torch.float64)
    peak = float(max(x.abs().max(), y.abs().max()))
    if peak > 2 * data_range:
        raise ValueError(
            f"{name}: values reach {peak:g} but data_range={data_range:g}; pass the "
            "data_range of the images' scale (e.g. data_range=255 for 0-255 values)"
        )
    if not isinstance(crop_border, int) or crop_border < 0:
        raise ValueError(f"{name}: crop_border must be a non-negative int, got {crop_border!r}")
    if crop_border:
        h, w = x.shape[-2:]
        if 2 * crop_border >= min(h, w):
            raise ValueError(f"{name}: crop_border={crop_border} removes the whole {h}x{w} image")
        x = x[..., crop_border:-crop_border, crop_border:-crop_border]
        y = y[..., crop_border:-crop_border, crop_border:-crop_border]
    if y_channel:
        x, y = rgb_to_y(x, data_range), rgb_to_y(y, data_range)
    return x, y


def rgb_to_y(img: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, data_range] -> (B, 1, H, W) BT.601 Y in the same units."""
    w = torch.tensor(_Y_WEIGHTS, dtype=img.dtype, device=img.device).view(1, 3, 1, 1)
    return (img * w).sum(dim=1, keepdim=True) + _Y_OFFSET * data_range
