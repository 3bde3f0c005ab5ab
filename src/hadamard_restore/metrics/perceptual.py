"""LPIPS (Zhang et al. 2018) v0.1 through the ``lpips`` package, with offline weights."""

from __future__ import annotations

import torch
from torch import nn

from hadamard_restore.backbones import weights
from hadamard_restore.metrics.common import check_pair

_MODELS: dict[tuple[str, str], nn.Module] = {}
#: the smallest side each backbone reaches its last tap with (AlexNet's stride-4 stem and two
#: pools need 31 pixels, VGG's four pools 16)
MIN_SIDE = {"alex": 31, "vgg": 16}


def _model(net: str, device: torch.device) -> nn.Module:
    """One frozen ``lpips.LPIPS`` per (net, device), built from the weights cache."""
    key = (net, str(device))
    if key not in _MODELS:
        _MODELS[key] = weights.lpips_model(net).to(device)
    return _MODELS[key]


def lpips(x: torch.Tensor, y: torch.Tensor, net: str = "alex") -> torch.Tensor:
    """LPIPS distance per image; lower is more similar.

    Inputs in [0, 1] are mapped to [-1, 1] (2 v - 1) and fed to ``lpips.LPIPS(net, version
    "0.1")``: ImageNet backbone features at 5 layers, unit-normalised over channels, squared
    differences weighted by the learned linear heads, averaged over space, summed over layers.

    Args:
        x: (B, 3, H, W) (or (3, H, W)) images in [0, 1].
        y: reference images, same shape.
        net: ``"alex"`` (default, the paper's protocol) or ``"vgg"``.

    Returns:
        (B,) float32 tensor on x's device.

    Raises:
        WeightsMissingError: weights not provisioned (run ``hadamard-restore backbones install``).
    """
    if net not in ("alex", "vgg"):
        raise ValueError(f"lpips: net must be 'alex' or 'vgg', got {net!r}")
    x, y = check_pair(x, y, "lpips")
    side = MIN_SIDE[net]
    if x.shape[-1] < side or x.shape[-2] < side:
        raise ValueError(f"lpips: net {net!r} needs images of at least {side}x{side}, got {x.shape[-2]}x{x.shape[-1]}")
    peak = float(max(x.abs().max(), y.abs().max()))
    if peak > 2:
        raise ValueError(f"lpips: inputs must be in [0, 1], got values up to {peak:g} (divide 8-bit images by 255)")
    model = _model(net, x.device)
    x, y = x.to(torch.float32), y.to(torch.float32)
    return model(2 * x - 1, 2 * y - 1).reshape(x.shape[0])
