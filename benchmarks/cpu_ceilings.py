"""The CPU's measured ceilings, the roofline arithmetic and where a network's bytes go.

* **Ceilings** (:func:`ceiling_cases`): a large ``torch.mm`` and a large 3x3 convolution
  (channels-last, as oneDNN runs it) in float32 and in bfloat16 give the peak FLOP/s of each
  precision (the larger of the two); a STREAM-like copy (``b = a``: 2 arrays moved) and triad
  (``a = b + s * c``: 3 arrays moved) over float32 arrays far larger than the caches give the
  memory bandwidth (the larger of the two). Bytes follow STREAM's convention: each array read or
  written once, the write-allocate read of the destination not counted.
* **Roofline** (:func:`roofline_entry`): attainable FLOP/s = min(peak, intensity x bandwidth);
  a path whose arithmetic intensity (FLOP/byte) is below the machine balance (peak / bandwidth)
  is memory-bound, above it compute-bound.
* **Op profile** (:func:`op_profile`): per-convolution arithmetic intensity of one forward and
  the share of the (unfused, eager) bytes moved by convolutions vs element-wise ops.
"""

from __future__ import annotations

import copy
import statistics
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

CONV_OPS = ("convolution", "_convolution", "mkldnn_convolution", "conv2d")


def ceiling_cases(
    mm_n: int = 2048, conv_c: int = 64, conv_hw: int = 256, stream_mib: int = 256
) -> dict[str, tuple[Callable[[], object], str, float]]:
    """``name -> (call, kind, work)``: ``kind`` is ``fp32``/``bf16`` (work in FLOPs) or ``bandwidth``
    (work in bytes). Inputs are random and built here, once."""
    cases: dict[str, tuple[Callable[[], object], str, float]] = {}
    gen = torch.Generator().manual_seed(0)
    for kind, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = (torch.randn(mm_n, mm_n, generator=gen).to(dtype) for _ in range(2))
        c = torch.empty(mm_n, mm_n, dtype=dtype)
        cases[f"{kind} mm {mm_n}^3"] = (lambda a=a, b=b, c=c: torch.mm(a, b, out=c), kind, 2.0 * mm_n**3)
        x = torch.randn(1, conv_c, conv_hw, conv_hw, generator=gen).to(dtype)
        x = x.contiguous(memory_format=torch.channels_last)
        w = (0.05 * torch.randn(conv_c, conv_c, 3, 3, generator=gen)).to(dtype)
        w = w.contiguous(memory_format=torch.channels_last)

        def conv(x=x, w=w) -> object:
            with torch.no_grad():
                return F.conv2d(x, w, padding=1)

        cases[f"{kind} conv3x3 {conv_c}->{conv_c} @{conv_hw}"] = (conv, kind, 2.0 * conv_c * conv_c * 9 * conv_hw**2)
    n = stream_mib * 2**20 // 4
    a, b, c = (torch.rand(n, generator=gen) for _ in range(3))
    cases[f"copy {stream_mib} MiB"] = (lambda: b.copy_(a), "bandwidth", 2.0 * 4 * n)
    cases[f"triad 3x{stream_mib} MiB"] = (lambda: torch.add(b, c, alpha=3.0, out=a), "bandwidth", 3.0 * 4 * n)
    return cases


def ceilings(cases: dict[str, tuple[Callable[[], object], str, float]], seconds: dict[str, float]) -> dict:
    """Per-case rates and the peaks they give: ``{"cases": {...}, "fp32": FLOP/s, "bf16": FLOP/s,
    "bandwidth": B/s}`` (each peak the best case of its kind among those timed)."""
    out: dict[str, Any] = {"cases": {}, "fp32": 0.0, "bf16": 0.0, "bandwidth": 0.0}
    for name, (_, kind, work) in cases.items():
        if name not in seconds:
            continue
        rate = work / seconds[name]
        out["cases"][name] = {"kind": kind, "work": work, "seconds": seconds[name], "rate": rate}
        out[kind] = max(out[kind], rate)
    return out


def roofline_entry(flops: float, nbytes: float, seconds: float, peak: float, bandwidth: float) -> dict[str, Any]:
    """Achieved rates, their share of the measured peaks and the roofline verdict.

    ``pct_roof`` is the achieved FLOP/s as a share of the attainable min(peak, intensity x bandwidth).
    """
    if min(nbytes, seconds, peak, bandwidth) <= 0:
        raise ValueError(f"bytes, seconds and both peaks must be > 0, got {nbytes}, {seconds}, {peak}, {bandwidth}")
    fl, bw = flops / seconds, nbytes / seconds
    intensity, balance = flops / nbytes, peak / bandwidth
    attainable = min(peak, intensity * bandwidth)
    return {
        "flops": flops,
        "bytes": nbytes,
        "seconds": seconds,
        "gflops": fl / 1e9,
        "pct_peak": 100 * fl / peak,
        "gbps": bw / 1e9,
        "pct_bw": 100 * bw / bandwidth,
        "intensity": intensity,
        "balance": balance,
        "bound": "memory" if intensity < balance else "compute",
        "attainable_gflops": attainable / 1e9,
        "pct_roof": 100 * fl / attainable if attainable else 0.0,
    }


def _nbytes(tensors: list) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))


class OpTraffic(TorchDispatchMode):
    """Bytes of every ATen op's tensor arguments and outputs, split into convolutions and the rest,
    with each convolution's FLOPs (2 x output elements x input channels per group x kernel area)."""

    def __init__(self) -> None:
        super().__init__()
        self.other_bytes = 0
        self.convs: list[tuple[float, int]] = []  # (flops, bytes) per convolution call

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        out = func(*args, **(kwargs or {}))
        nbytes = _nbytes(tree_flatten((args, kwargs or {}, out))[0])
        if func.__name__.split(".")[0] in CONV_OPS:
            weight = args[1]
            self.convs.append((2.0 * out.numel() * weight[0].numel(), nbytes))
        else:
            self.other_bytes += nbytes
        return out


def op_profile(model: torch.nn.Module, size: tuple[int, int], dtype: torch.dtype = torch.float32) -> dict[str, Any]:
    """Where one ``no_grad`` forward of a ``(1, 3, H, W)`` input spends its FLOPs and bytes (meta device).

    Returns the convolutions' count, FLOPs, bytes and per-call intensity (median, min, max, FLOP/byte),
    and the bytes of every other op (element-wise: norm, activations, the HNU division, padding, adds).
    """
    runner = copy.deepcopy(model).to(device="meta", dtype=dtype).eval()
    x = torch.zeros(1, 3, *size, device="meta", dtype=dtype)
    with torch.no_grad(), OpTraffic() as counter:
        runner(x)
    per_call = [f / b for f, b in counter.convs if b]
    conv_bytes = sum(b for _, b in counter.convs)
    return {
        "convolutions": len(counter.convs),
        "conv_flops": sum(f for f, _ in counter.convs),
        "conv_bytes": conv_bytes,
        "other_bytes": counter.other_bytes,
        "conv_bytes_share": conv_bytes / max(1, conv_bytes + counter.other_bytes),
        "conv_intensity_median": statistics.median(per_call) if per_call else None,
        "conv_intensity_min": min(per_call, default=None),
        "conv_intensity_max": max(per_call, default=None),
    }
