"""Side-by-side comparison grids: one row per image, columns input | output | reference, labelled."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

#: the columns of every evaluation grid (evaluate, train, the showcase)
GRID_COLUMNS = ("input", "output", "reference")
#: pixels of the band of column labels above a labelled grid
LABEL_HEIGHT = 22


def _fit_height(img: Tensor, height: int) -> Tensor:
    """``(3, H, W)`` resized (bilinear, antialiased) to ``height`` rows, aspect kept."""
    h, w = img.shape[-2:]
    if h == height:
        return img
    width = max(1, round(w * height / h))
    return F.interpolate(img[None], size=(height, width), mode="bilinear", antialias=True, align_corners=False)[
        0
    ].clamp(0, 1)


def _header(labels: Sequence[str], lefts: Sequence[int], widths: Sequence[int], total: int, height: int) -> Tensor:
    """A white ``(3, height, total)`` band with each label centred over its column."""
    band = Image.new("RGB", (total, height), (255, 255, 255))
    draw = ImageDraw.Draw(band)
    font = ImageFont.load_default(size=max(8, height - 8))
    for text, left, width in zip(labels, lefts, widths):
        x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
        draw.text((left + (width - (x1 - x0)) / 2 - x0, (height - (y1 - y0)) / 2 - y0), text, fill=(0, 0, 0), font=font)
    return torch.from_numpy(np.asarray(band, dtype=np.float32) / 255.0).permute(2, 0, 1)


def comparison_grid(
    rows: Sequence[Sequence[Tensor]],
    height: int = 160,
    gap: int = 4,
    background: float = 1.0,
    labels: Sequence[str] | None = None,
    label_height: int = LABEL_HEIGHT,
) -> Tensor:
    """Tile images into a grid, columns aligned, optionally under a row of column labels.

    Args:
        rows: each row a sequence of ``(3, H, W)`` images in [0, 1] (e.g. input, output, reference).
        height: every image is resized to this height (aspect kept).
        gap: pixels of ``background`` between images and around the grid.
        background: fill value in [0, 1].
        labels: one caption per column (e.g. ``("input", "output", "reference")``), drawn in black
            on a white band of ``label_height`` pixels above the first row.

    Returns:
        ``(3, H_total, W_total)`` with ``H_total = n_rows * (height + gap) + gap`` (plus
        ``label_height`` with labels) and ``W_total`` the sum of the widest image of every column
        plus the gaps.
    """
    if not rows:
        raise ValueError("comparison_grid needs at least one row")
    fitted = [[_fit_height(img.float().cpu(), height) for img in row] for row in rows]
    columns = max(len(row) for row in fitted)
    widths = [max(row[j].shape[-1] for row in fitted if len(row) > j) for j in range(columns)]
    lefts = [gap + sum(w + gap for w in widths[:j]) for j in range(columns)]
    canvas = torch.full((3, len(fitted) * (height + gap) + gap, sum(widths) + gap * (columns + 1)), background)
    for i, row in enumerate(fitted):
        y = gap + i * (height + gap)
        for j, im in enumerate(row):
            x = lefts[j] + (widths[j] - im.shape[-1]) // 2
            canvas[:, y : y + height, x : x + im.shape[-1]] = im
    if labels:
        if len(labels) != columns:
            raise ValueError(f"{len(labels)} labels for {columns} columns")
        canvas = torch.cat([_header(labels, lefts, widths, canvas.shape[-1], label_height), canvas], dim=1)
    return canvas
