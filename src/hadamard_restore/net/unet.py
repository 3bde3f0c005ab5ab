"""A small U-Net with the same input/output contract as the Hadamard network.

Used as the alternative restoration model of the loss-search ablation (paper Fig. 6:
"UNet vs UNet+", searched vs all-1.0 loss weights). The paper does not specify it, so this
is the textbook design at a small size:

- ``depth`` levels (default 3): each encoder level is ``[Conv3 -> ReLU] x 2`` then a 2x2
  max-pool; the bottleneck is ``[Conv3 -> ReLU] x 2``; each decoder level is a 2x2 stride-2
  transposed conv, a concatenation with the skip, then ``[Conv3 -> ReLU] x 2``;
  widths ``base, 2 base, 4 base, ...``; a final 1x1 conv to 3 channels.
- Convolutions keep their bias (standard U-Net); no normalisation; no output activation
  (the raw output is the image, as for :class:`~hadamard_restore.net.network.HadamardNet`).
- Reflection padding to a multiple of ``2**depth`` and the crop back, so any H, W >= 2 works.
"""

from __future__ import annotations

import torch
from torch import nn

from hadamard_restore.net.padding import crop_pads, reflect_pad


def _double_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.Conv2d(c_out, c_out, 3, padding=1), nn.ReLU()
    )


class UNet(nn.Module):
    """(B, 3, H, W) in [0, 1] -> (B, 3, H, W), unclamped.

    Args:
        base: width of the first level (default 16).
        depth: number of down-sampling steps (default 3).
        generator: source of the weight-init seed; default ``Generator().manual_seed(0)``.
    """

    def __init__(self, base: int = 16, depth: int = 3, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if base < 1 or depth < 1:
            raise ValueError(f"base and depth must be >= 1, got base={base}, depth={depth}")
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        widths = [base * 2**i for i in range(depth + 1)]
        self.depth = depth
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)))
            self.down = nn.ModuleList(_double_conv(c_in, c_out) for c_in, c_out in zip([3, *widths], widths[:-1]))
            self.bottleneck = _double_conv(widths[-2], widths[-1])
            self.up = nn.ModuleList(
                nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(depth))
            )
            self.merge = nn.ModuleList(_double_conv(2 * widths[i], widths[i]) for i in reversed(range(depth)))
            self.out = nn.Conv2d(base, 3, 1)
        self.pool = nn.MaxPool2d(2)

    def weights(self) -> list[nn.Parameter]:
        """All parameters (a U-Net has no architecture variables)."""
        return list(self.parameters())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected an RGB batch of shape (B, 3, H, W), got {tuple(x.shape)}")
        h, pads = reflect_pad(x, 2**self.depth)
        skips = []
        for block in self.down:
            h = block(h)
            skips.append(h)
            h = self.pool(h)
        h = self.bottleneck(h)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips)):
            h = merge(torch.cat([up(h), skip], dim=1))
        return crop_pads(self.out(h), pads)
