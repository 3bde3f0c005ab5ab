"""Image-quality metrics: PSNR, SSIM (own torch code, checked against scikit-image) and LPIPS.

Each takes a restored batch ``x`` and a reference batch ``y`` of shape (B, 3, H, W) (a single
(3, H, W) image is treated as B = 1) and returns a float64 (B,) tensor (LPIPS: float32), one
score per image. Protocol (docs/evaluation.md §4): RGB by default, ``data_range`` explicit,
optional BT.601 ``y_channel`` and ``crop_border``.
"""

from hadamard_restore.metrics.perceptual import lpips
from hadamard_restore.metrics.psnr import psnr
from hadamard_restore.metrics.ssim import ssim

__all__ = ["psnr", "ssim", "lpips"]
