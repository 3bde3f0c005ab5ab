"""Achieved FLOP rate and memory bandwidth against a GPU's published peaks.

* **FLOPs** of one forward come from :func:`hadamard_restore.net.info.net_info` (torch's
  FLOP counter: convolutions and matrix products; element-wise ops are not counted).
* **Bytes** of one forward are estimated by :func:`traffic_bytes`: every ATen op is assumed to
  read each tensor argument once and write each output once (no fusion, no cache reuse). This
  is the DRAM traffic of an unfused eager run, an upper-bound-style estimate; a fused or cached
  run (torch.compile, CUDA graphs do not fuse) can move fewer bytes, so its "achieved bandwidth"
  by this count may exceed what it really moved.
* **Peaks** are the vendor's published dense numbers (no sparsity), looked up by device name in
  :data:`PEAKS`; an unknown device reports no ratio rather than a guess.

achieved FLOP/s = FLOPs / median latency; achieved B/s = bytes / median latency; each is also
given as a percentage of the matching peak (TF32 tensor-core peak for float32 convolutions,
which cuDNN runs in TF32 by default; BF16 peak for the autocast variant).
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

# name fragment (lower case) -> published dense peaks: HBM bandwidth (bytes/s) and FLOP/s.
# Sources: NVIDIA H100 and H200 product briefs / datasheets, A100 datasheet (dense, no sparsity).
PEAKS: dict[str, dict[str, float]] = {
    "h200": {"bandwidth": 4.8e12, "fp32": 67e12, "tf32": 494.7e12, "bf16": 989.4e12},
    "h100 pcie": {"bandwidth": 2.0e12, "fp32": 51.2e12, "tf32": 378e12, "bf16": 756e12},
    "h100 nvl": {"bandwidth": 3.9e12, "fp32": 60e12, "tf32": 417.5e12, "bf16": 835e12},
    "h100": {"bandwidth": 3.35e12, "fp32": 67e12, "tf32": 494.7e12, "bf16": 989.4e12},  # SXM5
    "a100-sxm4-80gb": {"bandwidth": 2.039e12, "fp32": 19.5e12, "tf32": 156e12, "bf16": 312e12},
    "a100 80gb pcie": {"bandwidth": 1.935e12, "fp32": 19.5e12, "tf32": 156e12, "bf16": 312e12},
    "a100": {"bandwidth": 1.555e12, "fp32": 19.5e12, "tf32": 156e12, "bf16": 312e12},  # 40 GB
}


def device_peaks(name: str) -> dict[str, float] | None:
    """Published peaks for a device name such as ``"NVIDIA H100 80GB HBM3"`` (first match wins)."""
    low = name.lower()
    for key, peaks in PEAKS.items():
        if key in low:
            return peaks
    return None


class TrafficCounter(TorchDispatchMode):
    """Sum of bytes of every tensor argument and output of every ATen op (see module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten((args, kwargs or {}, out))[0]:
            if isinstance(t, torch.Tensor):
                self.bytes += t.numel() * t.element_size()
        return out


def traffic_bytes(
    model: torch.nn.Module,
    size: tuple[int, int],
    batch: int = 1,
    device: str = "meta",
    dtype: torch.dtype = torch.float32,
) -> int:
    """Estimated bytes one ``no_grad`` forward of a ``(batch, 3, H, W)`` input moves.

    Runs on the ``meta`` device by default (shapes only, instant). ``model`` is not modified.
    """
    import copy

    runner = copy.deepcopy(model).to(device=device, dtype=dtype).eval()
    x = torch.zeros(batch, 3, *size, device=device, dtype=dtype)
    with torch.no_grad(), TrafficCounter() as counter:
        runner(x)
    return counter.bytes


def roofline_row(
    flops: float, nbytes: float, seconds: float, peaks: dict[str, float] | None, precision: str = "tf32"
) -> dict[str, float | None]:
    """Achieved rates and their share of the peaks; ``None`` ratios when peaks are unknown."""
    fl, bw = flops / seconds, nbytes / seconds
    return {
        "tflops": fl / 1e12,
        "tbps": bw / 1e12,
        "intensity": flops / nbytes if nbytes else None,
        "flop_pct": 100 * fl / peaks[precision] if peaks else None,
        "bw_pct": 100 * bw / peaks["bandwidth"] if peaks else None,
    }


def measure_peaks(
    device: torch.device,
    matmul_n: int = 8192,
    conv_size: tuple[int, int, int, int] = (64, 128, 128, 128),
    copy_mib: int = 1024,
    repeats: int = 10,
) -> dict[str, float]:
    """What this device reaches on three simple kernels, to set beside the published peaks.

    * ``matmul_tflops``: an ``n x n x n`` matrix product (bf16 on a GPU, float32 on a CPU);
    * ``conv_tflops``: a 3x3 convolution of ``(B, C, H, W)`` to C channels (same dtype, channels-last);
    * ``copy_tbps``: a device-to-device copy of ``copy_mib`` MiB, counting bytes read and written.

    Each is the median of ``repeats`` timed calls after two warm-ups.
    """
    import statistics
    import time

    cuda = device.type == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    def timed(fn) -> float:
        for _ in range(2):
            fn()
        times = []
        for _ in range(repeats):
            sync()
            t0 = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    n = matmul_n
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    out = {"matmul_tflops": 2 * n**3 / timed(lambda: a @ b) / 1e12}
    bsz, c, h, w = conv_size
    x = torch.randn(bsz, c, h, w, device=device, dtype=dtype).contiguous(memory_format=torch.channels_last)
    conv = (
        torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        .to(device=device, dtype=dtype)
        .to(memory_format=torch.channels_last)
    )
    with torch.no_grad():
        out["conv_tflops"] = 2 * bsz * c * c * 9 * h * w / timed(lambda: conv(x)) / 1e12
    src = torch.empty(copy_mib * 2**20, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    out["copy_tbps"] = 2 * src.numel() / timed(lambda: dst.copy_(src)) / 1e12
    return out
