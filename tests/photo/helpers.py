"""Helpers for the photo tests: smooth photos of any bit depth, an sRGB ICC profile."""

from __future__ import annotations

import numpy as np
import torch


def smooth_rgb(seed: int, h: int = 37, w: int = 31, dtype=np.uint8) -> np.ndarray:
    """A smooth random (h, w, 3) image (JPEG-friendly) of ``dtype``."""
    gen = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 3, 4, 5, generator=gen)
    img = torch.nn.functional.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)[0]
    peak = np.iinfo(dtype).max
    return np.round(img.permute(1, 2, 0).numpy() * peak).astype(dtype)


def srgb_icc() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
