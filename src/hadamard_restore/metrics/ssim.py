"""Structural similarity per image (Wang et al. 2004, Gaussian window)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hadamard_restore.metrics.common import prepare

WINDOW = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03


def gaussian_window(size: int = WINDOW, sigma: float = SIGMA, dtype=torch.float64) -> torch.Tensor:
    """Normalised 1-D Gaussian taps exp(-t^2 / (2 sigma^2)), t = -(size-1)/2 .. (size-1)/2."""
    t = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(t**2) / (2 * sigma**2))
    return g / g.sum()


def _blur(img: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' Gaussian filtering of (N, C, H, W): no padding, output shrinks by size-1."""
    c = img.shape[1]
    img = F.conv2d(img, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return F.conv2d(img, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)


def ssim(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, y_channel: bool = False, crop_border: int = 0
) -> torch.Tensor:
    """Mean SSIM per image: 11x11 Gaussian window (sigma 1.5), per channel, channels averaged.

    With local Gaussian means mu, variances s^2 and covariance s_xy (population form, i.e.
    ``use_sample_covariance=False``), C1 = (0.01 L)^2, C2 = (0.03 L)^2, L = data_range:
    SSIM = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2)),
    averaged over the valid window positions (no padding: a border of 5 pixels is not a window
    centre) and over channels. This equals BasicSR's ``calculate_ssim`` and
    ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=L, channel_axis=...)``.

    Args:
        x: restored images (B, 3, H, W) (or (3, H, W)) in [0, data_range]; H, W >= 11 after cropping.
        y: reference images, same shape.
        data_range: peak value of the images' scale (1.0 or 255).
        y_channel: score the BT.601 Y channel only.
        crop_border: pixels removed from each side before scoring.

    Returns:
        (B,) float64 tensor; 1 for identical images.
    """
    x, y = prepare(x, y, data_range, y_channel, crop_border, "ssim")
    h, w = x.shape[-2:]
    if min(h, w) < WINDOW:
        raise ValueError(f"ssim: images must be at least {WINDOW}x{WINDOW} after crop_border, got {h}x{w}")
    g = gaussian_window(dtype=x.dtype).to(x.device)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    mu_x, mu_y = _blur(x, g), _blur(y, g)
    var_x = _blur(x * x, g) - mu_x**2
    var_y = _blur(y * y, g) - mu_y**2
    cov = _blur(x * y, g) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return (num / den).flatten(1).mean(dim=1)
