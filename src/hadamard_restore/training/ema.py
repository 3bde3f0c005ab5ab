"""Exponential moving average of a model's weights (``train.ema_decay``)."""

from __future__ import annotations

import copy

import torch
from torch import nn

from hadamard_restore.net.model_file import unwrap_model


class WeightAverage:
    """Exponential moving average of a model's parameters and buffers.

    After each optimizer step ``avg <- avg + (1 - decay) * (w - avg)`` for every floating-point
    tensor of the state dict (others are copied). The average, not the raw weights, is
    validated and saved as ``model.pt``: it swings far less from one checkpoint to the next.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(unwrap_model(model)).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        live = unwrap_model(model).state_dict()
        for name, avg in self.model.state_dict().items():
            if avg.is_floating_point():
                avg.lerp_(live[name].detach(), 1.0 - self.decay)
            else:
                avg.copy_(live[name])
