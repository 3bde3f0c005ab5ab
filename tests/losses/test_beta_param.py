"""The loss-weight parametrisations: softmax with a fixed total (closed form, gradients) and the
projected one refusing to collapse."""

from __future__ import annotations

import pytest
import torch

from hadamard_restore.errors import LossWeightsError
from hadamard_restore.losses.beta_param import (
    LossSearchCollapsedError,
    project_nonnegative_,
    softmax_init,
    softmax_weights,
)
from hadamard_restore.losses.loss_weights import LOSS_NAMES, LossWeights
from hadamard_restore.losses.mix import LossMix


def test_softmax_init_reproduces_the_start_and_fixes_the_total():
    values = [0.5, 2.0, 0.0, 1.5, 0.7, 1.1, 0.0, 0.9]
    logits, active, total = softmax_init(values)
    assert total == pytest.approx(sum(values))
    beta = softmax_weights(logits, active, total)
    assert torch.allclose(beta, torch.tensor(values), atol=1e-6)
    # any logits: weights sum to the total, inactive entries are exactly 0, active ones > 0
    z = torch.randn(8, generator=torch.Generator().manual_seed(3)) * 5
    b = softmax_weights(z, active, total)
    assert float(b.sum()) == pytest.approx(total, rel=1e-6)
    assert b[2] == 0 and b[6] == 0 and (b[active] > 0).all()
    with pytest.raises(LossWeightsError, match="at least one positive"):
        softmax_init([0.0] * 8)


def test_softmax_jacobian_closed_form_and_every_logit_gets_gradient():
    logits, active, total = softmax_init([1.0] * 8)
    z = (logits.double() + torch.linspace(-1, 1, 8, dtype=torch.float64)).requires_grad_()
    jac = torch.autograd.functional.jacobian(lambda t: softmax_weights(t, active, total), z)
    beta = softmax_weights(z, active, total).detach()
    closed = torch.diag(beta) - beta[:, None] * beta[None, :] / total  # dβ_i/dz_j = β_i(δ_ij − β_j/T)
    assert torch.allclose(jac, closed, atol=1e-12)
    c = torch.arange(1.0, 9.0, dtype=torch.float64)  # an objective Σ c_i β_i
    (g,) = torch.autograd.grad((c * softmax_weights(z, active, total)).sum(), z)
    assert torch.allclose(g, beta * (c - (c * beta).sum() / total), atol=1e-12)
    assert (g.abs() > 1e-6).all(), "every logit receives gradient"
    # a uniform push cannot change a fixed-total distribution: exactly zero gradient
    (g0,) = torch.autograd.grad(softmax_weights(z, active, total).sum(), z)
    assert g0.abs().max() < 1e-12


def test_softmax_mix_weights_terms_and_gradient(tiny_features, random_lpips, gen, odd_pair):
    x, y = odd_pair
    mix = LossMix(vgg_features=tiny_features, lpips_model=random_lpips, generator=gen, beta_param="softmax")
    assert torch.allclose(mix.beta, torch.ones(8)) and mix.beta_total == 8.0
    first = mix.upper_parameters()[0]
    assert first is mix.beta_logits and "beta" not in dict(mix.named_parameters())
    total, terms = mix(x, y)
    assert list(terms) == list(LOSS_NAMES)  # every term computed (no weight is ever 0)
    t = torch.stack([terms[n].detach() for n in LOSS_NAMES])
    assert torch.allclose(total, (mix.beta.detach() * t).sum())
    total.backward()
    beta = mix.beta.detach()
    assert torch.allclose(first.grad, beta * (t - (beta * t).sum() / 8.0), atol=1e-5)
    assert (first.grad.abs() > 0).all()
    opt = torch.optim.Adam(mix.upper_parameters(), lr=0.5)
    for _ in range(5):
        opt.step()
        mix.project_()  # a no-op: nothing to project
    assert float(mix.beta.detach().sum()) == pytest.approx(8.0, rel=1e-5) and (mix.beta > 0).all()
    lw = mix.to_weights(name="s")
    assert lw.beta_param == "softmax" and sum(lw.weights.values()) == pytest.approx(8.0, rel=1e-5)
    back = LossWeights.from_dict(lw.to_dict())
    assert back.beta_param == "softmax" and back.weights == pytest.approx(lw.weights)
    fixed = mix.fixed()  # the discrete mix trains with constant weights
    assert fixed.beta_param == "projected" and torch.allclose(fixed.beta, mix.beta.detach())
    assert fixed.to_weights().beta_param is None  # not a search result


def test_projected_refuses_to_zero_every_weight(tiny_features, random_lpips, gen):
    mix = LossMix(vgg_features=tiny_features, lpips_model=random_lpips, generator=gen)
    assert mix.to_weights().beta_param == "projected"
    with torch.no_grad():
        mix.beta.copy_(torch.tensor([-0.1, 0.2, -1, -1, -1, -1, -1, -1.0]))
    mix.project_()  # one positive weight left: ordinary projection
    assert mix.beta.detach().tolist() == pytest.approx([0, 0.2, 0, 0, 0, 0, 0, 0])
    with torch.no_grad():
        mix.beta.copy_(torch.tensor([-0.1, -0.2, 0, 0, 0, 0, 0, 0.0]))
    with pytest.raises(LossSearchCollapsedError, match="search.beta_param=softmax") as exc:
        mix.project_()
    assert "-0.1, -0.2" in str(exc.value)
    assert mix.beta[0].item() == pytest.approx(-0.1)  # left as it was, for inspection
    with pytest.raises(LossSearchCollapsedError):
        project_nonnegative_(torch.zeros(8))


def test_unknown_parametrisation_is_refused():
    with pytest.raises(LossWeightsError, match="projected, softmax"):
        LossMix(beta_param="simplex")
    bad = LossWeights({n: 1.0 for n in LOSS_NAMES}).to_dict() | {"beta_param": "simplex"}
    with pytest.raises(LossWeightsError, match="beta_param"):
        LossWeights.from_dict(bad)
