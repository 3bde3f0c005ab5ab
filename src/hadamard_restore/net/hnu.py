"""The Hadamard-inspired Neural Unit (docs/method.md 1.3) and its normalisation (1.4).

For an input ``x`` (B, C, H, W), both branches read the same ``x`` (Eq. 1 of the paper)::

    branch(x) = op3(r(N(op2(r(N(op1(r(N(op0(x))))))))))   with N after op3 too, r = ReLU
    Ru(x)  = ReLU(N(...Ru layers 0-3...) + x)                        >= 0   (numerator)
    Rv'(x) = max(sigmoid(ReLU(N(...Rv layers 0-3...) + x)), 0.01)    in [0.5, 1]  (divisor)
    HNU(x) = Ru(x) / Rv'(x)                                          (element-wise)

Since the sigmoid's argument is >= 0, the divisor lies in [0.5, 1] and each HNU multiplies
Ru by a per-pixel, per-channel gain in [1, 2]; the 0.01 floor of the authors' code is kept
but never binds. **Division safety:** the sigmoid, floor and division run in float32 and the
result is cast back to Ru's dtype, so under float16/bfloat16 autocast the quotient cannot
overflow or divide by an underflowed divisor; the same graph exports to ONNX unchanged
(Sigmoid, Clip/Max, Div, Cast).

``N`` is an affine-free per-image instance norm (``norm="instance"``, the stage-1 supernet and
the final network: the authors' train-mode BatchNorm at B = 1) or nothing (``norm="none"``,
the stage-2 supernet). It is computed in float32 with eps 1e-5 (biased variance).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from hadamard_restore.net.primitives import HNU_LAYERS, HNU_PRIMITIVES

Norm = Literal["instance", "none"]
LayerFactory = Callable[[str, tuple[str, ...], int, int], nn.Module]

DIVISOR_FLOOR = 0.01


class InstanceNorm(nn.Module):
    """Affine-free per-image, per-channel normalisation, computed in float32.

    ``y = (x - mean_HW(x)) / sqrt(var_HW(x) + eps)``, cast back to ``x.dtype``; no parameters,
    no running statistics, so training and inference behave the same.
    """

    def __init__(self, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # PyTorch's fused kernel computes normalize(x, *instance_stats(x), eps) 2-3x faster forward
        # and backward on CPU (a quarter of a bf16 training step's non-convolution time)
        if x.shape[-1] * x.shape[-2] == 1:  # one pixel, which PyTorch's kernel refuses
            return normalize(x, *instance_stats(x), self.eps)
        return F.instance_norm(x.float(), eps=self.eps).to(x.dtype)


def instance_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean, biased variance)`` over H, W in float32, shaped (B, C, 1, 1)."""
    var, mean = torch.var_mean(x.float(), dim=(2, 3), keepdim=True, correction=0)
    return mean, var


def normalize(x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, eps: float) -> torch.Tensor:
    """``(x - mean) / sqrt(var + eps)`` in float32, cast back to ``x.dtype`` (given statistics)."""
    return ((x.float() - mean) * torch.rsqrt(var + eps)).to(x.dtype)


def hadamard_quotient(ru: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``ru / max(sigmoid(v), 0.01)`` element-wise, computed in float32, cast to ``ru.dtype``.

    Args:
        ru: numerator (B, C, H, W), >= 0 in the HNU.
        v: the Rv branch before its sigmoid (B, C, H, W), >= 0 in the HNU (so the divisor is in
            [0.5, 1) there and the quotient is at most 2 * ru).
    """
    divisor = torch.sigmoid(v.float()).clamp(min=DIVISOR_FLOOR)
    return (ru.float() / divisor).to(ru.dtype)


def make_norm(norm: Norm) -> nn.Module:
    """``"instance"`` -> :class:`InstanceNorm`; ``"none"`` -> identity."""
    if norm == "instance":
        return InstanceNorm()
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'instance' or 'none', got {norm!r}")


class HNU(nn.Module):
    """One HNU with 8 searched layers (``ru0..ru3``, ``rv0..rv3``), C -> C channels.

    Args:
        group: the label prefix, e.g. ``"hnu3"``.
        channels: C.
        norm: ``"instance"`` or ``"none"``.
        make_layer: ``(label, candidates, c_in, c_out) -> layer``; a layer is called as
            ``layer(x, weights)`` with ``weights`` a (K,) row or None.
        candidates: every layer's candidate set (default the paper's 9, ``HNU_PRIMITIVES``).
    """

    def __init__(
        self,
        group: str,
        channels: int,
        norm: Norm,
        make_layer: LayerFactory,
        candidates: tuple[str, ...] = HNU_PRIMITIVES,
    ) -> None:
        super().__init__()
        layers = [make_layer(f"{group}.{name}", candidates, channels, channels) for name in HNU_LAYERS]
        self.ru = nn.ModuleList(layers[:4])
        self.rv = nn.ModuleList(layers[4:])
        self.norm = make_norm(norm)

    def _branch(self, x: torch.Tensor, layers: nn.ModuleList, weights: torch.Tensor | None) -> torch.Tensor:
        h = x
        for i, layer in enumerate(layers):
            h = self.norm(layer(h, None if weights is None else weights[i]))
            if i < len(layers) - 1:
                h = torch.relu(h)
        return torch.relu(h + x)

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: (B, C, H, W); ``weights``: (8, K) mixing weights (supernet) or None."""
        ru = self._branch(x, self.ru, None if weights is None else weights[:4])
        rv = self._branch(x, self.rv, None if weights is None else weights[4:])
        return hadamard_quotient(ru, rv)
