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
import platform

import torch
from torch import nn

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


def native_bf16(device: torch.device | str) -> bool:
    """True where bfloat16 arithmetic is native: a CUDA device with bf16 units (compute capability
    8.0 and up), or a CPU with oneDNN and AVX512-BF16 or AMX-BF16 (x86), or BF16 (ARM)."""
    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.get_device_capability(device)[0] >= 8)
    if device.type != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    caps = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    if caps.get("avx512_bf16", False) or caps.get("amx_bf16", False):
        return True
    # On x86 oneDNN's own check is also true for plain AVX512 (bf16 emulated, slower than float32);
    # on ARM it means the BF16 extension.
    return platform.machine().lower() in ("aarch64", "arm64") and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


class Bf16(nn.Module):
    """A bfloat16 channels-last copy of ``model``; float inputs in, float32 contiguous outputs out."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.inner = copy.deepcopy(model).to(torch.bfloat16).to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inner(x.to(torch.bfloat16, memory_format=torch.channels_last))
        return out.to(torch.float32, memory_format=torch.contiguous_format)
