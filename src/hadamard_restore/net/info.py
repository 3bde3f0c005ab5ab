"""Size and cost of a network: parameters, multiply-accumulates and peak activation memory.

- **Parameters**: ``numel`` of every parameter; for a supernet the weights and the alphas are
  reported apart.
- **MACs**: counted by torch's own FLOP counter (``torch.utils.flop_counter.FlopCounterMode``)
  during one forward of a ``(1, 3, H, W)`` input; ``MACs = FLOPs / 2``. The counter covers
  convolutions, transposed convolutions and matrix products; element-wise ops (adds, ReLU,
  norm, division) are not counted, as is usual for MAC figures.
- **Peak activation memory**: :class:`~hadamard_restore.net.memory.PeakMemory` during a
  ``torch.no_grad()`` forward, float32, batch 1 (inference); parameters and the input are
  excluded, the padded input and the output included.

By default the forward runs on the ``meta`` device (shapes only): instant at any size, and
the same numbers as a CPU run (tested).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from hadamard_restore.net.genotype import Genotype
from hadamard_restore.net.memory import PeakMemory
from hadamard_restore.net.network import HadamardNet
from hadamard_restore.net.supernet import SuperNet


def parse_size(text: str) -> tuple[int, int]:
    """``"600x400"`` -> ``(600, 400)`` as (H, W); raises ValueError with the expected form."""
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"size {text!r} must look like HxW with positive integers, e.g. 600x400")
    return int(parts[0]), int(parts[1])


def net_info(model: nn.Module, size: tuple[int, int], device: str = "meta") -> dict[str, Any]:
    """Parameters, MACs and peak activation memory of ``model`` on one ``(1, 3, H, W)`` input.

    Args:
        model: any image-to-image module (left unchanged; a copy runs on ``device``).
        size: (H, W).
        device: ``"meta"`` (default, shapes only) or a real device such as ``"cpu"``.

    Returns:
        ``{"size": [H, W], "parameters": int, "arch_parameters": int, "flops": int, "macs": int,
        "peak_activation_bytes": int}``.
    """
    h, w = size
    arch = {id(p) for p in getattr(model, "arch_parameters", list)()}
    n_arch = sum(p.numel() for p in model.parameters() if id(p) in arch)
    n_weights = sum(p.numel() for p in model.parameters() if id(p) not in arch)
    runner = copy.deepcopy(model).to(device).eval()
    x = torch.zeros(1, 3, h, w, device=device)
    exclude = [x, *runner.parameters(), *runner.buffers()]
    with torch.no_grad(), FlopCounterMode(display=False) as flops, PeakMemory(exclude) as mem:
        runner(x)
    total = int(flops.get_total_flops())
    return {
        "size": [h, w],
        "parameters": n_weights,
        "arch_parameters": n_arch,
        "flops": total,
        "macs": total // 2,
        "peak_activation_bytes": int(mem.peak_bytes),
    }


def network_report(
    genotype: Genotype | None,
    size: tuple[int, int],
    channels: int = 32,
    num_hnu: int = 7,
    norm: str = "instance",
    source: str = "",
    upsample: str = "transpose",
) -> dict[str, Any]:
    """:func:`net_info` of a genotype's network, or of the supernet for ``None``.

    ``num_hnu`` applies to the supernet; a genotype fixes its own depth. ``source`` (the name or
    path the genotype came from) names an unnamed genotype in the report.
    """
    if genotype is None:
        model: nn.Module = SuperNet(channels, num_hnu, norm, upsample=upsample)  # type: ignore[arg-type]
        name = f"supernet ({num_hnu} HNUs)"
    else:
        model = HadamardNet(genotype, channels, norm=norm, upsample=upsample)  # type: ignore[arg-type]
        name = genotype.name or source
    return {"network": name, "channels": channels, "upsample": upsample, **net_info(model, size)}


def format_info(info: dict[str, Any]) -> str:
    """Human-readable lines for :func:`network_report`'s result."""
    h, w = info["size"]
    lines = [
        f"network:            {info['network']} (channels {info['channels']}, upsample {info['upsample']})",
        f"parameters:         {info['parameters']:,} ({info['parameters'] / 1e6:.3f} M)",
    ]
    if info["arch_parameters"]:
        lines.append(f"arch parameters:    {info['arch_parameters']:,} (alpha logits)")
    lines += [
        f"MACs at {h}x{w}:".ljust(20) + f"{info['macs']:,} ({info['macs'] / 1e9:.2f} G; "
        "torch FlopCounterMode FLOPs / 2)",
        f"peak activations:   {info['peak_activation_bytes'] / 2**20:.1f} MiB "
        "(float32, batch 1, no_grad forward; live tensor storage)",
    ]
    return "\n".join(lines)
