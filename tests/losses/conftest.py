"""Offline stand-ins for the pretrained networks: a tiny VGG-shaped stack and a random LPIPS."""

from __future__ import annotations

import warnings

import lpips
import pytest
import torch
from torch import nn

from tests.losses.helpers import make_tiny_features


@pytest.fixture
def tiny_features() -> nn.Sequential:
    return make_tiny_features()


@pytest.fixture(scope="session")
def random_lpips() -> nn.Module:
    """LPIPS-alex with random trunk and heads (no weights needed), frozen, eval."""
    state = torch.random.get_rng_state()
    torch.manual_seed(0)  # lpips draws its initialisation from the global RNG
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's deprecated `pretrained=` inside lpips
        model = lpips.LPIPS(pretrained=False, net="alex", pnet_rand=True, verbose=False).eval()
    torch.random.set_rng_state(state)
    for p in model.parameters():
        p.requires_grad_(False)
    return model
