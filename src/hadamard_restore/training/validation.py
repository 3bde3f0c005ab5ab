"""The validation PSNR used to pick the best checkpoint.

Outputs are scored the way they are saved (docs/evaluation.md §4): one full-resolution pass
(:func:`hadamard_restore.inference.enhance.infer`), clamped to [0, 1] and quantised to 8 bits,
``q(x) = round(255 * clamp(x, 0, 1)) / 255`` (:func:`~hadamard_restore.inference.enhance.quantize_8bit`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from hadamard_restore.inference.enhance import infer, quantize_8bit
from hadamard_restore.metrics.psnr import psnr


@torch.no_grad()
def validate_psnr(
    model: nn.Module,
    pairs: Sequence[tuple[Tensor, Tensor]],
    device: torch.device,
    max_images: int | None = None,
    amp: bool = False,
) -> float:
    """Mean PSNR (dB, RGB, peak 1) of the 8-bit outputs over the first ``max_images`` pairs."""
    was_training = model.training
    model.eval()
    values = []
    for deg, ref in list(pairs)[: max_images or None]:
        out = quantize_8bit(infer(model, deg, device, amp))
        values.append(float(psnr(out.unsqueeze(0), ref.unsqueeze(0).cpu(), data_range=1.0)[0]))
    model.train(was_training)
    return sum(values) / len(values)
