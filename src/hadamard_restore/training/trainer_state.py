"""A :class:`~hadamard_restore.training.trainer.Trainer`'s ``last.pt``: what it saves and how a
resume restores it (the file format is :mod:`hadamard_restore.training.state`).

Everything the loop's future depends on is saved: model, optimizer, scheduler, step, the data
generator's random stream, the weight average, best validation PSNR and the curves so far. So a
run killed at any point and resumed ends with the same weights as an uninterrupted run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from hadamard_restore.artifacts import write_json
from hadamard_restore.errors import CheckpointError
from hadamard_restore.net.model_file import cpu_state_dict, load_state_into
from hadamard_restore.runtime import get_logger
from hadamard_restore.runtime.rng import capture_rng, restore_rng
from hadamard_restore.training import health
from hadamard_restore.training.lr_schedule import make_scheduler
from hadamard_restore.training.state import LoopState, load_training_state, rng_in_current_layout, save_training_state

if TYPE_CHECKING:
    from hadamard_restore.training.trainer import Trainer

log = get_logger("hadamard_restore.train")


def resume_trainer(trainer: Trainer) -> None:
    """Restore everything from ``trainer.run_dir/last.pt``."""
    if not trainer.last_path.is_file():
        raise CheckpointError(f"--resume: {trainer.last_path} does not exist; nothing to resume in {trainer.run_dir}")
    blob = load_training_state(trainer.last_path)
    load_state_into(trainer.model, blob["state_dict"], source=f"checkpoint {trainer.last_path}")
    saved = blob["training"]
    settings = [{k: v for k, v in g.items() if k != "params"} for g in trainer.optimizer.param_groups]
    trainer.optimizer.load_state_dict(saved["optimizer"])
    trainer.scheduler.load_state_dict(saved["scheduler"])
    # the restored step counter drives the schedule of *this* config (same config: identical;
    # a larger train.steps: the cosine stretches to the new end instead of staying at its floor)
    trainer.scheduler.lr_lambdas = make_scheduler(
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0), trainer.tcfg
    ).lr_lambdas
    apply_settings(trainer.optimizer, trainer.scheduler, settings)
    if trainer.ema is not None:
        if "ema" not in saved:
            raise CheckpointError(
                f"{trainer.last_path} was trained without train.ema_decay; resume with "
                "--set train.ema_decay=0 or start a new run"
            )
        load_state_into(trainer.ema.model, saved["ema"], source=f"weight average in {trainer.last_path}")
    restore_rng(rng_in_current_layout(saved["rng"]), {"data": trainer.data_gen}, trainer.device)
    trainer.state = LoopState(saved["step"], saved["best_val_psnr"], saved["best_step"], saved["history"])
    log.info(
        "resumed from %s at step %d (best val PSNR %.3f dB)",
        trainer.last_path,
        trainer.state.step,
        trainer.state.best_val_psnr,
    )


def apply_settings(
    optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LambdaLR, settings: list[dict]
) -> None:
    """Put this config's optimizer settings (``settings``: each param group's lr, weight decay,
    momentum ... before the checkpoint was loaded) back over the restored ones, which are the
    checkpoint's: only the moments and the step counter continue. The base lrs become this
    config's and the current lr is the schedule's value at the restored step, so a change allowed
    on resume (``--set train.lr=...``) is the lr used, not only the one recorded."""
    for group, mine in zip(optimizer.param_groups, settings):
        group.update(mine)
    scheduler.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
    step = scheduler.last_epoch
    for group, base, factor in zip(optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas):
        group["lr"] = base * factor(step)
    scheduler._last_lr = [g["lr"] for g in optimizer.param_groups]


def save_trainer_state(trainer: Trainer) -> None:
    """Write ``last.pt`` and ``history.json`` (refusing non-finite weights: a good last.pt stays)."""
    state = trainer.state
    training = {
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict(),
        "step": state.step,
        "rng": capture_rng({"data": trainer.data_gen}),
        "best_val_psnr": state.best_val_psnr,
        "best_step": state.best_step,
        "history": state.history,
    }
    if trainer.ema is not None:
        training["ema"] = cpu_state_dict(trainer.ema.model)
    health.check_finite(trainer.model, state.step, trainer.tcfg.lr, trainer.run_dir)  # never replace a good last.pt
    save_training_state(trainer.last_path, trainer.model, trainer.meta, training)
    write_json(trainer.run_dir / "history.json", state.history)
