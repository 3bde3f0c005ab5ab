"""The training loop, generic over model, loss and data (``train.py`` wires in the real ones).

One optimizer step per loop iteration::

    deg, ref = sample(B * world, data_gen)[rank shard]     # crops/flips from a seeded generator
    out      = model(deg)                                  # bf16 autocast on GPU, fp32 on CPU
    L, terms = loss(out.float(), ref)                      # L = sum_i beta_i * loss_i
    clip_grad_norm(grad L, grad_clip); optimizer.step(); scheduler.step()

Every ``val_every`` steps (and at the last) rank 0 runs full-resolution validation on the
held-out split (PSNR of the 8-bit quantised, clamped output) and keeps the best model in
``model.pt``; every ``checkpoint_every`` steps (and at the last) it writes the full state to
``last.pt`` (:mod:`hadamard_restore.training.state`): model, optimizer, scheduler, step, every
random stream, best validation PSNR and the curves so far. Resuming restores all of them, so a
run killed at any point and resumed ends with the same weights as an uninterrupted run
(bitwise on CPU; tested).

Under torchrun the model is wrapped in DDP. All ranks share one data generator and draw the
global batch ``B * world``; each rank keeps its slice, so the data order does not depend on
the number of processes and the generator state is one tensor rank 0 can save.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from hadamard_restore.artifacts import write_json
from hadamard_restore.config import TrainConfig
from hadamard_restore.errors import CheckpointError, HadamardRestoreError
from hadamard_restore.losses.feature_precision import bf16_features
from hadamard_restore.net.model_file import cpu_state_dict, load_state_into, save_model_meta
from hadamard_restore.runtime.log import get_logger
from hadamard_restore.runtime.precision import native_bf16
from hadamard_restore.runtime.process import Dist
from hadamard_restore.runtime.rng import capture_rng, restore_rng
from hadamard_restore.training import health
from hadamard_restore.training.ema import WeightAverage
from hadamard_restore.training.lr_schedule import make_optimizer, make_scheduler
from hadamard_restore.training.state import (
    LoopState,
    best_weights,
    load_training_state,
    rng_in_current_layout,
    save_training_state,
)
from hadamard_restore.training.train_log import TrainLogger
from hadamard_restore.training.validation import validate_psnr

log = get_logger("hadamard_restore.train")


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


class Trainer:
    """Trains ``model`` with ``loss_fn`` for ``tcfg.steps`` optimizer steps (see the module docstring).

    Args:
        model: the network (fresh weights, or any weights when resuming).
        loss_fn: ``loss_fn(out, target) -> (total, terms)`` with its weights fixed.
        data: train sampler and validation pairs.
        tcfg: the ``train`` config section.
        run_dir: where ``model.pt``, ``last.pt``, ``history.json`` and ``tensorboard/`` go.
        meta: the checkpoint meta block (:func:`~hadamard_restore.net.model_file.make_meta`).
        seed: seeds the data generator (``seed + 1``); the model is initialised by the caller.
        device: where to train.
        dist_ctx: torchrun context; rank 0 writes.
        progress: show a tqdm bar on rank 0.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: nn.Module,
        data: TrainData,
        tcfg: TrainConfig,
        run_dir: str | Path,
        meta: dict,
        *,
        seed: int,
        device: torch.device,
        dist_ctx: Dist = Dist(),
        progress: bool = True,
    ) -> None:
        check_settings(tcfg, data)
        self.tcfg, self.data, self.meta, self.device, self.dist_ctx = tcfg, data, meta, device, dist_ctx
        self.run_dir, self.progress = Path(run_dir), progress
        self.memory_format = torch.channels_last if tcfg.channels_last else torch.contiguous_format
        self.bf16 = tcfg.amp and native_bf16(device)  # bfloat16 autocast only where it is fast
        self.model = model.to(device).to(memory_format=self.memory_format)
        self.loss_fn = loss_fn.to(device)
        self.optimizer = make_optimizer(model.parameters(), tcfg)
        self.scheduler = make_scheduler(self.optimizer, tcfg)
        self.data_gen = torch.Generator().manual_seed(seed + 1)
        self.ema = WeightAverage(model, tcfg.ema_decay) if tcfg.ema_decay > 0 else None
        self.state = LoopState()
        self.last_path, self.best_path = self.run_dir / "last.pt", self.run_dir / "model.pt"

    # ------------------------------------------------------------------ saving and resuming
    def resume(self) -> None:
        """Restore everything from ``run_dir/last.pt``: model, optimizer and scheduler (with this config's
        settings, :func:`apply_settings`), the weight average, the random stream, counters and curves."""
        if not self.last_path.is_file():
            raise CheckpointError(f"--resume: {self.last_path} does not exist; nothing to resume in {self.run_dir}")
        blob = load_training_state(self.last_path)
        load_state_into(self.model, blob["state_dict"], source=f"checkpoint {self.last_path}")
        saved = blob["training"]
        settings = [{k: v for k, v in g.items() if k != "params"} for g in self.optimizer.param_groups]
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        # the restored step counter drives the schedule of *this* config (same config: identical;
        # a larger train.steps: the cosine stretches to the new end instead of staying at its floor)
        self.scheduler.lr_lambdas = make_scheduler(
            torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0), self.tcfg
        ).lr_lambdas
        apply_settings(self.optimizer, self.scheduler, settings)
        if self.ema is not None:
            if "ema" not in saved:
                raise CheckpointError(
                    f"{self.last_path} was trained without train.ema_decay; resume with "
                    "--set train.ema_decay=0 or start a new run"
                )
            load_state_into(self.ema.model, saved["ema"], source=f"weight average in {self.last_path}")
        restore_rng(rng_in_current_layout(saved["rng"]), {"data": self.data_gen}, self.device)
        self.state = LoopState(saved["step"], saved["best_val_psnr"], saved["best_step"], saved["history"])
        log.info(
            "resumed from %s at step %d (best val PSNR %.3f dB)",
            self.last_path,
            self.state.step,
            self.state.best_val_psnr,
        )

    def save_state(self) -> None:
        """Write ``last.pt`` and ``history.json`` (refusing non-finite weights: a good last.pt stays)."""
        state = self.state
        training = {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "step": state.step,
            "rng": capture_rng({"data": self.data_gen}),
            "best_val_psnr": state.best_val_psnr,
            "best_step": state.best_step,
            "history": state.history,
        }
        if self.ema is not None:
            training["ema"] = cpu_state_dict(self.ema.model)
        health.check_finite(self.model, state.step, self.tcfg.lr, self.run_dir)  # never replace a good last.pt
        save_training_state(self.last_path, self.model, self.meta, training)
        write_json(self.run_dir / "history.json", state.history)

    # ------------------------------------------------------------------ one step
    def train_step(self, net: nn.Module) -> tuple[dict[str, float], float, float]:
        """One optimizer step; returns ``(logged values, lr used, gradient norm)``."""
        b, rank = self.tcfg.batch_size, self.dist_ctx.rank
        deg, ref = self.data.sample(b * self.dist_ctx.world_size, self.data_gen)
        deg = (
            deg[rank * b : (rank + 1) * b]
            .to(self.device, non_blocking=True)
            .contiguous(memory_format=self.memory_format)
        )
        ref = ref[rank * b : (rank + 1) * b].to(self.device, non_blocking=True)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            out = net(deg)
        with bf16_features(self.bf16):
            total, terms = self.loss_fn(out.float(), ref)
        if not torch.isfinite(total):
            raise health.diverged(
                f"the training loss became {total.item()}", self.state.step + 1, self.tcfg.lr, self.run_dir
            )
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.tcfg.grad_clip)
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.model, self.state.step)
        lr = self.optimizer.param_groups[0]["lr"]
        self.scheduler.step()
        self.state.step += 1
        values = {"loss": float(total.detach()), **{k: float(v.detach()) for k, v in terms.items()}}
        return values, lr, float(grad_norm)

    def _score(self, net: nn.Module) -> float:
        health.check_finite(net, self.state.step, self.tcfg.lr, self.run_dir)
        return health.checked_psnr(
            lambda: validate_psnr(net, self.data.val, self.device, self.tcfg.val_max_images),
            self.state.step,
            self.tcfg.lr,
            self.run_dir,
        )

    def validate(self, writer) -> None:
        """Validation PSNR (fp32, as evaluate) of the raw weights and, with ``train.ema_decay``, of
        their average; the better of the two is this step's score, and the best score so far is
        kept as model.pt (its meta and the history say which weights it holds)."""
        state, averaged = self.state, self.ema.model if self.ema is not None else None
        scores = {"raw": self._score(self.model)}
        if averaged is not None and state.step > 0:  # before the first step the average is the weights themselves
            scores["ema"] = self._score(averaged)
        kind = max(scores, key=lambda k: scores[k])  # ties keep the raw weights
        psnr = scores[kind]
        entry = {"step": state.step, "psnr": psnr, "weights": kind, **{f"psnr_{k}": v for k, v in scores.items()}}
        state.history["val"].append(entry)
        if writer is not None:
            for k, v in scores.items():
                writer.add_scalar(f"val/psnr_{k}", v, state.step)
        if psnr > state.best_val_psnr:
            state.best_val_psnr, state.best_step = psnr, state.step
            judged = averaged if kind == "ema" and averaged is not None else self.model
            save_model_meta(self.best_path, judged, self.meta, step=state.step, val_psnr=psnr, weights=kind)
        log.info(
            "step %d: val PSNR %s (best %.3f at %d)",
            state.step,
            ", ".join(f"{k} {v:.3f} dB" for k, v in scores.items()),
            state.best_val_psnr,
            state.best_step,
        )
        self.model.train()

    # ------------------------------------------------------------------ the loop
    def _wrapped(self) -> nn.Module:
        if not self.dist_ctx.enabled:
            return self.model

        return DistributedDataParallel(
            self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
        )

    def _due(self, every: int) -> bool:
        return self.dist_ctx.is_main and (self.state.step % every == 0 or self.state.step == self.tcfg.steps)

    def fit(self, on_step: Callable[[int], None] | None = None, score_start: bool = False) -> dict:
        """Run the remaining steps; returns the summary (also written to ``train_summary.json``).
        ``score_start``: validate the weights the run starts from before the first step (a fine-tune:
        model.pt then never scores below them)."""
        net, t0 = self._wrapped(), time.time()
        logger = TrainLogger(self.run_dir, self.tcfg, self.state, self.dist_ctx.is_main, self.progress)
        self.model.train()
        self.step_seconds: list[float] = []
        try:
            if score_start and self.state.step == 0 and self.dist_ctx.is_main:
                self.validate(logger.writer)
            while self.state.step < self.tcfg.steps:
                started = time.perf_counter()
                values, lr, grad_norm = self.train_step(net)  # ends with a host sync (the loss value)
                self.step_seconds.append(time.perf_counter() - started)
                logger.log(values, lr, grad_norm)
                if self._due(self.tcfg.val_every):
                    self.validate(logger.writer)
                if self._due(self.tcfg.checkpoint_every):
                    self.save_state()
                if on_step is not None:
                    on_step(self.state.step)
        finally:
            logger.close()
        return self._summary(t0)

    def _summary(self, t0: float) -> dict:
        state = self.state
        summary = {
            "model": str(self.best_path),
            "last": str(self.last_path),
            "steps": state.step,
            "best_val_psnr": state.best_val_psnr,
            "best_step": state.best_step,
            "best_weights": best_weights(state.history, state.best_step),
            "wall_s_this_session": round(time.time() - t0, 1),
            # what train.amp became on this device (bf16 only where native): runs on two machines can differ
            "precision": "bf16 autocast" if self.bf16 else "float32",
            # optimizer steps only (validation and checkpoints excluded), as the search summaries
            "seconds_per_step_median": sorted(self.step_seconds)[len(self.step_seconds) // 2]
            if self.step_seconds
            else None,
        }
        if self.dist_ctx.is_main:
            write_json(self.run_dir / "train_summary.json", summary)
        return summary


def fit(
    *trainer_args: Any,
    resume: bool = False,
    score_start: bool = False,
    on_step: Callable[[int], None] | None = None,
    **trainer_kwargs: Any,
) -> dict:
    """Train with ``Trainer(*trainer_args, **trainer_kwargs)``, from scratch or (``resume``) from
    ``run_dir/last.pt``.

    Args:
        trainer_args, trainer_kwargs: the :class:`Trainer`'s arguments (``model, loss_fn, data, tcfg,
            run_dir, meta, seed=, device=``, optionally ``dist_ctx=, progress=``).
        resume: restore everything from ``run_dir/last.pt`` first.
        score_start: validate the starting weights before the first step (:meth:`Trainer.fit`).
        on_step: called with the step number after every optimizer step.

    Returns:
        Summary dict: paths of ``model.pt`` and ``last.pt``, best validation PSNR and its step.
    """
    trainer = Trainer(*trainer_args, **trainer_kwargs)
    if resume:
        trainer.resume()
    elif trainer.last_path.is_file() and trainer.dist_ctx.is_main:
        log.warning(
            "%s already holds a training state; starting from scratch overwrites it "
            "(use --resume to continue it instead)",
            trainer.run_dir,
        )
    return trainer.fit(on_step, score_start=score_start)
