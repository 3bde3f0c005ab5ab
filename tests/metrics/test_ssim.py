"""SSIM: closed forms and invariants (scikit-image agreement is in test_reference.py)."""

from __future__ import annotations

import pytest
import torch

from hadamard_restore.metrics.ssim import gaussian_window, ssim


def test_identical_is_one(gen):
    x = torch.rand(2, 3, 37, 31, generator=gen)
    torch.testing.assert_close(ssim(x, x), torch.ones(2, dtype=torch.float64))


def test_window_taps():
    g = gaussian_window()
    assert g.shape == (11,) and g.sum().item() == pytest.approx(1.0)
    assert (g[6] / g[5]).item() == pytest.approx(torch.exp(torch.tensor(-1 / (2 * 1.5**2))).item())


def test_constant_images_closed_form():
    """Flat images: variances 0, so SSIM = (2 a b + C1) / (a^2 + b^2 + C1)."""
    a, b, c1 = 0.6, 0.3, 0.01**2
    x = torch.full((1, 3, 13, 17), a, dtype=torch.float64)
    y = torch.full((1, 3, 13, 17), b, dtype=torch.float64)
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    assert ssim(x, y).item() == pytest.approx(expected, rel=1e-12)


def test_symmetric_bounded_and_scale_invariant(gen):
    y = torch.rand(2, 3, 23, 19, generator=gen, dtype=torch.float64)
    x = (y + 0.2 * torch.randn(2, 3, 23, 19, generator=gen, dtype=torch.float64)).clamp(0, 1)
    s = ssim(x, y)
    torch.testing.assert_close(s, ssim(y, x))
    assert ((s < 1) & (s > -1)).all()
    torch.testing.assert_close(s, ssim(255 * x, 255 * y, data_range=255))


def test_valid_window_ignores_outer_border(gen):
    """Pixels more than 5 from every valid window centre are never seen: a 1-pixel frame is free."""
    y = torch.rand(1, 3, 21, 21, generator=gen, dtype=torch.float64)
    x = y.clone()
    x[..., 0, :] = 1 - x[..., 0, :]
    assert ssim(x, y).item() < 1
    assert ssim(x, y, crop_border=1).item() == pytest.approx(1.0)


def test_small_images_and_mismatch_are_refused():
    with pytest.raises(ValueError, match="at least 11x11 after crop_border, got 7x20"):
        ssim(torch.zeros(1, 3, 11, 24), torch.zeros(1, 3, 11, 24), crop_border=2)
    with pytest.raises(ValueError, match="differ in shape"):
        ssim(torch.zeros(1, 3, 16, 16), torch.zeros(2, 3, 16, 16))


def test_differentiable(gen):
    y = torch.rand(1, 3, 17, 13, generator=gen, dtype=torch.float64)
    x = (y * 0.8).requires_grad_(True)
    ssim(x, y).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
