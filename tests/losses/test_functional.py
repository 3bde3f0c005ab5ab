"""Closed forms, a direct reference SSIM, gradchecks and module/function agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hadamard_restore.losses import functional as LF

PAIR_LOSSES = [LF.l1, LF.l2, LF.ssim_loss]


def _rand(gen, *shape, dtype=torch.float32):
    return torch.rand(*shape, generator=gen, dtype=dtype)


@pytest.mark.parametrize("fn", PAIR_LOSSES)
def test_pair_losses_zero_on_identical(fn, gen):
    x = _rand(gen, 2, 3, 37, 31)
    assert fn(x, x.clone()).item() == pytest.approx(0.0, abs=1e-6)
    y = _rand(gen, 2, 3, 37, 31)
    assert fn(x, y).item() > 0.01


def test_color_on_identical_is_the_clamp_floor(gen):
    x = _rand(gen, 2, 3, 9, 7, dtype=torch.float64) + 0.1  # float64: arccos near 1 is ill-conditioned
    expected = 0.1 * math.degrees(math.acos(0.999999))
    assert LF.color_angle(x, x.clone()).item() == pytest.approx(expected, rel=1e-3)
    assert LF.angle_floor() == pytest.approx(expected)


def test_l1_l2_known_values():
    x = torch.zeros(2, 3, 5, 7)
    y = torch.full((2, 3, 5, 7), 0.5)
    assert LF.l1(x, y).item() == pytest.approx(0.5)
    assert LF.l2(x, y).item() == pytest.approx(0.25)


def test_color_angle_known_values_per_image():
    red = torch.zeros(1, 3, 4, 5)
    red[:, 0] = 0.7
    green = torch.zeros(1, 3, 4, 5)
    green[:, 1] = 0.3
    yellow = torch.zeros(1, 3, 4, 5)
    yellow[:, :2] = 0.6
    assert LF.color_angle(red, green).item() == pytest.approx(9.0, abs=1e-4)  # 0.1 * 90
    assert LF.color_angle(yellow, red).item() == pytest.approx(4.5, abs=1e-4)  # 0.1 * 45
    # B = 2: the mean of the per-pixel angles of both images (90 deg and the identical floor).
    x = torch.cat([red, red])
    y = torch.cat([green, red])
    assert LF.color_angle(x, y).item() == pytest.approx((9.0 + LF.angle_floor()) / 2, abs=1e-4)
    # Half the pixels of one image differ by 90 degrees, half by 45.
    y2 = green.clone()
    y2[..., :2, :] = yellow[..., :2, :]
    assert LF.color_angle(red, y2).item() == pytest.approx(0.5 * 9.0 + 0.5 * 4.5, abs=1e-4)


def _ssim_reference(x: np.ndarray, y: np.ndarray) -> float:
    """SSIM by explicit loops: Gaussian-weighted sums over an 11x11 window, zeros outside."""
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    g /= g.sum()
    w = np.outer(g, g)
    c1, c2 = 0.01**2, 0.03**2
    b, c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (5, 5), (5, 5)))
    yp = np.pad(y, ((0, 0), (0, 0), (5, 5), (5, 5)))
    vals = []
    for bi in range(b):
        for ci in range(c):
            for i in range(h):
                for j in range(wd):
                    px = xp[bi, ci, i : i + 11, j : j + 11]
                    py = yp[bi, ci, i : i + 11, j : j + 11]
                    mx, my = (w * px).sum(), (w * py).sum()
                    sx = (w * px * px).sum() - mx * mx
                    sy = (w * py * py).sum() - my * my
                    sxy = (w * px * py).sum() - mx * my
                    vals.append(((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sx + sy + c2)))
    return float(np.mean(vals))


def test_ssim_matches_direct_reference(gen):
    x = _rand(gen, 2, 2, 7, 9, dtype=torch.float64)
    y = (x + 0.2 * _rand(gen, 2, 2, 7, 9, dtype=torch.float64)).clamp(0, 1)
    ref = _ssim_reference(x.numpy(), y.numpy())
    assert LF.ssim_loss(x, y).item() == pytest.approx(10 * (1 - ref), rel=1e-10)


def test_ssim_constant_images_interior_closed_form():
    a, b = 0.3, 0.7
    x = torch.full((1, 1, 13, 13), a, dtype=torch.float64)
    y = torch.full((1, 1, 13, 13), b, dtype=torch.float64)
    centre = LF.ssim_map(x, y)[0, 0, 6, 6].item()  # the only pixel whose window avoids the padding
    c1 = 0.01**2
    assert centre == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-10)


def test_tv_closed_forms(gen):
    assert LF.tv(torch.full((2, 3, 6, 5), 0.4)).item() == 0.0
    a = 0.05
    w = torch.arange(7, dtype=torch.float64)
    ramp_w = (a * w).expand(2, 3, 5, 7)
    assert LF.tv(ramp_w).item() == pytest.approx(2 * a * a)
    ramp_h = (a * torch.arange(5, dtype=torch.float64)).view(5, 1).expand(2, 3, 5, 7)
    assert LF.tv(ramp_h).item() == pytest.approx(2 * a * a)


def test_laplacian_closed_forms():
    assert LF.laplacian(torch.full((2, 3, 6, 5), 0.4)).item() == 0.0
    h, w, a = 6, 9, 0.01
    cols = torch.arange(w, dtype=torch.float64)
    linear = (0.02 * cols + 0.1).expand(2, 3, h, w)
    assert LF.laplacian(linear).item() == pytest.approx(0.0, abs=1e-14)
    quad = (a * cols**2).expand(2, 3, h, w)  # Laplacian = 2a inside, valid conv
    expected = (2 * a) ** 2 * (h - 2) * (w - 2) / (h * w)
    assert LF.laplacian(quad).item() == pytest.approx(expected)


@pytest.mark.parametrize("fn", [LF.l1, LF.l2, LF.color_angle, LF.ssim_loss])
def test_gradcheck_pair_losses(fn, gen):
    x = _rand(gen, 2, 3, 5, 6, dtype=torch.float64).requires_grad_()
    y = _rand(gen, 2, 3, 5, 6, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(fn, (x, y))


@pytest.mark.parametrize("fn", [LF.tv, LF.laplacian])
def test_gradcheck_output_only_losses(fn, gen):
    x = _rand(gen, 2, 3, 5, 6, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(fn, (x,))


def test_bad_inputs_are_explained():
    with pytest.raises(ValueError, match="differ in shape"):
        LF.l1(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))
    with pytest.raises(ValueError, match=r"add a batch dimension"):
        LF.ssim_loss(torch.zeros(3, 4, 4), torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match="at least 3x3"):
        LF.laplacian(torch.zeros(1, 3, 2, 8))
