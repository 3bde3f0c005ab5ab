"""Side-by-side comparison grids: one row per image, columns input | output | reference."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def _fit_height(img: Tensor, height: int) -> Tensor:
    """``(3, H, W)`` resized (bilinear, antialiased) to ``height`` rows, aspect kept."""
    h, w = img.shape[-2:]
    if h == height:
        return img
    width = max(1, round(w * height / h))
    return F.interpolate(img[None], size=(height, width), mode="bilinear", antialias=True, align_corners=False)[
        0
    ].clamp(0, 1)


def comparison_grid(
    rows: Sequence[Sequence[Tensor]], height: int = 160, gap: int = 4, background: float = 1.0
) -> Tensor:
    """Tile images into a grid.

    Args:
        rows: each row a sequence of ``(3, H, W)`` images in [0, 1] (e.g. input, output, reference).
        height: every image is resized to this height (aspect kept).
        gap: pixels of ``background`` between images and around the grid.
        background: fill value in [0, 1].

    Returns:
        ``(3, H_total, W_total)`` with ``H_total = n_rows * (height + gap) + gap`` and
        ``W_total = max_row_width + gap``.
    """
    if not rows:
        raise ValueError("comparison_grid needs at least one row")
    fitted = [[_fit_height(img.float().cpu(), height) for img in row] for row in rows]
    widths = [sum(im.shape[-1] + gap for im in row) + gap for row in fitted]
    canvas = torch.full((3, len(fitted) * (height + gap) + gap, max(widths)), background)
    y = gap
    for row in fitted:
        x = gap
        for im in row:
            canvas[:, y : y + height, x : x + im.shape[-1]] = im
            x += im.shape[-1] + gap
        y += height + gap
    return canvas
