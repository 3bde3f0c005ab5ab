"""Candidate operations (docs/method.md 2.1) and the ``OPS`` registry.

Every factory has one signature, ``OPS[name](c_in, c_out) -> nn.Module``; every module maps
``(B, c_in, H, W) -> (B, c_out, H, W)`` (same spatial size: padding ``dilation * (k - 1) / 2``).
No convolution has a bias (docs/method.md 1.5) and none has a norm or activation inside, except
the ReLU between the two convolutions of a dense block and the sigmoid gate of
``globalres_1x1``. Initialisation is PyTorch's default.

=================  =========  ===========================================================
code name          paper      definition
=================  =========  ===========================================================
skip_connect       SC         ``x`` (0 parameters; needs ``c_in == c_out``)
conv_kxk           k-C        ``Conv_k(x)``, k in {1, 3, 5}
dilconv_3x3        3-2-DC     ``Conv_3,dil=2(x)`` (plain, no residual)
resconv_kxk        k-RC       ``x + Conv_k(x)``, k in {1, 3}
resdilconv_3x3     3-2-RDC    ``x + Conv_3,dil=2(x)``
denseblocks_kxk    k-DC       ``t = ReLU(Conv_k(x))`` (C->C); ``Conv_k(concat[x, t])`` (2C->C)
globalres_1x1      (GRC1)     ``x + Conv_1(x * sigmoid(Conv_1(mean_HW(x))))`` (not in the paper)
=================  =========  ===========================================================

Parameter counts at ``C`` channels: conv_kxk ``k^2 C^2``; the residual forms the same;
denseblocks_kxk ``3 k^2 C^2``; globalres_1x1 ``2 C^2``.

``globalres_1x1`` is the one operation with a global receptive field (the ``global`` candidate
set of :mod:`hadamard_restore.net.primitives`; docs/method.md 2.1). ``mean_HW`` is the per-image,
per-channel spatial mean (:class:`SpatialMean`, (B, C, 1, 1)); a bias-free 1x1 convolution of it
through a sigmoid gives a per-image gain per channel, which scales the input's channels before a
second bias-free 1x1 convolution mixes them: a channel mixing that depends on the whole image.
The simpler ``x + Conv_1(mean_HW(x))`` would add a constant per channel, and the instance norm
that follows every HNU layer subtracts exactly that constant again (docs/method.md 1.4): the op
would be ``skip_connect`` in every network with ``norm="instance"``. The gated form survives the
norm because the gain multiplies features before they are mixed across channels.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def _conv(c_in: int, c_out: int, k: int, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, k, padding=dilation * (k - 1) // 2, dilation=dilation, bias=False)


def _same_width(name: str, c_in: int, c_out: int) -> None:
    if c_in != c_out:
        raise ValueError(
            f"{name} keeps the channel count, but was asked for {c_in} -> {c_out}; "
            "use a plain conv (conv_1x1, conv_3x3, conv_5x5, dilconv_3x3) where widths change"
        )


class Skip(nn.Module):
    """``skip_connect``: the identity."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        _same_width("skip_connect", c_in, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Conv(nn.Module):
    """One bias-free convolution ``Conv_{k, dilation}(x)``."""

    def __init__(self, c_in: int, c_out: int, k: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv = _conv(c_in, c_out, k, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class ResConv(nn.Module):
    """``x + Conv_{k, dilation}(x)`` (no activation after the add)."""

    def __init__(self, c_in: int, c_out: int, k: int, dilation: int = 1) -> None:
        super().__init__()
        _same_width(f"resconv k={k} dilation={dilation}", c_in, c_out)
        self.conv = _conv(c_in, c_out, k, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)


class DenseBlock(nn.Module):
    """``Conv_k(concat[x, ReLU(Conv_k(x))])`` with ``C -> C`` then ``2C -> C``; no residual add."""

    def __init__(self, c_in: int, c_out: int, k: int) -> None:
        super().__init__()
        _same_width(f"denseblocks k={k}", c_in, c_out)
        self.conv1 = _conv(c_in, c_in, k)
        self.conv2 = _conv(2 * c_in, c_out, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = torch.relu(self.conv1(x))
        return self.conv2(torch.cat([x, t], dim=1))


class SpatialMean(nn.Module):
    """``mean_HW(x)``: (B, C, H, W) -> (B, C, 1, 1), the per-image, per-channel spatial mean.

    A module of its own so that tiled inference can replay the whole image's means in every tile
    (:mod:`hadamard_restore.inference.norm_stats`), as it does for the instance norm.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3), keepdim=True)


class GlobalRes(nn.Module):
    """``globalres_1x1``: ``x + Conv_1(x * sigmoid(Conv_1(mean_HW(x))))``, both convolutions C -> C."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        _same_width("globalres_1x1", c_in, c_out)
        self.mean = SpatialMean()
        self.gate = _conv(c_in, c_in, 1)
        self.conv = _conv(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x * torch.sigmoid(self.gate(self.mean(x))))


OpFactory = Callable[[int, int], nn.Module]

OPS: dict[str, OpFactory] = {
    "skip_connect": lambda c_in, c_out: Skip(c_in, c_out),
    "conv_1x1": lambda c_in, c_out: Conv(c_in, c_out, 1),
    "conv_3x3": lambda c_in, c_out: Conv(c_in, c_out, 3),
    "conv_5x5": lambda c_in, c_out: Conv(c_in, c_out, 5),
    "dilconv_3x3": lambda c_in, c_out: Conv(c_in, c_out, 3, dilation=2),
    "resconv_1x1": lambda c_in, c_out: ResConv(c_in, c_out, 1),
    "resconv_3x3": lambda c_in, c_out: ResConv(c_in, c_out, 3),
    "resdilconv_3x3": lambda c_in, c_out: ResConv(c_in, c_out, 3, dilation=2),
    "denseblocks_1x1": lambda c_in, c_out: DenseBlock(c_in, c_out, 1),
    "denseblocks_3x3": lambda c_in, c_out: DenseBlock(c_in, c_out, 3),
    "globalres_1x1": lambda c_in, c_out: GlobalRes(c_in, c_out),
}
