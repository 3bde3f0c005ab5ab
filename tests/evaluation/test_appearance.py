"""Appearance measures on synthetic images with known answers."""

from __future__ import annotations

import pytest
import torch

from hadamard_restore.evaluation import appearance
from hadamard_restore.evaluation.appearance import compare, summarize


def _smooth(gen: torch.Generator, h: int = 64, w: int = 48) -> torch.Tensor:
    low = torch.rand(1, 3, 4, 3, generator=gen) * 0.6 + 0.2
    return torch.nn.functional.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)[0]


def test_an_added_checkerboard_is_measured_at_its_amplitude(gen):
    ref = _smooth(gen)
    i, j = torch.meshgrid(torch.arange(64), torch.arange(48), indexing="ij")
    board = ((-1.0) ** (i + j)).expand(3, -1, -1)
    out = ref + 0.03 * board
    assert appearance.grid_energy(ref) < 1e-3  # smooth content has almost none
    assert appearance.grid_energy(out) == pytest.approx(0.03, abs=1e-3)
    row = compare(out, ref, ref)
    assert row["grid_energy_ratio"] > 30 and row["grid_energy_vs_input"] == row["grid_energy_ratio"]
    stripes = ref + 0.03 * ((-1.0) ** i).expand(3, -1, -1)  # a row pattern is not the (pi, pi) checkerboard
    assert appearance.grid_energy(stripes) < 1e-3


def test_a_frame_along_the_border_is_measured_at_its_value(gen):
    ref = _smooth(gen)
    out = ref.clone()
    band = appearance.BORDER_BAND
    out[:, :band, :] += 0.06
    out[:, -band:, :] += 0.06
    out[:, band:-band, :band] += 0.06
    out[:, band:-band, -band:] += 0.06
    assert compare(out, ref)["border_frame_difference"] == pytest.approx(0.06, abs=1e-6)
    assert compare(ref, ref)["border_frame_difference"] == 0.0


def test_halved_saturation_halves_the_ratio(gen):
    ref = _smooth(gen)
    gray = ref.max(dim=0, keepdim=True).values  # keep max, halve (max - min) per pixel
    out = gray - (gray - ref) * 0.5
    assert compare(out, ref)["saturation_ratio"] == pytest.approx(0.5, abs=1e-6)


def test_black_level_contrast_and_a_grey_veil(gen):
    ref = torch.linspace(0, 1, 100 * 30).view(1, 100, 30).expand(3, -1, -1).clone()
    assert appearance.black_level(ref) == pytest.approx(29 / (3000 - 1))  # the 30th of 3000 sorted values
    veiled = 0.2 + 0.6 * ref  # lifted blacks, 60 % of the contrast
    row = compare(veiled, ref)
    assert row["output"]["black_level"] == pytest.approx(0.2 + 0.6 * 29 / 2999)
    assert row["contrast_ratio"] == pytest.approx(0.6)


def test_summarize_means_every_number_and_skips_missing(gen):
    rows = [compare(_smooth(gen), _smooth(gen), _smooth(gen)) for _ in range(3)]
    rows[1]["contrast_ratio"] = None
    s = summarize(rows)
    assert s["count"] == 3 and s["border_band"] == appearance.BORDER_BAND
    assert s["contrast_ratio"] == pytest.approx((rows[0]["contrast_ratio"] + rows[2]["contrast_ratio"]) / 2)
    assert s["output"]["saturation"] == pytest.approx(sum(r["output"]["saturation"] for r in rows) / 3)


def test_bad_shapes_are_clear():
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        appearance.measure(torch.zeros(1, 3, 20, 20))
    with pytest.raises(ValueError, match="interior"):
        appearance.border_frame(torch.zeros(3, 8, 20))


def test_grid_peak_is_the_nyquist_dft_bin_and_ignores_incoherent_texture(gen):
    ref = _smooth(gen)
    i, j = torch.meshgrid(torch.arange(64), torch.arange(48), indexing="ij")
    board = ((-1.0) ** (i + j)).expand(3, -1, -1)
    out = ref + 0.02 * board
    lum = appearance.luminance(out)
    dft = torch.fft.fft2(lum)[32, 24].abs() / lum.numel()  # the (H/2, W/2) bin, per pixel
    assert appearance.grid_peak(out) == pytest.approx(float(dft), abs=1e-9)
    assert appearance.grid_peak(out) == pytest.approx(0.02, abs=1e-3)
    signs = torch.where(torch.rand(32, 24, generator=gen) < 0.5, -1.0, 1.0)  # a random phase per 2x2 block
    signs = signs.repeat_interleave(2, 0).repeat_interleave(2, 1)
    noisy = ref + 0.02 * board * signs.expand(3, -1, -1)
    assert appearance.grid_energy(noisy) == pytest.approx(0.02, abs=1e-3)  # locally as strong
    assert appearance.grid_peak(noisy) < 0.003  # but it has no one phase
    row = compare(out, ref, noisy)
    assert row["grid_peak_ratio"] > 10 and row["grid_peak_vs_input"] > 5
