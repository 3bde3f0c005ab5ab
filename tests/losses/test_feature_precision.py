"""bf16_features: only the VGG and LPIPS terms change precision, and only inside the context."""

from __future__ import annotations

import torch

from hadamard_restore.losses.feature_precision import bf16_features, feature_autocast
from hadamard_restore.losses.loss_weights import LOSS_NAMES
from hadamard_restore.losses.mix import LossMix


def _terms(mix, x, y):
    return {k: v.detach() for k, v in mix(x, y)[1].items()}


def test_feature_terms_bf16_inside_pixel_terms_untouched(tiny_features, random_lpips, gen, odd_pair):
    x, y = odd_pair
    mix = LossMix(vgg_features=tiny_features, lpips_model=random_lpips, generator=gen)
    fp32 = _terms(mix, x, y)
    with bf16_features():
        bf = _terms(mix, x, y)
    after = _terms(mix, x, y)
    for name in LOSS_NAMES:
        assert bf[name].dtype == torch.float32, name
        assert torch.equal(after[name], fp32[name]), f"{name}: the context leaked"
        if name in ("vgg", "lpips"):
            rel = float((bf[name] - fp32[name]).abs() / fp32[name].abs())
            assert 0 < rel < 0.05, f"{name}: bf16 relative change {rel}"  # computed in bf16, and close
        else:
            assert torch.equal(bf[name], fp32[name]), f"{name}: a pixel term changed precision"


def test_gradient_to_the_output_survives_bf16(tiny_features, random_lpips, gen, odd_pair):
    x, y = odd_pair
    mix = LossMix(
        weights=[0, 0, 0, 0, 1, 1, 0, 0], vgg_features=tiny_features, lpips_model=random_lpips, trainable=False
    )
    grads = []
    for enabled in (False, True):
        xi = x.clone().requires_grad_(True)
        with bf16_features(enabled):
            mix(xi, y)[0].backward()
        grads.append(xi.grad)
    assert grads[1].dtype == torch.float32 and torch.isfinite(grads[1]).all()
    cos = torch.nn.functional.cosine_similarity(grads[0].flatten(), grads[1].flatten(), dim=0)
    assert cos > 0.95


def test_autocast_off_by_default_and_nests():
    with feature_autocast("cpu"):
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.float32
    with bf16_features():
        with bf16_features(False):
            assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.float32
            with feature_autocast("cpu"):
                assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.float32
        with feature_autocast("cpu"):
            assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.bfloat16
