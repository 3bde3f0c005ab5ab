"""The training step the benchmarks time is the one training runs: :class:`~hadamard_restore.training.trainer.Trainer`.

``trainer_step`` builds a ``Trainer`` around a copy of the model, the loss and one fixed batch and
returns a zero-argument callable doing one ``Trainer.train_step`` (forward under the config's
autocast, loss mix, the divergence check, backward, clipping, AdamW, the scheduler): exactly the
per-step work of ``hadamard-restore train``, without validation, checkpoints or logging (the loop
around it, which runs every ``val_every`` / ``checkpoint_every`` / ``log_every`` steps).
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn


def trainer_step(
    model: nn.Module,
    loss: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    amp: bool = False,
    channels_last: bool = False,
) -> Callable[[], dict]:
    """One ``Trainer.train_step`` per call on the batch ``(x, y)`` (already on the device).

    ``amp`` is ``train.amp`` (bf16 autocast where bfloat16 is native) and ``channels_last`` is
    ``train.channels_last``; the schedule is constant so the learning rate never reaches zero.
    """
    from hadamard_restore.config_sections import TrainConfig
    from hadamard_restore.training.trainer import TrainData, Trainer

    tcfg = TrainConfig(
        steps=10**8,  # the largest train.steps allows: never reached by a benchmark
        batch_size=x.shape[0],
        crop=max(8, x.shape[-1]),
        schedule="constant",
        amp=amp,
        channels_last=channels_last,
    )
    data = TrainData(sample=lambda batch, gen: (x, y), val=[(x[0], y[0])])
    # a step writes nothing: the run directory (checkpoints, logs) belongs to the loop around it
    trainer = Trainer(
        copy.deepcopy(model),
        loss,
        data,
        tcfg,
        Path(tempfile.gettempdir()) / "unused-run-dir",
        meta={},
        seed=0,
        device=x.device,
        progress=False,
    )
    trainer.model.train()

    def step() -> dict:
        return trainer.train_step(trainer.model)[0]

    return step


def trainer_cases(model: nn.Module, loss: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, Callable[[], dict]]:
    """``{"eager", "channels_last"}`` Trainer steps in fp32, and where bfloat16 is native (a GPU, a
    CPU with AVX512-BF16 or AMX) the same with ``+ bf16`` (``channels_last + bf16`` is then the
    training default: ``train.amp`` and ``train.channels_last`` are on by default)."""
    from hadamard_restore.runtime.precision import native_bf16

    out = {}
    for name, cl in (("eager", False), ("channels_last", True)):
        for amp in (False, True) if native_bf16(x.device) else (False,):
            out[name + (" + bf16" if amp else "")] = trainer_step(model, loss, x, y, amp=amp, channels_last=cl)
    return out
