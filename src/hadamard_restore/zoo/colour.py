"""Colour errors for the model cards: mean CIEDE2000 and mean colour angle.

* **CIEDE2000** (ΔE00): sRGB (D65) -> CIELAB with scikit-image, then the CIEDE2000 colour
  difference per pixel (``skimage.color.deltaE_ciede2000``), averaged over the image. About
  1 is a just-noticeable difference; above 10 the colours are clearly different.
* **Colour angle**: the angle in degrees between the RGB vectors of the two images at each
  pixel, averaged (pixels where either vector is zero count as 0). Blind to brightness,
  sensitive to casts: a grey output of a colourful reference scores high.

Both are computed on 8-bit images (the saved outputs), per image, then averaged over images.
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.color import deltaE_ciede2000, rgb2lab


def _hwc(img: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` in [0, 1] -> float64 ``(H, W, 3)``."""
    return img.detach().to("cpu", torch.float64).clamp(0, 1).permute(1, 2, 0).numpy()


def ciede2000(x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean CIEDE2000 difference between two ``(3, H, W)`` sRGB images in [0, 1]."""
    return float(np.mean(deltaE_ciede2000(rgb2lab(_hwc(x)), rgb2lab(_hwc(y)))))


def colour_angle(x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean per-pixel angle (degrees) between the RGB vectors of two ``(3, H, W)`` images."""
    a, b = _hwc(x).reshape(-1, 3), _hwc(y).reshape(-1, 3)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    valid = (na > 0) & (nb > 0)
    cos = np.ones(len(a))
    cos[valid] = np.einsum("ij,ij->i", a[valid], b[valid]) / (na[valid] * nb[valid])
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))).mean())


def colour_errors(pairs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> dict:
    """Mean colour errors over ``[(input, output, reference)]`` 8-bit images.

    Returns:
        ``{"model": {"ciede2000", "colour_angle"}, "input": {...}}``, each the mean over images.
    """
    rows = [(ciede2000(o, r), colour_angle(o, r), ciede2000(i, r), colour_angle(i, r)) for i, o, r in pairs]
    mean = np.asarray(rows, dtype=np.float64).mean(axis=0) if rows else [float("nan")] * 4
    return {
        "model": {"ciede2000": float(mean[0]), "colour_angle": float(mean[1])},
        "input": {"ciede2000": float(mean[2]), "colour_angle": float(mean[3])},
    }
