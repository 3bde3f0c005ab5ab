"""Exponential moving average of a model's weights (``train.ema_decay``), with a warm-up."""

from __future__ import annotations

import copy

import torch
from torch import nn

from hadamard_restore.net.model_file import unwrap_model


def warmed_decay(decay: float, updates: int) -> float:
    """The decay used for update number ``updates`` (0-based): ``min(decay, (1 + t) / (10 + t))``.

    Without a warm-up the average of a run of ``n`` steps still holds ``decay ** n`` of the random
    initialisation (13.5 % after 2000 steps at 0.999), so a short run saved a model worse than its
    raw weights. With it the initialisation's share after ``n`` updates is
    ``prod_t min(decay, (1 + t) / (10 + t))``, below 1e-9 after 20 updates.
    """
    return min(decay, (1.0 + updates) / (10.0 + updates))


class WeightAverage:
    """Exponential moving average of a model's parameters and buffers.

    After optimizer step number ``t`` (0-based) ``avg <- avg + (1 - d_t) * (w - avg)`` with
    ``d_t = warmed_decay(decay, t)``, for every floating-point tensor of the state dict (others are
    copied). The trainer passes ``t`` from its step counter, so a resumed run continues the
    same sequence of decays. Validation scores the average and the raw weights and keeps the
    better (:meth:`~hadamard_restore.training.trainer.Trainer.validate`).
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(unwrap_model(model)).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, updates: int) -> None:
        """Fold in the weights after update number ``updates`` (0 for the first)."""
        weight = 1.0 - warmed_decay(self.decay, updates)
        live = unwrap_model(model).state_dict()
        for name, avg in self.model.state_dict().items():
            if avg.is_floating_point():
                avg.lerp_(live[name].detach(), weight)
            else:
                avg.copy_(live[name])
