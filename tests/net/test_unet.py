"""The small U-Net: same contract as the Hadamard network."""

import pytest
import torch

from hadamard_restore.net.unet import UNet


def test_shapes_for_odd_sizes_and_gradients(gen):
    net = UNet(base=4, depth=2)
    for size in [(37, 31), (5, 3)]:
        assert net(torch.rand(1, 3, *size, generator=gen)).shape == (1, 3, *size)
    net(torch.rand(2, 3, 37, 31, generator=gen)).square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.weights())


def test_seeded_and_parameter_count():
    a, b = UNet(4, 1, torch.Generator().manual_seed(1)), UNet(4, 1, torch.Generator().manual_seed(1))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    # depth 1, base 4: down (3->4, 4->4), bottleneck (4->8, 8->8), up T(8->4, k2), merge (8->4, 4->4), out 1x1
    conv = lambda i, o, k=3: i * o * k * k + o  # noqa: E731
    expected = (
        conv(3, 4) + conv(4, 4) + conv(4, 8) + conv(8, 8) + conv(8, 4, 2) + conv(8, 4) + conv(4, 4) + conv(4, 3, 1)
    )
    assert sum(p.numel() for p in a.parameters()) == expected


def test_bad_input():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        UNet(4, 1)(torch.zeros(1, 1, 8, 8))
