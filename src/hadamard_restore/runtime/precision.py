"""Where bfloat16 is native, and so worth using: the one test every fast path asks.

bfloat16 arithmetic is fast only where the hardware does it: CUDA GPUs (Ampere and later do it
natively; older ones emulate it, still correctly), and CPUs with AVX512-BF16 or AMX. On other
CPUs oneDNN emulates bfloat16 and is slower than float32, so training autocast and the
inference fast path stay in float32 there.
"""

from __future__ import annotations

import torch


def native_bf16(device: torch.device | str) -> bool:
    """True on CUDA, and on a CPU whose instruction set has AVX512-BF16 or AMX tiles."""
    device = torch.device(device)
    if device.type == "cuda":
        return True
    if device.type != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    cpu = getattr(torch, "cpu", None)
    checks = [getattr(cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(bool(check()) for check in checks if callable(check))


def cpu_flags() -> set[str]:
    """The CPU feature flags of ``/proc/cpuinfo`` (empty where it cannot be read)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()
