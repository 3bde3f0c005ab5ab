"""Paired geometric augmentation driven by an explicit ``torch.Generator``.

The same crop window and the same flips are applied to the degraded image and its
reference, so pixel correspondence is kept. A crop larger than the image is an error
(:class:`~hadamard_restore.errors.DataError`), not silent padding: padding would put
reflected borders into training batches that the real data never has. Lower the crop or
use larger images.
"""

from __future__ import annotations

import torch

from hadamard_restore.errors import DataError


def crop_size(crop: int | tuple[int, int]) -> tuple[int, int]:
    """``crop`` as ``(height, width)``; a single int is a square."""
    ch, cw = (crop, crop) if isinstance(crop, int) else tuple(crop)
    if ch < 1 or cw < 1:
        raise DataError(f"crop size must be positive, got {crop}")
    return int(ch), int(cw)


def random_crop_box(
    height: int, width: int, crop: int | tuple[int, int], generator: torch.Generator
) -> tuple[int, int, int, int]:
    """A uniformly random window ``(top, left, crop_h, crop_w)`` inside an ``height x width`` image.

    Raises:
        DataError: the crop is larger than the image.
    """
    ch, cw = crop_size(crop)
    if ch > height or cw > width:
        raise DataError(
            f"crop {ch}x{cw} is larger than the image ({height}x{width}); "
            "lower the crop size (search.crop / train.crop) or use larger images"
        )
    top = int(torch.randint(0, height - ch + 1, (1,), generator=generator))
    left = int(torch.randint(0, width - cw + 1, (1,), generator=generator))
    return top, left, ch, cw


def check_same_size(degraded: torch.Tensor, reference: torch.Tensor, what: str = "pair") -> None:
    """Raise :class:`DataError` unless the two images have the same height and width."""
    if degraded.shape[-2:] != reference.shape[-2:]:
        raise DataError(
            f"{what}: sizes differ, degraded {tuple(degraded.shape[-2:])} vs reference "
            f"{tuple(reference.shape[-2:])} (H, W); the two images must show the same pixels"
        )


def paired_random_crop(
    degraded: torch.Tensor, reference: torch.Tensor, crop: int | tuple[int, int], generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut the same random ``crop`` window out of both ``(..., H, W)`` images."""
    check_same_size(degraded, reference)
    top, left, ch, cw = random_crop_box(degraded.shape[-2], degraded.shape[-1], crop, generator)
    return (degraded[..., top : top + ch, left : left + cw], reference[..., top : top + ch, left : left + cw])


def paired_random_flip(
    degraded: torch.Tensor, reference: torch.Tensor, generator: torch.Generator, vertical: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip both images left-right with probability 1/2, then (``vertical``) up-down with 1/2.

    Two draws are always made (the second ignored when ``vertical`` is False), so the
    generator advances the same way whatever the options.
    """
    draws = torch.rand(2, generator=generator)
    dims = [-1] if draws[0] < 0.5 else []
    if vertical and draws[1] < 0.5:
        dims.append(-2)
    if dims:
        degraded, reference = degraded.flip(dims), reference.flip(dims)
    return degraded, reference


def center_crop(img: torch.Tensor, crop: int | tuple[int, int]) -> torch.Tensor:
    """The central ``crop`` window of a ``(..., H, W)`` image (top/left get the smaller margin)."""
    ch, cw = crop_size(crop)
    h, w = img.shape[-2:]
    if ch > h or cw > w:
        raise DataError(f"crop {ch}x{cw} is larger than the image ({h}x{w})")
    top, left = (h - ch) // 2, (w - cw) // 2
    return img[..., top : top + ch, left : left + cw]
