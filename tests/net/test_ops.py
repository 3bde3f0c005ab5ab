"""Candidate operations against their definitions (docs/method.md 2.1)."""

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
