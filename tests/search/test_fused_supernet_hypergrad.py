"""The stage-2 hypergradient of the fused supernet equals the candidate-by-candidate one (both modes)."""

import pytest
import torch
from torch.func import functional_call

from hadamard_restore.net.mixed import candidate_by_candidate
from hadamard_restore.net.supernet import SuperNet
from hadamard_restore.search.hypergrad import unrolled_hypergradient


@pytest.mark.parametrize("mode", ["finite_difference", "exact"])
def test_fused_and_unfused_supernets_give_one_hypergradient(mode, gen):
    net = SuperNet(channels=4, num_hnu=1, norm="none", generator=torch.Generator().manual_seed(5)).double()
    for a in net.arch.values():
        a.data.normal_(0, 0.5, generator=gen)
    x, y, xv, yv = (torch.rand(1, 3, 12, 12, generator=gen, dtype=torch.double) for _ in range(4))
    weights = dict(net.named_weights())

    def train_loss(params):
        return (functional_call(net, params, (x,)) - y).square().mean()

    def upper_loss(params):
        return (functional_call(net, params, (xv,)) - yv).abs().mean()

    def hyper():
        return unrolled_hypergradient(
            weights, net.arch_parameters(), train_loss, upper_loss, lr=0.05, momentum=0.9, weight_decay=3e-4, mode=mode
        )

    fused = hyper()
    with candidate_by_candidate():
        ref = hyper()
    assert fused.upper_loss == pytest.approx(ref.upper_loss, rel=1e-12)
    assert any(float(g.abs().max()) > 0 for g in ref.grads)
    for a, b in zip(fused.grads, ref.grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-12)
