"""PSNR and SSIM against scikit-image on real pairs from ../shared/data (uint8 images)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from hadamard_restore.metrics.psnr import psnr
from hadamard_restore.metrics.ssim import ssim

pytestmark = pytest.mark.realdata

PAIRS = [
    ("lol-v1/our485/low/101.png", "lol-v1/our485/high/101.png"),
    ("lol-v1/our485/low/112.png", "lol-v1/our485/high/112.png"),
    ("lsui/input/100.jpg", "lsui/GT/100.jpg"),
    ("lsui/input/103.jpg", "lsui/GT/103.jpg"),
]
CROP = (161, 203)  # a central odd-sized window keeps the test fast on 2 cores


def _load(data_root, rel) -> np.ndarray:
    img = np.asarray(Image.open(data_root / rel).convert("RGB"))
    h, w = img.shape[:2]
    top, left = (h - CROP[0]) // 2, (w - CROP[1]) // 2
    return img[top : top + CROP[0], left : left + CROP[1]]


@pytest.fixture(scope="module")
def pairs(data_root):
    """(degraded, reference) uint8 arrays (H, W, 3), plus batched tensors in 0..255."""
    arrays = [(_load(data_root, d), _load(data_root, r)) for d, r in PAIRS]
    deg = torch.from_numpy(np.stack([a for a, _ in arrays])).permute(0, 3, 1, 2).double()
    ref = torch.from_numpy(np.stack([b for _, b in arrays])).permute(0, 3, 1, 2).double()
    return arrays, deg, ref


def _sk_ssim(a, b, data_range, channel_axis=2):
    return structural_similarity(
        a,
        b,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=data_range,
        channel_axis=channel_axis,
    )


@pytest.mark.parametrize("data_range", [255.0, 1.0])
def test_psnr_and_ssim_match_skimage(pairs, data_range):
    arrays, deg, ref = pairs
    scale = data_range / 255.0
    ours_psnr = psnr(deg * scale, ref * scale, data_range=data_range)
    ours_ssim = ssim(deg * scale, ref * scale, data_range=data_range)
    for i, (d, r) in enumerate(arrays):
        d64, r64 = d.astype(np.float64) * scale, r.astype(np.float64) * scale
        assert ours_psnr[i].item() == pytest.approx(peak_signal_noise_ratio(r64, d64, data_range=data_range), abs=1e-4)
        assert ours_ssim[i].item() == pytest.approx(_sk_ssim(d64, r64, data_range), abs=1e-4)
    assert ours_ssim.min() < 0.9  # real degradations: the check is not trivially 1


def test_y_channel_and_crop_match_skimage_on_bt601_luma(pairs):
    arrays, deg, ref = pairs
    ours_psnr = psnr(deg, ref, data_range=255, y_channel=True, crop_border=4)
    ours_ssim = ssim(deg, ref, data_range=255, y_channel=True, crop_border=4)
    for i, (d, r) in enumerate(arrays):

        def luma(img):  # BasicSR rgb2ycbcr(y_only=True) on 0..255 values
            img = img.astype(np.float64)[4:-4, 4:-4] / 255.0
            return 16.0 + img @ np.array([65.481, 128.553, 24.966])

        yd, yr = luma(d), luma(r)
        assert ours_psnr[i].item() == pytest.approx(peak_signal_noise_ratio(yr, yd, data_range=255), abs=1e-4)
        assert ours_ssim[i].item() == pytest.approx(_sk_ssim(yd, yr, 255, channel_axis=None), abs=1e-4)
