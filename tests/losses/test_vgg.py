"""Layer naming, candidate groups, taps, relaxed/discrete VGG loss, gradients, real weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from hadamard_restore.errors import LossWeightsError
from hadamard_restore.losses import vgg as V
from hadamard_restore.losses.preprocess import imagenet_normalize
from tests.losses.helpers import make_tiny_features


def test_names_match_torchvision_indices():
    v19 = V.backbone_layer_names("vgg19")
    assert v19 == V.layer_names(make_layers(cfgs["E"]))
    # The paper's LOL choice [1, 6, 11, 22] and UIE choice [3, 8, 15, 21] on VGG19.
    assert [v19[i] for i in (1, 6, 11, 22)] == ["relu1_1", "relu2_1", "relu3_1", "relu4_2"]
    assert [v19[i] for i in (3, 8, 15, 21)] == ["relu1_2", "relu2_2", "relu3_3", "conv4_2"]
    assert V.backbone_layer_names("vgg16") == V.layer_names(make_layers(cfgs["D"]))


def test_candidate_groups_are_post_relu_maps():
    g16 = V.candidate_groups(V.backbone_layer_names("vgg16"))
    assert g16 == [
        ["relu1_1", "relu1_2"],
        ["relu2_1", "relu2_2"],
        ["relu3_1", "relu3_2", "relu3_3"],
        ["relu4_1", "relu4_2", "relu4_3"],
    ]
    g19 = V.candidate_groups(V.backbone_layer_names("vgg19"))
    assert [len(g) for g in g19] == [2, 2, 4, 4]


def test_check_layers_explains_missing_layer():
    g16 = V.candidate_groups(V.backbone_layer_names("vgg16"))
    assert V.check_layers(["relu1_2", "relu2_2", "relu3_3", "relu4_2"], g16, "vgg16")
    with pytest.raises(LossWeightsError, match="relu3_4.*group 3 in vgg16"):
        V.check_layers(["relu1_1", "relu2_1", "relu3_4", "relu4_2"], g16, "vgg16")
    with pytest.raises(LossWeightsError, match="one per group"):
        V.check_layers(["relu1_1"], g16, "vgg16")
    with pytest.raises(LossWeightsError, match="unknown VGG backbone"):
        V.backbone_layer_names("vgg11")


def test_taps_are_the_post_relu_maps_and_stop_early(gen):
    feats = make_tiny_features(1)
    calls = []
    feats.append(nn.Identity())
    feats[-1].register_forward_hook(lambda *a: calls.append(1))  # after the deepest tap
    taps = V.VGGTaps(feats, ["relu1_2", "relu2_1"])
    x = torch.rand(2, 3, 13, 11, generator=gen)
    out = taps(x)
    h = imagenet_normalize(x)
    for i in range(4):
        h = feats[i](h)
    assert torch.equal(out["relu1_2"], h)
    h = feats[6](feats[5](feats[4](h)))
    assert torch.equal(out["relu2_1"], h)
    assert calls == []
    assert set(out) == {"relu1_2", "relu2_1"}


def test_relaxed_and_discrete_losses_match_manual_sums(gen):
    feats = make_tiny_features(1)
    loss = V.VGGLoss(features=feats, generator=gen)
    x, y = torch.rand(2, 2, 3, 13, 11, generator=gen)
    fx, fy = loss.taps(x), loss.taps(y)
    manual = sum(
        (torch.softmax(gamma, 0)[j] * (fx[n] - fy[n]).abs().mean())
        for cands, gamma in zip(loss.groups, loss.logits)
        for j, n in enumerate(cands)
    )
    assert torch.allclose(loss(x, y), manual)
    chosen = ["relu1_1", "relu2_2", "relu3_3", "relu4_1"]
    discrete = V.VGGLoss(chosen, features=feats)
    assert torch.allclose(discrete(x, y), sum((fx[n] - fy[n]).abs().mean() for n in chosen))
    assert discrete(x, x.clone()).item() == 0.0 and loss(x, x.clone()).item() == 0.0


def test_gradcheck_relaxed_vgg_wrt_image_and_logits(gen):
    feats = make_tiny_features(1, torch.float64)
    loss = V.VGGLoss(features=feats, generator=gen).double()
    x = torch.rand(1, 3, 9, 10, generator=gen, dtype=torch.float64).requires_grad_()
    y = torch.rand(1, 3, 9, 10, generator=gen, dtype=torch.float64)
    logits = [g.detach().clone().requires_grad_() for g in loss.logits]

    def f(img, *gammas):
        return V.vgg_loss(img, y, loss.taps, V.relaxed_layer_weights(loss.groups, gammas))

    assert torch.autograd.gradcheck(f, (x, *logits))


def test_backbone_stays_frozen_and_logits_get_gradients(gen):
    loss = V.VGGLoss(features=make_tiny_features(1), generator=gen)
    x = torch.rand(1, 3, 12, 12, generator=gen, requires_grad=True)
    loss(x, torch.rand(1, 3, 12, 12, generator=gen)).backward()
    assert all(g.grad is not None and torch.isfinite(g.grad).all() for g in loss.logits)
    assert all(p.grad is None for p in loss.taps.parameters())
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.weights
def test_provisioned_vgg16_differs_from_random_weights(provisioned_weights, odd_pair):
    from hadamard_restore.backbones import weights

    x, y = odd_pair
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_2"]
    real = V.VGGLoss(layers, features=weights.vgg_features("vgg16"))
    torch.manual_seed(0)
    rand_feats = make_layers(cfgs["D"])
    rand = V.VGGLoss(layers, features=rand_feats)
    a, b = real(x, y).item(), rand(x, y).item()
    assert a > 0 and b > 0 and abs(a - b) > 1e-3 * max(a, b)
    # The provisioned stack really differs from a fresh random one.
    assert not torch.equal(weights.vgg_features("vgg16")[0].weight, rand_feats[0].weight)
