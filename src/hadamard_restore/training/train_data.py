"""What the training loop (:class:`~hadamard_restore.training.trainer.Trainer`) needs from the data
layer: a seeded sampler of training crops and the held-out validation pairs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from hadamard_restore.config import TrainConfig
from hadamard_restore.errors import HadamardRestoreError

Sampler = Callable[[int, torch.Generator], tuple[Tensor, Tensor]]


@dataclass
class TrainData:
    """What the loop needs from the data layer.

    Attributes:
        sample: ``sample(batch, generator) -> (degraded, reference)``, each ``(batch, 3, h, w)``
            in [0, 1]; all randomness from ``generator``.
        val: held-out ``(degraded, reference)`` pairs, each ``(3, H, W)``, full resolution.
    """

    sample: Sampler
    val: Sequence[tuple[Tensor, Tensor]]


def check_settings(tcfg: TrainConfig, data: TrainData) -> None:
    """Refuse settings the loop cannot run with, saying what to change."""
    if tcfg.crop is None and tcfg.batch_size != 1:
        raise HadamardRestoreError(
            "train.crop is null (full images) but train.batch_size is "
            f"{tcfg.batch_size}; full images differ in size, so use batch_size 1 or set a crop"
        )
    if not data.val:
        raise HadamardRestoreError("the held-out validation split is empty; raise data.val_ratio or add pairs")
