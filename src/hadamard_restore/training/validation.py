"""Full-resolution inference and the validation PSNR used to pick the best checkpoint.

Outputs are scored the way they are saved (docs/evaluation.md §4): clamped to [0, 1] and
quantised to 8 bits, ``q(x) = round(255 * clamp(x, 0, 1)) / 255``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


def quantize_8bit(x: Tensor) -> Tensor:
    """``round(255 * clamp(x, 0, 1)) / 255``: the value a saved 8-bit PNG holds. Any shape."""
    return torch.round(x.clamp(0.0, 1.0) * 255.0) / 255.0


@torch.no_grad()
def infer(model: nn.Module, image: Tensor, device: torch.device, amp: bool = False) -> Tensor:
    """Restore one full-resolution image.

    Args:
        model: the derived network (pads to a multiple of 4 and crops back itself).
        image: ``(3, H, W)`` or ``(1, 3, H, W)`` in [0, 1].
        device: where to run.
        amp: bfloat16 autocast (CUDA only).

    Returns:
        ``(3, H, W)`` float32 on the CPU, clamped to [0, 1] (not yet quantised).
    """
    x = image if image.dim() == 4 else image.unsqueeze(0)
    x = x.to(device).contiguous(memory_format=torch.channels_last)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda"):
        out = model(x)
    return out.float().clamp(0.0, 1.0)[0].cpu()


@torch.no_grad()
def validate_psnr(
    model: nn.Module,
    pairs: Sequence[tuple[Tensor, Tensor]],
    device: torch.device,
    max_images: int | None = None,
    amp: bool = False,
) -> float:
    """Mean PSNR (dB, RGB, peak 1) of the 8-bit outputs over the first ``max_images`` pairs."""
    from hadamard_restore.metrics import psnr

    was_training = model.training
    model.eval()
    values = []
    for deg, ref in list(pairs)[: max_images or None]:
        out = quantize_8bit(infer(model, deg, device, amp))
        values.append(float(psnr(out.unsqueeze(0), ref.unsqueeze(0).cpu(), data_range=1.0)[0]))
    model.train(was_training)
    return sum(values) / len(values)
