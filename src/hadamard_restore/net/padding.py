"""Reflection padding to a multiple of ``m`` and the crop back (docs/method.md 1.1).

The pad on each axis is split as evenly as possible: ``floor(pad / 2)`` before (top/left) and
the rest after (bottom/right). The network runs on the padded image and the pad is cropped
off its output, so any ``H, W >= 2`` works and the output has the input's size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

Pads = tuple[int, int, int, int]  # (left, right, top, bottom), the order F.pad takes


def pad_amounts(h: int, w: int, multiple: int) -> Pads:
    """``(left, right, top, bottom)`` that bring ``(h, w)`` up to multiples of ``multiple``."""
    ph, pw = (-h) % multiple, (-w) % multiple
    return pw // 2, pw - pw // 2, ph // 2, ph - ph // 2


def reflect_pad(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, Pads]:
    """Reflect-pad ``x`` (B, C, H, W) so H and W are multiples of ``multiple``.

    Returns:
        The padded tensor and the pads, for :func:`crop_pads`.

    Raises:
        ValueError: ``x`` is not 4-D, or a side is too short to reflect (a pad must be
            smaller than the side it reflects).
    """
    if x.dim() != 4:
        raise ValueError(
            f"expected a (B, C, H, W) batch, got shape {tuple(x.shape)}; add a batch axis with x[None] for one image"
        )
    h, w = x.shape[-2:]
    pads = pad_amounts(h, w, multiple)
    if max(pads[0], pads[1]) >= w or max(pads[2], pads[3]) >= h:
        raise ValueError(
            f"image of {h}x{w} pixels is too small to reflect-pad to a multiple of "
            f"{multiple}; use images of at least {multiple}x{multiple} pixels"
        )
    if any(pads):
        x = F.pad(x, pads, mode="reflect")
    return x, pads


def crop_pads(x: torch.Tensor, pads: Pads) -> torch.Tensor:
    """Undo :func:`reflect_pad` on a (B, C, H', W') output."""
    left, right, top, bottom = pads
    h, w = x.shape[-2:]
    return x[..., top : h - bottom, left : w - right]
