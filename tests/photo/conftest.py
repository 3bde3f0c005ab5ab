"""A small random network saved as a model file, and a helper that makes photos."""

from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture(scope="package")
def model_file(tmp_path_factory):
    from hadamard_restore.net.model_file import save_model
    from hadamard_restore.net.network import HadamardNet

    net = HadamardNet("paper-lol", channels=4, generator=torch.Generator().manual_seed(4))
    return save_model(tmp_path_factory.mktemp("ck") / "model.pt", net, net.genotype, {"l1": 1.0}, None)


@pytest.fixture(scope="package")
def model(model_file):
    from hadamard_restore.net.model_file import load_model

    return load_model(model_file, "cpu")[0]


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
