"""GT-mean rescaling and the GT-mean columns of evaluate's scoring: closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from hadamard_restore.config import EvalConfig
from hadamard_restore.evaluation.scoring import score_gt_mean, score_image
from hadamard_restore.metrics.gt_mean import gt_mean_factor, gt_mean_rescale
from hadamard_restore.metrics.psnr import psnr
from hadamard_restore.metrics.ssim import ssim


def _eight_bit(gen: torch.Generator, shape=(3, 37, 31)) -> torch.Tensor:
    return torch.randint(0, 256, shape, generator=gen).float() / 255


@pytest.mark.parametrize("c", [0.25, 0.37, 0.8])
def test_a_constant_multiple_of_the_reference_scores_infinite_gt_mean_and_the_closed_form_plain_psnr(gen, c):
    ref = _eight_bit(gen)
    out = ref * c  # a pure brightness error: GT-mean removes all of it
    got = score_gt_mean(out, ref, EvalConfig())
    assert got["gt_mean_psnr"] == math.inf and got["gt_mean_ssim"] == pytest.approx(1.0, abs=1e-12)
    # the plain column keeps the error: MSE = (1 - c)^2 mean(ref^2), computed before 8-bit rounding
    plain = float(psnr(out[None], ref[None])[0])
    expected = -10 * math.log10((1 - c) ** 2 * float((ref.double() ** 2).mean()))
    assert plain == pytest.approx(expected, abs=1e-4)
    assert score_image(out, ref, EvalConfig(), False)["psnr"] < 25  # and evaluate's plain score is far from inf


def test_hand_computed_case_with_clipping():
    # gray levels (R = G = B, so gray = the value): reference mean 0.5, output mean 0.15
    ref = torch.tensor([[0.2, 0.4], [0.6, 0.8]], dtype=torch.float64).expand(1, 3, 2, 2)
    out = torch.tensor([[0.05, 0.05], [0.05, 0.45]], dtype=torch.float64).expand(1, 3, 2, 2)
    assert float(gt_mean_factor(out, ref)[0]) == pytest.approx(0.5 / 0.15)
    scaled = gt_mean_rescale(out, ref)  # 1/6, 1/6, 1/6 and 1.5 clipped to 1
    torch.testing.assert_close(scaled[0, 0], torch.tensor([[1 / 6, 1 / 6], [1 / 6, 1.0]], dtype=torch.float64))
    mse = ((1 / 6 - 0.2) ** 2 + (1 / 6 - 0.4) ** 2 + (1 / 6 - 0.6) ** 2 + (1 - 0.8) ** 2) / 4
    assert float(psnr(scaled, ref)[0]) == pytest.approx(10 * math.log10(1 / mse), abs=1e-9)


def test_the_factor_uses_the_rgb_to_gray_weights_per_image():
    ref = torch.zeros(2, 3, 4, 4, dtype=torch.float64)
    ref[0, 0], ref[1, 2] = 0.5, 0.5  # a red image and a blue image, both gray = weight * 0.5
    out = torch.full((2, 3, 4, 4), 0.25, dtype=torch.float64)  # gray 0.25
    torch.testing.assert_close(gt_mean_factor(out, ref), torch.tensor([0.299 * 2, 0.114 * 2], dtype=torch.float64))


def test_a_black_output_has_no_gt_mean_score(gen):
    ref = _eight_bit(gen)
    assert score_gt_mean(torch.zeros_like(ref), ref, EvalConfig()) == {"gt_mean_psnr": None, "gt_mean_ssim": None}
    with pytest.raises(ValueError, match="black"):
        gt_mean_rescale(torch.zeros_like(ref), ref)


def test_gt_mean_scores_honour_the_protocol_flags(gen):
    ref = _eight_bit(gen)
    out = (ref * 0.5 + 0.1 * torch.rand(ref.shape, generator=gen)).clamp(0, 1)
    cfg = EvalConfig(y_channel=True, crop_border=3)
    scaled = torch.round(gt_mean_rescale(out, ref).float() * 255) / 255
    got = score_gt_mean(out, ref, cfg)
    assert got["gt_mean_psnr"] == pytest.approx(float(psnr(scaled, ref[None], y_channel=True, crop_border=3)[0]))
    assert got["gt_mean_ssim"] == pytest.approx(float(ssim(scaled, ref[None], y_channel=True, crop_border=3)[0]))
