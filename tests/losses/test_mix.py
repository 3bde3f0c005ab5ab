"""LossMix: the weighted total, gradients of beta and logits, projection, skipping, discretisation."""

from __future__ import annotations

import copy

import pytest
import torch

from hadamard_restore.errors import LossWeightsError
from hadamard_restore.losses import functional as LF
from hadamard_restore.losses import vgg as V
from hadamard_restore.losses.loss_weights import LOSS_NAMES
from hadamard_restore.losses.mix import LossMix
from tests.losses.helpers import CountingLPIPS


def _mix(tiny_features, lpips_model, gen, **kw):
    return LossMix(vgg_features=tiny_features, lpips_model=lpips_model, generator=gen, **kw)


def test_defaults_are_the_search_start(tiny_features, random_lpips, gen):
    mix = _mix(tiny_features, random_lpips, gen)
    assert torch.equal(mix.beta.detach(), torch.ones(8))
    assert [p.numel() for p in mix.upper_parameters()] == [8, 2, 2, 3, 3]
    assert all(p.abs().max() < 1e-2 for p in mix.vgg_logits)  # 1e-3 * N(0, 1)
    assert set(mix.state_dict()) == {"beta", "vgg_logits.0", "vgg_logits.1", "vgg_logits.2", "vgg_logits.3"}
    assert LossMix(backbone="vgg19").groups[3] == ["relu4_1", "relu4_2", "relu4_3", "relu4_4"]


def test_total_is_weighted_sum_of_functional_terms(tiny_features, random_lpips, gen, odd_pair):
    x, y = odd_pair
    w = [0.5, 2.0, 0.3, 1.5, 0.7, 1.1, 0.2, 0.9]
    mix = _mix(tiny_features, random_lpips, gen, weights=w)
    total, terms = mix(x, y)
    taps = V.VGGTaps(tiny_features, [n for g in mix.groups for n in g])
    expected = {
        "l1": LF.l1(x, y),
        "l2": LF.l2(x, y),
        "color": LF.color_angle(x, y),
        "ssim": LF.ssim_loss(x, y),
        "vgg": V.vgg_loss(x, y, taps, V.relaxed_layer_weights(mix.groups, list(mix.vgg_logits))),
        "lpips": LF.lpips_loss(x, y, random_lpips),
        "tv": LF.tv(x),
        "laplacian": LF.laplacian(x),
    }
    assert list(terms) == list(LOSS_NAMES)
    for name in LOSS_NAMES:
        assert torch.allclose(terms[name], expected[name]), name
    assert torch.allclose(total, sum(wi * expected[n] for wi, n in zip(w, LOSS_NAMES)))


def test_every_upper_variable_gets_its_gradient(tiny_features, random_lpips, gen, odd_pair):
    x, y = odd_pair
    mix = _mix(tiny_features, random_lpips, gen)
    total, terms = mix(x, y)
    total.backward()
    # d total / d beta_i is the value of loss i.
    assert torch.allclose(mix.beta.grad, torch.stack([terms[n].detach() for n in LOSS_NAMES]))
    for g in mix.vgg_logits:
        assert torch.isfinite(g.grad).all() and g.grad.abs().sum() > 0


def test_projection_keeps_beta_nonnegative_after_adam_step(tiny_features, random_lpips, gen, odd_pair):
    x, y = odd_pair
    mix = _mix(tiny_features, random_lpips, gen, weights=[0.004, 1, 1, 1, 1, 1, 1, 1])
    opt = torch.optim.Adam(mix.upper_parameters(), lr=0.01, betas=(0.5, 0.999))
    total, _ = mix(x, y)
    total.backward()  # Adam's first step moves each beta by lr against its gradient
    grad_sign = mix.beta.grad.sign().clone()
    opt.step()
    assert mix.beta[0].item() < 0  # the update crossed zero ...
    mix.project_()
    assert mix.beta[0].item() == 0.0  # ... and the projection resets it to 0
    assert torch.allclose(mix.beta[1:].detach(), 1 - 0.01 * grad_sign[1:], atol=1e-6)
    assert (mix.beta >= 0).all()


def test_zero_weight_terms_are_not_computed(odd_pair, random_lpips, monkeypatch):
    x, y = odd_pair

    def no_weights(*_a, **_k):
        raise AssertionError("the VGG backbone must not be loaded for a zero-weight term")

    monkeypatch.setattr(V, "load_features", no_weights)
    monkeypatch.setattr("hadamard_restore.losses.mix.load_features", no_weights)
    counting = CountingLPIPS(random_lpips)
    w = {"l1": 1.0, "ssim": 2.0, "lpips": 0.0, "vgg": 0.0}
    fixed = LossMix(w, ["relu1_1", "relu2_1", "relu3_1", "relu4_2"], lpips_model=counting, trainable=False)
    total, terms = fixed(x, y)
    assert set(terms) == {"l1", "ssim"} and counting.calls == 0
    assert torch.allclose(total, LF.l1(x, y) + 2 * LF.ssim_loss(x, y))
    # A trainable mix skips zero terms under no_grad ...
    search = LossMix(w, ["relu1_1", "relu2_1", "relu3_1", "relu4_2"], lpips_model=counting)
    with torch.no_grad():
        _, terms = search(x, y)
    assert "lpips" not in terms and counting.calls == 0
    search2 = LossMix(w, ["relu1_1", "relu2_1", "relu3_1", "relu4_2"], lpips_model=counting)
    _, terms = search2(x, y, skip_zero=True)  # ... and when the caller asks (lower-level steps)
    assert "lpips" not in terms and counting.calls == 0


def test_zero_weight_term_computed_while_searching(tiny_features, random_lpips, odd_pair):
    """While beta is differentiated, a zero term is computed (authors' code) and keeps a gradient."""
    x, y = odd_pair
    counting = CountingLPIPS(random_lpips)
    mix = LossMix({"l1": 1.0, "lpips": 0.0}, vgg_features=tiny_features, lpips_model=counting)
    total, terms = mix(x, y)
    assert counting.calls == 1 and "lpips" in terms
    total.backward()
    assert mix.beta.grad[LOSS_NAMES.index("lpips")] == terms["lpips"].detach()


def test_fixed_takes_argmax_layers_and_constant_weights(tiny_features, random_lpips, gen, odd_pair):
    x, y = odd_pair
    mix = _mix(tiny_features, random_lpips, gen, weights=[1.234, 1, 1, 1, 1, 1, 0, 0])
    with torch.no_grad():
        for g, k in zip(mix.vgg_logits, [1, 0, 2, 0]):
            g.zero_()
            g[k] = 1.0
    fixed = mix.fixed(decimals=2)
    assert fixed.vgg_layers == ["relu1_2", "relu2_1", "relu3_3", "relu4_1"] == mix.selected_layers()
    assert fixed.beta[0].item() == pytest.approx(1.23) and not fixed.beta.requires_grad
    assert fixed.upper_parameters() == [fixed.beta] and not fixed.relaxed
    _, terms = fixed(x, y)
    discrete = V.VGGLoss(fixed.vgg_layers, features=tiny_features)
    assert torch.allclose(terms["vgg"], discrete(x, y))  # unweighted sum of the chosen layers
    assert set(terms) == set(LOSS_NAMES) - {"tv", "laplacian"}


def test_float64_gradcheck_of_the_mix_wrt_output_and_beta(random_lpips, gen):
    from tests.losses.helpers import make_tiny_features

    feats = make_tiny_features(2, torch.float64)
    lp = copy.deepcopy(random_lpips)  # the mix moves it to float64; the fixture stays float32
    mix = LossMix(vgg_features=feats, lpips_model=lp, generator=gen).double()
    x = torch.rand(1, 3, 32, 33, generator=gen, dtype=torch.float64).requires_grad_()
    y = torch.rand(1, 3, 32, 33, generator=gen, dtype=torch.float64)
    beta = mix.beta.detach().clone().requires_grad_()

    def f(img, b):
        terms = {n: mix.term(n, img, y) for n in LOSS_NAMES}
        return sum(b[i] * terms[n] for i, n in enumerate(LOSS_NAMES))

    assert torch.autograd.gradcheck(f, (x, beta), fast_mode=True)


def test_bad_arguments_are_explained(tiny_features):
    with pytest.raises(LossWeightsError, match=">= 0"):
        LossMix([1, 1, 1, -0.5, 1, 1, 1, 1])
    with pytest.raises(LossWeightsError, match="expected 8 weights"):
        LossMix([1.0, 2.0])
    with pytest.raises(LossWeightsError, match="unknown loss names"):
        LossMix({"l3": 1.0})
    with pytest.raises(LossWeightsError, match="relu3_4.*vgg16"):
        LossMix(vgg_layers=["relu1_1", "relu2_1", "relu3_4", "relu4_2"])
    with pytest.raises(ValueError, match="differ in shape"):
        LossMix({"l1": 1.0}, vgg_features=tiny_features)(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))


@pytest.mark.weights
def test_paper_lol_mix_with_provisioned_networks(provisioned_weights, odd_pair):
    from hadamard_restore.losses.loss_weights import load_loss_weights

    x, y = odd_pair
    mix = LossMix.from_weights(load_loss_weights("paper-lol"), backbone="vgg16", trainable=False)
    total, terms = mix(x, y)
    assert set(terms) == set(LOSS_NAMES) - {"tv", "laplacian"}
    assert torch.isfinite(total) and all(v.item() > 0 for v in terms.values())
    assert torch.allclose(total, sum(mix.beta[LOSS_NAMES.index(n)] * v for n, v in terms.items()))
    assert mix(y, y.clone())[1]["vgg"].item() == 0.0 and mix(y, y.clone())[1]["lpips"].item() == 0.0
    assert mix.to_dict()["vgg"]["layers"] == ["relu1_1", "relu2_1", "relu3_1", "relu4_2"]
