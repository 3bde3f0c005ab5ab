"""The ``{name: tensor}`` dicts :func:`~hadamard_restore.search.hypergrad.unrolled_hypergradient`
works on, read from a model and from its weights' SGD optimiser (both re-exported there)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor


def named_weights(model: torch.nn.Module, weights: Sequence[Tensor]) -> dict[str, Tensor]:
    """``{name: parameter}`` for the given parameters of ``model`` (e.g. ``model.weights()``).

    The names are the ones ``torch.func.functional_call(model, params, ...)`` expects.
    """
    ids = {id(p) for p in weights}
    out: dict[str, Tensor] = {n: p for n, p in model.named_parameters() if id(p) in ids}
    if len(out) != len(ids):
        raise ValueError(f"{len(ids) - len(out)} of the given weights are not parameters of the model")
    return out


def momentum_buffers(optimizer: torch.optim.Optimizer, named: Mapping[str, Tensor]) -> dict[str, Tensor | None]:
    """The SGD momentum buffer of each named weight (None before the first real step)."""
    return {n: optimizer.state.get(p, {}).get("momentum_buffer") for n, p in named.items()}
