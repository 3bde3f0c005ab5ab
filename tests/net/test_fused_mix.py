"""The fused mixed op is the candidate-by-candidate sum: values, gradients, kernels, call count."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hadamard_restore.net.fused_mix import embed, plan
from hadamard_restore.net.mixed import MixedOp, candidate_by_candidate
from hadamard_restore.net.primitives import FCM_PRIMITIVES, HNU_PRIMITIVES, SPACES
from hadamard_restore.net.supernet import SuperNet


def _grads(module, x, w):
    out = module(x, w)
    loss = (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum()
    return out, torch.autograd.grad(loss, [x, w, *module.parameters()])


@pytest.mark.parametrize(
    ("prims", "c_in", "c_out"),
    [
        (HNU_PRIMITIVES, 5, 5),
        (FCM_PRIMITIVES, 5, 5),
        (FCM_PRIMITIVES, 3, 6),
        (FCM_PRIMITIVES, 6, 3),
        (SPACES["global"]["hnu"], 5, 5),
        (("globalres_1x1", "denseblocks_3x3"), 5, 5),
        (("globalres_1x1",), 5, 5),
    ],
)
def test_values_and_gradients_equal_the_candidate_sum(prims, c_in, c_out, gen):
    torch.manual_seed(3)
    m = MixedOp(prims, c_in, c_out).double()
    x = torch.randn(2, c_in, 11, 8, generator=gen, dtype=torch.double, requires_grad=True)
    w = torch.softmax(torch.randn(len(prims), generator=gen, dtype=torch.double), 0).requires_grad_()
    fused, g_fused = _grads(m, x, w)
    with candidate_by_candidate(m):
        ref, g_ref = _grads(m, x, w)
    torch.testing.assert_close(fused, ref, rtol=1e-12, atol=1e-12)
    for a, b in zip(g_fused, g_ref, strict=True):  # input, mixing weights and every candidate's weights
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_dilated_kernel_embeds_as_a_holed_5x5(gen):
    w = torch.randn(4, 3, 3, 3, generator=gen, dtype=torch.double)
    x = torch.randn(1, 3, 9, 10, generator=gen, dtype=torch.double)
    k = embed(w, 2, 5)
    assert k.shape == (4, 3, 5, 5)
    assert torch.count_nonzero(k[..., 1::2, :]) == 0 and torch.count_nonzero(k[..., :, 1::2]) == 0
    torch.testing.assert_close(F.conv2d(x, k, padding=2), F.conv2d(x, w, padding=2, dilation=2))
    torch.testing.assert_close(F.conv2d(x, embed(w[..., 1:2, 1:2], 1, 5), padding=2), F.conv2d(x, w[..., 1:2, 1:2]))


def test_an_hnu_layer_runs_five_convolutions_and_an_fcm_layer_one(monkeypatch, gen):
    calls = []
    conv2d = F.conv2d
    monkeypatch.setattr(F, "conv2d", lambda *a, **k: calls.append(a[1].shape) or conv2d(*a, **k))
    x = torch.randn(1, 4, 8, 8, generator=gen)
    MixedOp(HNU_PRIMITIVES, 4, 4)(x, torch.full((9,), 1 / 9))
    assert [tuple(s[-2:]) for s in calls] == [(5, 5), (1, 1), (1, 1), (3, 3), (3, 3)]
    calls.clear()
    MixedOp(FCM_PRIMITIVES, 4, 4)(x, torch.full((4,), 1 / 4))
    assert [tuple(s[-2:]) for s in calls] == [(5, 5)]
    calls.clear()
    MixedOp(SPACES["global"]["hnu"], 4, 4)(x, torch.full((10,), 1 / 10))
    assert [tuple(s[-2:]) for s in calls] == [(5, 5), (1, 1), (1, 1), (3, 3), (3, 3), (1, 1), (1, 1)]  # + gate, mix


def test_an_unknown_candidate_falls_back_to_the_plain_sum(gen):
    m = MixedOp(("conv_3x3",), 3, 3)
    m["extra"] = nn.Tanh()
    m._plan = plan(m, 3)
    assert m._plan is None
    x = torch.randn(1, 3, 6, 6, generator=gen)
    torch.testing.assert_close(m(x, torch.tensor([0.3, 0.7])), 0.3 * m["conv_3x3"](x) + 0.7 * torch.tanh(x))


@pytest.mark.parametrize("space", ["paper", "global"])
def test_whole_supernet_fused_equals_unfused_with_alpha_gradients(space, gen):
    net = SuperNet(channels=8, num_hnu=2, generator=torch.Generator().manual_seed(4), space=space).double()
    for a in net.arch.values():
        a.data.normal_(0, 1, generator=gen)
    x = torch.rand(1, 3, 20, 18, generator=gen, dtype=torch.double)

    def run():
        out = net(x)
        return out, torch.autograd.grad(out.square().mean(), net.arch_parameters() + net.weights())

    fused, g_fused = run()
    with candidate_by_candidate():
        ref, g_ref = run()
    torch.testing.assert_close(fused, ref, rtol=1e-10, atol=1e-12)
    for a, b in zip(g_fused, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-12)


def test_the_supernet_drops_its_prebuilt_kernels_after_each_forward(gen):
    net = SuperNet(channels=8, num_hnu=1, generator=torch.Generator().manual_seed(4))
    layers = [m for m in net.modules() if isinstance(m, MixedOp)]
    net(torch.rand(1, 3, 16, 16, generator=gen))
    assert all(m.prebuilt is None for m in layers)
    with pytest.raises(ValueError, match="RGB"):
        net(torch.rand(1, 4, 16, 16, generator=gen))  # fails inside the forward, after the kernels were built
    assert all(m.prebuilt is None for m in layers)
