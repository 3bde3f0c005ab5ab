"""PSNR: closed forms, protocol options and input errors."""

from __future__ import annotations

import math

import pytest
import torch

from hadamard_restore.metrics.common import rgb_to_y
from hadamard_restore.metrics.psnr import psnr


def test_closed_form_peak_two():
    x = torch.ones(2, 3, 7, 5, dtype=torch.float64)
    out = psnr(x, x * 1.2, data_range=2.0)
    assert out.shape == (2,) and out.dtype == torch.float64
    torch.testing.assert_close(out, torch.full((2,), 20.0, dtype=torch.float64))


def test_per_image_mse_and_inf_for_identical(gen):
    y = torch.rand(3, 3, 9, 11, generator=gen, dtype=torch.float64)
    x = y.clone()
    x[1] += 0.01  # MSE 1e-4 -> 40 dB
    x[2, 0, 0, 0] += 0.5
    out = psnr(x, y)
    assert out[0] == math.inf and not torch.isnan(out).any()
    assert out[1].item() == pytest.approx(40.0, abs=1e-9)
    assert out[2].item() == pytest.approx(10 * math.log10(3 * 9 * 11 / 0.25), abs=1e-9)


def test_data_range_scales_consistently(gen):
    y = torch.rand(2, 3, 13, 9, generator=gen)
    x = (y + 0.05 * torch.randn(2, 3, 13, 9, generator=gen)).clamp(0, 1)
    torch.testing.assert_close(psnr(x, y), psnr(255 * x, 255 * y, data_range=255))


def test_y_channel_is_bt601_and_crop_border_drops_edges(gen):
    y = torch.rand(1, 3, 15, 12, generator=gen, dtype=torch.float64)
    x = y.clone()
    x[..., :2, :] = 0.0  # damage only the top 2 rows
    assert psnr(x, y, crop_border=2).item() == math.inf
    # grey input: Y = 16/255 + (65.481 + 128.553 + 24.966) / 255 * v = 16/255 + 219/255 * v
    grey = torch.full((1, 3, 2, 2), 0.5, dtype=torch.float64)
    torch.testing.assert_close(rgb_to_y(grey), torch.full((1, 1, 2, 2), (16 + 219 * 0.5) / 255, dtype=torch.float64))
    # a pure-blue error of e moves Y by 24.966/255 * e
    z = y.clone()
    z[:, 2] += 0.1
    expected = 10 * math.log10(1 / (24.966 / 255 * 0.1) ** 2)
    assert psnr(z, y, y_channel=True).item() == pytest.approx(expected, abs=1e-9)


def test_three_dim_input_is_one_image(gen):
    y = torch.rand(3, 12, 12, generator=gen)
    assert psnr(y * 0.9, y).shape == (1,)


@pytest.mark.parametrize(
    "x_shape, y_shape, match",
    [
        ((1, 3, 8, 8), (1, 3, 8, 9), r"x \(1, 3, 8, 8\) and y \(1, 3, 8, 9\) differ in shape"),
        ((8, 8), (8, 8), r"expected \(B, 3, H, W\) or \(3, H, W\)"),
        ((1, 1, 3, 8, 8), (1, 1, 3, 8, 8), r"expected \(B, 3, H, W\)"),
        ((1, 8, 8, 3), (1, 8, 8, 3), "expected 3 RGB channels in dim 1, got 8"),
    ],
)
def test_shape_errors(x_shape, y_shape, match):
    with pytest.raises(ValueError, match=match):
        psnr(torch.zeros(x_shape), torch.zeros(y_shape))


def test_value_and_option_errors():
    x = torch.zeros(1, 3, 8, 8)
    with pytest.raises(ValueError, match="values reach 255 but data_range=1; pass the data_range"):
        psnr(x + 255, x)
    with pytest.raises(ValueError, match="data_range must be > 0"):
        psnr(x, x, data_range=0)
    with pytest.raises(ValueError, match="crop_border=4 removes the whole 8x8 image"):
        psnr(x, x, crop_border=4)
    with pytest.raises(ValueError, match="contains NaN"):
        psnr(x * float("nan"), x)
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got ndarray"):
        psnr(x.numpy(), x)
