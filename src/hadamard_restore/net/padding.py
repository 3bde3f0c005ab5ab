"""Reflection padding to a multiple of ``m`` and the crop back (docs/method.md 1.1).

The pad on each axis is split as evenly as possible: ``floor(pad / 2)`` before (top/left) and
the rest after (bottom/right). The network runs on the padded image and the pad is cropped
off its output, so any ``H, W >= 2`` works and the output has the input's size.

A traced or exported graph (ONNX, ``torch.compile``) always contains the pad, even when the
example it was made from needed none: the pad amounts are then computed from the input's shape
inside the graph, so a graph made from a 256x256 example runs a 599x399 image (the skipped pad
once made such graphs fail with "broadcast 510 by 511").
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
    if any(pads) or _making_graph():  # a graph must not depend on the example's remainder mod 4
        x = F.pad(x, pads, mode="reflect")
    return x, pads


def replicate_to(x: torch.Tensor, side: int) -> tuple[torch.Tensor, Pads]:
    """Edge-replicate ``x`` (B, C, H, W) so both sides are at least ``side`` (for images too small
    to reflect-pad, e.g. 1 pixel high); :func:`crop_pads` undoes it. Larger images are unchanged."""
    h, w = x.shape[-2:]
    ph, pw = max(0, side - h), max(0, side - w)
    pads = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    return (F.pad(x, pads, mode="replicate") if any(pads) else x), pads


def _making_graph() -> bool:
    """Whether this forward is being traced, exported or compiled (not plain eager)."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling()


def crop_pads(x: torch.Tensor, pads: Pads) -> torch.Tensor:
    """Undo :func:`reflect_pad` on a (B, C, H', W') output."""
    left, right, top, bottom = pads
    h, w = x.shape[-2:]
    return x[..., top : h - bottom, left : w - right]
