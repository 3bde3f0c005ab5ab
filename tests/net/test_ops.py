"""Candidate operations against their definitions (docs/method.md 2.1)."""

import math

import pytest
import torch
import torch.nn.functional as F

from hadamard_restore.net.ops import OPS

C = 4
PARAMS = {
    "skip_connect": 0,
    "conv_1x1": 1,
    "conv_3x3": 9,
    "conv_5x5": 25,
    "dilconv_3x3": 9,
    "resconv_1x1": 1,
    "resconv_3x3": 9,
    "resdilconv_3x3": 9,
    "denseblocks_1x1": 3,
    "denseblocks_3x3": 27,
    "globalres_1x1": 2,
}


@pytest.fixture
def x(gen):
    return torch.randn(2, C, 37, 31, generator=gen)


@pytest.mark.parametrize("name", sorted(OPS))
def test_shape_kept_no_bias_and_parameter_count(name, x):
    op = OPS[name](C, C)
    assert op(x).shape == x.shape
    assert all(m.bias is None for m in op.modules() if isinstance(m, torch.nn.Conv2d))
    assert sum(p.numel() for p in op.parameters()) == PARAMS[name] * C * C


def test_plain_and_residual_convs_match_functional_reference(x):
    for name, pad, dil in [("conv_1x1", 0, 1), ("conv_3x3", 1, 1), ("conv_5x5", 2, 1), ("dilconv_3x3", 2, 2)]:
        op = OPS[name](C, C)
        torch.testing.assert_close(op(x), F.conv2d(x, op.conv.weight, padding=pad, dilation=dil))
    for name, pad, dil in [("resconv_1x1", 0, 1), ("resconv_3x3", 1, 1), ("resdilconv_3x3", 2, 2)]:
        op = OPS[name](C, C)
        torch.testing.assert_close(op(x), x + F.conv2d(x, op.conv.weight, padding=pad, dilation=dil))
    assert torch.equal(OPS["skip_connect"](C, C)(x), x)


@pytest.mark.parametrize("k", [1, 3])
def test_dense_block_is_conv_of_concat_without_residual(k, x):
    op = OPS[f"denseblocks_{k}x{k}"](C, C)
    t = F.relu(F.conv2d(x, op.conv1.weight, padding=k // 2))
    assert op.conv2.weight.shape == (C, 2 * C, k, k)
    torch.testing.assert_close(op(x), F.conv2d(torch.cat([x, t], 1), op.conv2.weight, padding=k // 2))


def test_plain_convs_change_width_but_width_keeping_ops_refuse(x):
    for name in ("conv_1x1", "conv_3x3", "conv_5x5", "dilconv_3x3"):
        assert OPS[name](C, 3)(x).shape == (2, 3, 37, 31)
    for name in ("skip_connect", "resconv_3x3", "resdilconv_3x3", "denseblocks_1x1"):
        with pytest.raises(ValueError, match="keeps the channel count"):
            OPS[name](C, 3)


def test_global_residual_closed_form_by_hand(gen):
    op = OPS["globalres_1x1"](3, 3)
    x = torch.randn(2, 3, 5, 4, generator=gen, dtype=torch.double)
    op = op.double()
    a, b = op.gate.weight[:, :, 0, 0], op.conv.weight[:, :, 0, 0]  # (C, C) matrices
    with torch.no_grad():
        for n in range(2):
            mean = [sum(float(x[n, c, i, j]) for i in range(5) for j in range(4)) / 20 for c in range(3)]
            gain = [1 / (1 + math.exp(-sum(float(a[o, c]) * mean[c] for c in range(3)))) for o in range(3)]
            for i, j in [(0, 0), (4, 3), (2, 1)]:
                for o in range(3):
                    want = float(x[n, o, i, j]) + sum(float(b[o, c]) * gain[c] * float(x[n, c, i, j]) for c in range(3))
                    assert float(op(x)[n, o, i, j]) == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_global_residual_sees_the_whole_image_and_survives_the_instance_norm(gen):
    from hadamard_restore.net.hnu import InstanceNorm

    op, norm = OPS["globalres_1x1"](C, C), InstanceNorm()
    x = torch.rand(1, C, 16, 16, generator=gen)
    far = x.clone()
    far[..., 12:, 12:] += 1.0  # change pixels far outside any local receptive field of pixel (0, 0)
    assert (op(far)[..., 0, 0] - op(x)[..., 0, 0]).abs().max() > 1e-4
    # the whole-image context reaches past the norm of every HNU layer (x + Conv1x1(mean x) would not)
    assert (norm(op(x)) - norm(x)).abs().max() > 1e-3
    naive = x + F.conv2d(x.mean((2, 3), keepdim=True), op.conv.weight)
    torch.testing.assert_close(norm(naive), norm(x), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="globalres_1x1 keeps the channel count"):
        OPS["globalres_1x1"](4, 8)


def test_global_residual_gradients(gen):
    op = OPS["globalres_1x1"](3, 3).double()
    x = torch.randn(1, 3, 6, 5, generator=gen, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: op(t), (x,))
    out = op(x).square().sum()
    grads = torch.autograd.grad(out, [op.gate.weight, op.conv.weight])
    assert all(g.abs().sum() > 0 for g in grads)
