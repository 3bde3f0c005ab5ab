"""The two kinds of searched layer: a mixed op (supernet) and a chosen op (derived network).

Both are ``nn.ModuleDict`` keyed by op name, so the state-dict keys of a derived layer
(``<layer>.<op>.<param>``) are a subset of the supernet's keys for the same layer: copying a
supernet's weights into the derived network is a plain ``load_state_dict`` of that subset
(see :func:`hadamard_restore.net.network.copy_supernet_weights`).

The mixed op is one weighted sum (DARTS, docs/method.md 2.3):
``MixedOp(x) = sum_k w_k * op_k(x)`` with ``w = softmax(alpha_layer)`` computed once per
forward by the supernet and passed in. No per-op norm, no drop-path.

By default the sum is computed in fused form (:mod:`hadamard_restore.net.fused_mix`: the linear
candidates folded into one convolution, the dense blocks kept per kernel size), the same function
in 5 convolutions instead of 11 for an HNU layer. :func:`candidate_by_candidate` runs the candidates
one by one instead: to select one op bit-exactly with one-hot weights (:meth:`SuperNet.forward`
with an explicit ``mix`` does so), or to time the path as it was (``benchmarks/product/speed_paths.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from hadamard_restore.net.fused_mix import Kernels, Plan, apply_kernels, fused_forward, plan
from hadamard_restore.net.ops import OPS


class MixedOp(nn.ModuleDict):
    """All candidates of one layer, mixed by a weight vector.

    Args:
        candidates: op names (keys of ``OPS``), in primitive order.
        c_in, c_out: channel counts.
    """

    layer_label: str  # set by the supernet that builds the layer (its genotype label)
    fused: bool = True  # the class default; candidate_by_candidate() turns it off for a block
    prebuilt: Kernels | None = None  # this forward's combined kernels, when the supernet built them

    def __init__(self, candidates: Sequence[str], c_in: int, c_out: int) -> None:
        super().__init__({name: OPS[name](c_in, c_out) for name in candidates})
        self.c_in, self.c_out = c_in, c_out
        self._plan = plan(self, c_in)

    @property
    def fused_plan(self) -> Plan | None:
        """The fused form (None: a candidate that cannot be fused; the sum runs one by one)."""
        return self._plan

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``x``: (B, c_in, H, W); ``weights``: (K,) mixing weights in primitive order."""
        if weights.shape != (len(self),):
            raise ValueError(f"mixed op has {len(self)} candidates but got weights of shape {tuple(weights.shape)}")
        if self.fused and self._plan is not None:
            if self.prebuilt is not None:
                return apply_kernels(self._plan, x, self.prebuilt)
            return fused_forward(self._plan, self, x, weights)
        out: torch.Tensor | None = None
        for k, op in enumerate(self.values()):
            term = weights[k] * op(x)
            out = term if out is None else out + term
        if out is None:
            raise ValueError("mixed op has no candidates")
        return out


@contextlib.contextmanager
def candidate_by_candidate(module: nn.Module | None = None) -> Iterator[None]:
    """Inside the block, mixed ops sum their candidates one by one (the unfused form).

    Args:
        module: only the mixed ops inside it; None: every mixed op (the class default).
    """
    if module is None:
        saved = MixedOp.fused
        MixedOp.fused = False
        try:
            yield
        finally:
            MixedOp.fused = saved
        return
    ops = [m for m in module.modules() if isinstance(m, MixedOp)]
    for m in ops:
        m.fused = False
    try:
        yield
    finally:
        for m in ops:
            del m.fused  # back to the class default


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
