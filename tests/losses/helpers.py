"""Test helpers: a tiny VGG-shaped stack and a call-counting LPIPS wrapper."""

from __future__ import annotations

import torch
from torch import nn


def make_tiny_features(seed: int = 0, dtype=torch.float32) -> nn.Sequential:
    """A 4-block VGG16-shaped stack (2, 2, 3, 3 convs; 4-6 channels), frozen, seeded."""
    gen = torch.Generator().manual_seed(seed)
    layers, c_in = [], 3
    for block, (n, c) in enumerate([(2, 4), (2, 5), (3, 6), (3, 6)]):
        for _ in range(n):
            conv = nn.Conv2d(c_in, c, 3, padding=1)
            with torch.no_grad():
                conv.weight.copy_(0.5 * torch.randn(conv.weight.shape, generator=gen))
                conv.bias.copy_(0.1 * torch.randn(conv.bias.shape, generator=gen))
            layers += [conv, nn.ReLU(inplace=True)]
            c_in = c
        if block < 3:
            layers.append(nn.MaxPool2d(2, 2))
    feats = nn.Sequential(*layers).to(dtype)
    for p in feats.parameters():
        p.requires_grad_(False)
    return feats


class CountingLPIPS(nn.Module):
    """Wraps an LPIPS model and counts its calls."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner, self.calls = inner, 0

    def forward(self, x, y, normalize=False):
        self.calls += 1
        return self.inner(x, y, normalize=normalize)
