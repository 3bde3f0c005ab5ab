"""Peak signal-to-noise ratio per image."""

from __future__ import annotations

import torch

from hadamard_restore.metrics.common import prepare


def psnr(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, y_channel: bool = False, crop_border: int = 0
) -> torch.Tensor:
    """PSNR = 10 log10(data_range^2 / MSE), MSE over channels and pixels of each image.

    Args:
        x: restored images (B, 3, H, W) (or (3, H, W)) in [0, data_range].
        y: reference images, same shape.
        data_range: peak value of the images' scale (1.0 for [0, 1] floats, 255 for 8-bit values).
        y_channel: score the BT.601 Y channel only (BasicSR convention) instead of RGB.
        crop_border: pixels removed from each side before scoring.

    Returns:
        (B,) float64 tensor in dB; ``inf`` where x equals y exactly (MSE 0), never NaN.
        Same as ``skimage.metrics.peak_signal_noise_ratio(y, x, data_range=data_range)``.
    """
    x, y = prepare(x, y, data_range, y_channel, crop_border, "psnr")
    mse = (x - y).pow(2).flatten(1).mean(dim=1)
    out = torch.full_like(mse, float("inf"))
    nonzero = mse > 0
    out[nonzero] = 10.0 * torch.log10(data_range**2 / mse[nonzero])
    return out
