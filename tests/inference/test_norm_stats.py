"""Recorded instance-norm statistics: replaying them is exact, mismatches are caught."""

from __future__ import annotations

import pytest
import torch

from hadamard_restore.inference.norm_stats import has_image_stats, record_norm_stats, replay_norm_stats
from hadamard_restore.inference.tiling import tiled_apply
from hadamard_restore.net.genotype import Genotype, load_genotype
from hadamard_restore.net.hnu import InstanceNorm
from hadamard_restore.net.network import HadamardNet
from hadamard_restore.net.ops import GlobalRes
from hadamard_restore.net.primitives import SPACES


@pytest.fixture(scope="module")
def net():
    return HadamardNet(load_genotype("paper-lol"), channels=8, generator=torch.Generator().manual_seed(5)).eval()


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
        with pytest.raises(RuntimeError, match="more than the 55 statistics calls"):
            with replay_norm_stats(net, stats[:-1]):
                net(x)
        with pytest.raises(
            RuntimeError, match=r"made 56 statistics calls \(instance norms, spatial means\), 57 were recorded"
        ):
            with replay_norm_stats(net, stats + stats[:1]):
                net(x)
    assert all("forward" not in vars(m) for m in net.modules() if isinstance(m, InstanceNorm))


def test_has_image_stats():
    assert has_image_stats(HadamardNet(load_genotype("all-1c"), channels=4))
    assert not has_image_stats(HadamardNet(load_genotype("all-1c"), channels=4, norm="none"))
    assert has_image_stats(HadamardNet(_global_genotype(), channels=4, norm="none"))  # the global op's means


def _global_genotype():
    """All-1c with the global op in four HNU layers (the ``global`` space)."""
    layers = dict(load_genotype("all-1c").layers)
    for label in ("hnu1.ru0", "hnu2.rv1", "hnu4.ru3", "hnu7.rv3"):
        layers[label] = "globalres_1x1"
    primitives = {k: list(v) for k, v in SPACES["global"].items()}
    return Genotype.from_dict({"num_hnu": 7, "layers": layers, "primitives": primitives})


@pytest.mark.parametrize("norm", ["instance", "none"])
def test_tiling_a_global_op_network_with_whole_image_statistics_is_exact(norm, gen):
    net = HadamardNet(_global_genotype(), channels=4, norm=norm, generator=torch.Generator().manual_seed(2)).eval()
    with torch.no_grad():  # steep gates: the whole-image context matters visibly at this toy size
        for m in net.modules():
            if isinstance(m, GlobalRes):
                m.gate.weight.mul_(50.0)
    x = torch.rand(1, 3, 64, 56, generator=gen) * torch.linspace(0.02, 1.0, 56) ** 2  # dark left, bright right
    with torch.no_grad():
        whole = net(x)
        stats = record_norm_stats(net, x)
        assert sum(len(s) == 1 for s in stats) == 4 and sum(len(s) == 2 for s in stats) == (
            56 if norm == "instance" else 0
        )
        with replay_norm_stats(net, stats):
            tiled = tiled_apply(net, x, tile=32, overlap=16)
        per_tile = tiled_apply(net, x, tile=32, overlap=16)
    # all-1c is pointwise apart from the 2x2 down/up-sampling, so only the statistics could differ
    assert (tiled - whole).abs().max() < 1e-4
    assert (per_tile - whole).abs().max() > 1e-3  # each tile's own means and norms: not the whole image's


def test_a_norm_recorded_where_a_mean_is_replayed_is_refused(gen):
    net = HadamardNet(_global_genotype(), channels=4).eval()
    x = torch.rand(1, 3, 16, 16, generator=gen)
    with torch.no_grad():
        stats = record_norm_stats(net, x)
        assert len(stats[0]) == 1  # hnu1.ru0's mean comes before its norm
        with pytest.raises(RuntimeError, match="statistics call 0 is a spatial mean but a norm was recorded"):
            with replay_norm_stats(net, stats[1:] + stats[:1]):
                net(x)
