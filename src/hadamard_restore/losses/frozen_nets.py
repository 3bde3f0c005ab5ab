"""The frozen feature networks of a loss mix (VGG features and taps, LPIPS) and where they run.

They live outside the mix's module tree on purpose: neither in its ``state_dict`` nor moved by
``.to()``; :func:`on` moves them to the data's device when they are used, and :func:`bf16_copy`
makes the bfloat16-parameter copies a bf16 training step runs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TypeVar

import torch
from torch import Tensor, nn

from hadamard_restore.losses.vgg import VGGTaps

_ModuleT = TypeVar("_ModuleT", bound=nn.Module)


@dataclass
class FrozenNets:
    """The frozen VGG features (and their taps) and LPIPS network of a mix: outside its module tree on
    purpose, so they are neither in its ``state_dict`` nor moved by ``.to()``; see :func:`on`."""

    vgg_features: nn.Sequential | None = None
    taps: VGGTaps | None = None
    lpips: nn.Module | None = None
    bf16: dict[str, nn.Module] = field(default_factory=dict)  # bfloat16-parameter copies, by term


def on(module: _ModuleT, like: Tensor) -> _ModuleT:
    """``module`` moved (in place) to ``like``'s device and dtype when it is elsewhere."""
    p = next(module.parameters(), None)
    if p is not None and (p.device != like.device or p.dtype != like.dtype):
        module.to(device=like.device, dtype=like.dtype)
    return module


def bf16_copy(module: nn.Module, like: Tensor) -> nn.Module:
    """A copy of ``module`` on ``like``'s device with its parameters (not its buffers) in bfloat16.

    Under a bfloat16 autocast a frozen network's float32 weights are cast again at every call
    (autocast caches only weights that require grad); a copy cast once gives the same rounded
    weights, so the same numbers, without that traffic. Buffers (LPIPS's input scaling) keep
    their precision, as under autocast.
    """
    out = copy.deepcopy(module).to(device=like.device)
    for p in out.parameters():
        p.data = p.data.to(torch.bfloat16)
    return out
