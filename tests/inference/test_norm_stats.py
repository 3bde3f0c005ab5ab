"""Recorded instance-norm statistics: replaying them is exact, mismatches are caught."""

from __future__ import annotations

import pytest
import torch

from hadamard_restore.inference.norm_stats import has_instance_norm, record_norm_stats, replay_norm_stats
from hadamard_restore.net.hnu import InstanceNorm
from hadamard_restore.net.network import HadamardNet


@pytest.fixture(scope="module")
def net():
    return HadamardNet("paper-lol", channels=8, generator=torch.Generator().manual_seed(5)).eval()


def test_replaying_own_statistics_reproduces_the_forward(net, gen):
    x = torch.rand(1, 3, 37, 31, generator=gen)
    with torch.no_grad():
        plain = net(x)
        stats = record_norm_stats(net, x)
        assert len(stats) == 7 * 8  # 7 HNUs, 8 normalised layers each
        mean, var = stats[0]
        assert mean.shape == var.shape == (1, 8, 1, 1) and bool((var >= 0).all())
        with replay_norm_stats(net, stats):
            replayed = net(x)
            replayed_twice = net(x)  # the call counter restarts for every forward
    # the replay applies the recorded mean/var by the explicit formula, the plain forward PyTorch's
    # fused instance norm: float32 rounding apart, the same numbers
    assert torch.allclose(replayed, plain, atol=2e-5) and torch.equal(replayed, replayed_twice)
    assert all("forward" not in vars(m) for m in net.modules() if isinstance(m, InstanceNorm))


def test_replayed_statistics_are_used(net, gen):
    x = torch.rand(1, 3, 37, 31, generator=gen)
    other = torch.rand(1, 3, 29, 41, generator=gen) * 0.2
    with torch.no_grad():
        with replay_norm_stats(net, record_norm_stats(net, other)):
            foreign = net(x)
        # the stats of a tile with the image's own statistics equal the one-pass ones
        assert (foreign - net(x)).abs().max() > 1e-3


def test_mismatched_statistics_are_refused(net, gen):
    x = torch.rand(1, 3, 21, 23, generator=gen)
    with torch.no_grad():
        stats = record_norm_stats(net, x)
        with pytest.raises(RuntimeError, match="more than the 55 instance-norm calls"):
            with replay_norm_stats(net, stats[:-1]):
                net(x)
        with pytest.raises(RuntimeError, match="made 56 instance-norm calls, 57 were recorded"):
            with replay_norm_stats(net, stats + stats[:1]):
                net(x)
    assert all("forward" not in vars(m) for m in net.modules() if isinstance(m, InstanceNorm))


def test_has_instance_norm():
    assert has_instance_norm(HadamardNet("all-1c", channels=4))
    assert not has_instance_norm(HadamardNet("all-1c", channels=4, norm="none"))
