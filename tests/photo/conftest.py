"""A small random network saved as a model file, and a helper that makes photos."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny import random_model_file


@pytest.fixture(scope="package")
def model_file(tmp_path_factory):
    return random_model_file(tmp_path_factory.mktemp("ck"), channels=4)


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
