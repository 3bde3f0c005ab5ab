"""Reduced precision for the fast path: the ``bf16`` backend, where it is native, and its tolerance.

A bfloat16 copy of the network (weights and input cast to bf16, channels-last; output returned as
float32) runs 2.9x faster than eager on a CPU with AVX512-BF16 (600x400, one thread, bundled
low-light model: 132 ms vs 388 ms), and its output stays close to float32: on 12 real photos of
the three tasks (bundled low-light, dehaze and underwater models) the largest ``|bf16 - fp32|``
over the clamped outputs was 0.0073-0.0105 and the PSNR of bf16 against fp32 50-57 dB. It is a
candidate only where bf16 arithmetic is native (:func:`native_bf16`); emulated bf16 is slower
than float32.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["REDUCED", "REDUCED_TOLERANCE", "TOLERANCE", "Bf16", "tolerance_for"]

PRECISIONS = ("auto", "fp32")
TOLERANCE = 1e-3
"""Full-precision backends: largest allowed ``max |candidate - eager|`` over the raw output."""
REDUCED_TOLERANCE = 0.02
"""Reduced-precision backends: largest allowed ``max |candidate - eager|`` over the output clamped to
[0, 1] (about 5 steps of 8 bits; the measured maximum on real photos is 0.0105)."""
REDUCED = frozenset({"bf16"})
"""Backends that compute in reduced precision: checked against :data:`REDUCED_TOLERANCE`."""


def tolerance_for(backend: str) -> float:
    """The parity tolerance ``backend`` is checked against."""
    return REDUCED_TOLERANCE if backend in REDUCED else TOLERANCE


class Bf16(nn.Module):
    """A bfloat16 channels-last copy of ``model``; float inputs in, float32 contiguous outputs out."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.inner = copy.deepcopy(model).to(torch.bfloat16).to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inner(x.to(torch.bfloat16, memory_format=torch.channels_last))
        return out.to(torch.float32, memory_format=torch.contiguous_format)
