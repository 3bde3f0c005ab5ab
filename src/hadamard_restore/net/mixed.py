"""The two kinds of searched layer: a mixed op (supernet) and a chosen op (derived network).

Both are ``nn.ModuleDict`` keyed by op name, so the state-dict keys of a derived layer
(``<layer>.<op>.<param>``) are a subset of the supernet's keys for the same layer: copying a
supernet's weights into the derived network is a plain ``load_state_dict`` of that subset
(see :func:`hadamard_restore.net.network.copy_supernet_weights`).

The mixed op is one weighted sum (DARTS, docs/method.md 2.3):
``MixedOp(x) = sum_k w_k * op_k(x)`` with ``w = softmax(alpha_layer)`` computed once per
forward by the supernet and passed in. No per-op norm, no drop-path.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hadamard_restore.net.ops import OPS


class MixedOp(nn.ModuleDict):
    """All candidates of one layer, mixed by a weight vector.

    Args:
        candidates: op names (keys of ``OPS``), in primitive order.
        c_in, c_out: channel counts.
    """

    layer_label: str  # set by the supernet that builds the layer (its genotype label)

    def __init__(self, candidates: Sequence[str], c_in: int, c_out: int) -> None:
        super().__init__({name: OPS[name](c_in, c_out) for name in candidates})

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``x``: (B, c_in, H, W); ``weights``: (K,) mixing weights in primitive order."""
        if weights.shape != (len(self),):
            raise ValueError(f"mixed op has {len(self)} candidates but got weights of shape {tuple(weights.shape)}")
        out: torch.Tensor | None = None
        for k, op in enumerate(self.values()):
            term = weights[k] * op(x)
            out = term if out is None else out + term
        if out is None:
            raise ValueError("mixed op has no candidates")
        return out


class ChosenOp(nn.ModuleDict):
    """One candidate, kept under its op name (the derived form of a :class:`MixedOp`)."""

    layer_label: str  # set by the network that builds the layer (its genotype label)

    def __init__(self, name: str, c_in: int, c_out: int) -> None:
        super().__init__({name: OPS[name](c_in, c_out)})

    @property
    def op_name(self) -> str:
        return next(iter(self.keys()))

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: (B, c_in, H, W). ``weights`` is ignored (kept for a uniform call signature)."""
        return next(iter(self.values()))(x)
