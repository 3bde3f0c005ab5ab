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


def test_bf16_copies_give_autocasts_numbers_and_keep_the_float32_nets(tiny_features, random_lpips, gen, odd_pair):
    """The feature nets run as copies with bfloat16 parameters (cast once, not at every call):
    the same rounded weights autocast would use, so the same values and gradients, bit for bit."""
    x, y = odd_pair
    mix = LossMix(weights=[0, 0, 0, 0, 1, 1, 0, 0], vgg_features=tiny_features, lpips_model=random_lpips)

    def run(copies: bool):
        xi = x.clone().requires_grad_(True)
        mix._nets.bf16.clear()
        if not copies:  # autocast alone: hand back the float32 nets themselves
            mix._bf16 = lambda name, net, like: net  # type: ignore[method-assign]
        try:
            with bf16_features():
                total, terms = mix(xi, y)
                total.backward()
        finally:
            vars(mix).pop("_bf16", None)
        return {k: v.detach() for k, v in terms.items()}, xi.grad

    (t_copy, g_copy), (t_auto, g_auto) = run(True), run(False)
    assert torch.equal(t_copy["vgg"], t_auto["vgg"]) and torch.equal(t_copy["lpips"], t_auto["lpips"])
    assert torch.equal(g_copy, g_auto)
    run(True)
    assert {p.dtype for n in ("vgg", "lpips") for p in mix._nets.bf16[n].parameters()} == {torch.bfloat16}
    assert {p.dtype for p in tiny_features.parameters()} == {torch.float32}  # the shared nets stay float32
    assert {b.dtype for b in mix._nets.bf16["lpips"].buffers()} <= {torch.float32}  # buffers keep precision
