"""Where bfloat16 is native, and so worth using: the one test every fast path asks.

bfloat16 arithmetic is fast only where the hardware does it: CUDA GPUs of compute capability 8.0
and up, and CPUs with AVX512-BF16 or AMX (x86) or the BF16 extension (ARM). On other
CPUs oneDNN emulates bfloat16 and is slower than float32, so training autocast and the
inference fast path stay in float32 there.
"""

from __future__ import annotations

import platform

import torch


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
