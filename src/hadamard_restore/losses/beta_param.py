"""How the loss search parametrises the loss weights β (``search.beta_param``).

Two parametrisations of the eight weights, both searched by the same hypergradient:

* ``projected`` (the paper's code, the default): β itself is the upper variable; after each
  Adam step it is projected onto β ≥ 0 (negative entries reset to 0). An upper objective that
  pushes every β down drives them all to 0, and an all-zero loss has no gradient. That state is
  never produced silently: :func:`project_nonnegative_` raises :class:`LossSearchCollapsedError`
  on the upper step that would zero the last positive weight (the β before the projection is in
  the message), so the stage stops there instead of writing a useless ``loss_weights.json``.
* ``softmax`` (beyond the paper): the upper variables are logits ``z`` and
  ``β = T · softmax(z)`` over the active terms, with the total ``T`` fixed at the sum of the
  starting weights (8 for the search's all-ones start: every weight starts at 1.0 as in the
  paper). The weights always sum to ``T`` and are all strictly positive, so no objective can
  collapse them; the search can only move weight between terms. Terms whose starting weight is
  exactly 0 are inactive: their β stays 0 and their logit gets no gradient.

``dβ_i/dz_j = β_i (δ_ij − β_j / T)``: every logit receives gradient unless the upstream
gradient is the same for every active term (a uniform push, which cannot change a distribution
with a fixed total).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from hadamard_restore.errors import LossWeightsError
from hadamard_restore.losses.loss_weights import LOSS_NAMES

BETA_PARAMS = ("projected", "softmax")


class LossSearchCollapsedError(LossWeightsError):
    """The projected loss search would set every loss weight to 0 (a loss without gradient)."""


def check_beta_param(name: str) -> str:
    if name not in BETA_PARAMS:
        raise LossWeightsError(
            f"unknown loss-weight parametrisation {name!r}; use one of {', '.join(BETA_PARAMS)} (search.beta_param)"
        )
    return name


def weights_list(weights: Mapping[str, float] | Sequence[float] | None) -> list[float]:
    """The eight starting weights in code order from a mapping (missing = 0), a list, or None (all 1.0)."""
    if weights is None:
        return [1.0] * len(LOSS_NAMES)
    if isinstance(weights, Mapping):
        unknown = sorted(set(weights) - set(LOSS_NAMES))
        if unknown:
            raise LossWeightsError(f"unknown loss names {unknown}; known: {', '.join(LOSS_NAMES)}")
        return [float(weights.get(n, 0.0)) for n in LOSS_NAMES]
    values = [float(v) for v in weights]
    if len(values) != len(LOSS_NAMES):
        raise LossWeightsError(f"expected {len(LOSS_NAMES)} weights in the order {list(LOSS_NAMES)}, got {len(values)}")
    return values


def softmax_init(values: Sequence[float]) -> tuple[Tensor, Tensor, float]:
    """Logits, active mask and total ``T`` such that ``T · softmax(z)`` reproduces ``values``.

    Raises:
        LossWeightsError: every starting weight is 0 (there is nothing to distribute).
    """
    v = torch.tensor([float(x) for x in values], dtype=torch.float64)
    active = v > 0
    total = float(v.sum())
    if not bool(active.any()) or not math.isfinite(total):
        raise LossWeightsError(
            "the softmax loss-weight parametrisation needs at least one positive starting "
            f"weight, got {[float(x) for x in values]}; start from e.g. --loss-weights equal"
        )
    logits = torch.where(active, torch.log(v.clamp_min(1e-300) / total), torch.zeros_like(v))
    return logits.float(), active, total


def softmax_weights(logits: Tensor, active: Tensor, total: float) -> Tensor:
    """``β = T · softmax(z)`` over the active entries, exactly 0 elsewhere (differentiable in ``z``)."""
    masked = logits.masked_fill(~active.to(logits.device), float("-inf"))
    return total * torch.softmax(masked, dim=0)


@torch.no_grad()
def project_nonnegative_(beta: Tensor) -> None:
    """Project onto β ≥ 0 in place; refuse the step that would leave every weight at 0.

    Raises:
        LossSearchCollapsedError: every entry is ≤ 0 after the upper step (β left untouched, so
            the values that caused it can be inspected).
    """
    if not bool((beta > 0).any()):
        before = ", ".join(f"{x:.3g}" for x in beta.detach().cpu().tolist())
        raise LossSearchCollapsedError(
            "the loss search collapsed: this upper step would project every loss weight β to 0 "
            f"(β before the projection: [{before}]), and an all-zero loss trains nothing. The upper "
            "objective pushes every weight down (often a weak stage-1 classifier: check its held-out "
            "accuracy). Use search.beta_param=softmax (weights with a fixed total, cannot collapse), "
            "or lower search.upper_lr, or run fewer search steps"
        )
    beta.clamp_(min=0.0)
