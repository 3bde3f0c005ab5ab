"""Images smaller than LPIPS's backbone needs are still scored (PSNR, SSIM) with LPIPS left empty,
instead of crashing the whole evaluation; the library call says what size it needs."""

from __future__ import annotations

import pytest
import torch

from hadamard_restore.data.io import write_image
from hadamard_restore.evaluation.evaluate import evaluate
from hadamard_restore.metrics.perceptual import MIN_SIDE, lpips


@pytest.mark.weights
def test_a_20px_pair_gets_psnr_and_ssim_but_no_lpips(tiny_run, tmp_path, provisioned_weights):
    gen = torch.Generator().manual_seed(3)
    for i, (h, w) in enumerate([(20, 24), (40, 36)]):  # below and above AlexNet's 31 px
        ref = torch.rand(3, h, w, generator=gen)
        write_image(tmp_path / "d" / "reference" / f"p{i}.png", ref)
        write_image(tmp_path / "d" / "degraded" / f"p{i}.png", ref * 0.3)
    result = evaluate(tiny_run / "model.pt", tmp_path / "d", out=tmp_path / "e", device="cpu", save_outputs=False)
    rows = {r["name"]: r for r in result["per_image"]}
    assert rows["p0.png"]["psnr"] is not None and rows["p0.png"]["ssim"] is not None
    assert rows["p0.png"]["lpips"] is None and rows["p1.png"]["lpips"] is not None
    assert result["mean"]["lpips"] == pytest.approx(rows["p1.png"]["lpips"])  # the mean over images that have it


@pytest.mark.weights
@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_lpips_says_the_size_its_backbone_needs(net, provisioned_weights):
    side = MIN_SIDE[net]
    ok = torch.rand(1, 3, side, side)
    assert lpips(ok, ok.flip(-1), net=net).shape == (1,)
    small = torch.rand(1, 3, side - 1, side + 5)
    with pytest.raises(ValueError, match=f"at least {side}x{side}"):
        lpips(small, small, net=net)
