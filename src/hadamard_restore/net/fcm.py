"""Feature Convert Modules (docs/method.md 1.2): two fixed residual sub-blocks of searched layers.

A sub-block is ``y = x + op2(ReLU(op1(x)))``: no normalisation anywhere and no activation
after the add. An FCM is two sub-blocks ``a`` then ``b`` at a fixed width, so it has four
searched layers labelled ``<prefix>a-1, <prefix>a-2, <prefix>b-1, <prefix>b-2``
(e.g. ``enc.e1a-1``). Every layer picks from ``FCM_PRIMITIVES``.
"""

from __future__ import annotations

import torch
from torch import nn

from hadamard_restore.net.hnu import LayerFactory
from hadamard_restore.net.primitives import FCM_PRIMITIVES


class ResidualSubBlock(nn.Module):
    """``y = x + op2(ReLU(op1(x)))`` at ``channels`` wide."""

    def __init__(self, prefix: str, channels: int, make_layer: LayerFactory) -> None:
        super().__init__()
        self.op1 = make_layer(f"{prefix}-1", FCM_PRIMITIVES, channels, channels)
        self.op2 = make_layer(f"{prefix}-2", FCM_PRIMITIVES, channels, channels)

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: (B, C, H, W); ``weights``: (2, 4) mixing rows for op1, op2, or None."""
        w1, w2 = (None, None) if weights is None else (weights[0], weights[1])
        return x + self.op2(torch.relu(self.op1(x, w1)), w2)


class FCM(nn.Module):
    """Two residual sub-blocks (``a``, ``b``): four searched layers, C -> C channels.

    Args:
        prefix: label prefix such as ``"enc.e1"`` or ``"dec.d2"``.
        channels: C.
        make_layer: see :class:`hadamard_restore.net.hnu.HNU`.
    """

    def __init__(self, prefix: str, channels: int, make_layer: LayerFactory) -> None:
        super().__init__()
        self.a = ResidualSubBlock(f"{prefix}a", channels, make_layer)
        self.b = ResidualSubBlock(f"{prefix}b", channels, make_layer)

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """``weights``: (4, 4) rows for a-1, a-2, b-1, b-2, or None."""
        wa, wb = (None, None) if weights is None else (weights[0:2], weights[2:4])
        return self.b(self.a(x, wa), wb)
