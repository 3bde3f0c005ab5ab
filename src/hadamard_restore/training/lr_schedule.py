"""Learning-rate schedules for training the derived network.

The factor multiplies the configured ``train.lr`` at step ``s`` (0-based, counted in
optimizer steps) of ``T`` total, with ``W`` warm-up steps:

* warm-up (``s < W``): ``(s + 1) / W`` (linear, reaching 1 at the end of warm-up);
* ``constant``: ``1`` afterwards (the authors' code, docs/method.md 5.4: no schedule);
* ``cosine``: ``eta_min_ratio + (1 - eta_min_ratio) * 0.5 * (1 + cos(pi * p))`` with
  ``p = (s - W) / max(1, T - W)`` in ``[0, 1]``, so the lr decays from ``lr`` to
  ``eta_min_ratio * lr`` at the last step.

The schedule is a picklable callable held by :class:`torch.optim.lr_scheduler.LambdaLR`,
so its state (the step counter) is saved and restored with the training checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch

from hadamard_restore.config import TrainConfig


@dataclass(frozen=True)
class LrFactor:
    """``factor(step)`` for ``kind`` in {"constant", "cosine"} (see module docstring)."""

    kind: str
    total_steps: int
    warmup_steps: int = 0
    eta_min_ratio: float = 0.01

    def __post_init__(self) -> None:
        if self.kind not in ("constant", "cosine"):
            raise ValueError(f"unknown lr schedule {self.kind!r}; use 'constant' or 'cosine'")
        if self.total_steps < 1 or self.warmup_steps < 0:
            raise ValueError("total_steps must be >= 1 and warmup_steps >= 0")

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.kind == "constant":
            return 1.0
        p = min(1.0, (step - self.warmup_steps) / max(1, self.total_steps - 1 - self.warmup_steps))
        return self.eta_min_ratio + (1.0 - self.eta_min_ratio) * 0.5 * (1.0 + math.cos(math.pi * p))


def make_optimizer(params: Iterable[torch.nn.Parameter], tcfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW or SGD (momentum, weight decay) from a ``TrainConfig``."""
    params = [p for p in params if p.requires_grad]
    if tcfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=tcfg.lr, momentum=tcfg.momentum, weight_decay=tcfg.weight_decay)
    return torch.optim.AdamW(params, lr=tcfg.lr, weight_decay=tcfg.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, tcfg: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR following :class:`LrFactor` for ``tcfg.schedule`` over ``tcfg.steps``."""
    factor = LrFactor(tcfg.schedule, tcfg.steps, min(tcfg.warmup_steps, tcfg.steps))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
