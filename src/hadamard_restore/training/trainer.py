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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hadamard_restore.artifacts import write_json
from hadamard_restore.config import TrainConfig
from hadamard_restore.losses.feature_precision import bf16_features
from hadamard_restore.net.model_file import save_model_meta
from hadamard_restore.runtime import Dist, get_logger
from hadamard_restore.runtime.precision import native_bf16
from hadamard_restore.training import health
from hadamard_restore.training.ema import WeightAverage
from hadamard_restore.training.lr_schedule import make_optimizer, make_scheduler
from hadamard_restore.training.state import LoopState, best_weights
from hadamard_restore.training.train_data import Sampler as Sampler  # re-exported
from hadamard_restore.training.train_data import TrainData, check_settings
from hadamard_restore.training.train_log import TrainLogger
from hadamard_restore.training.trainer_state import resume_trainer, save_trainer_state
from hadamard_restore.training.validation import validate_psnr

log = get_logger("hadamard_restore.train")


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
        """Restore everything from ``run_dir/last.pt``."""
        resume_trainer(self)

    def save_state(self) -> None:
        """Write ``last.pt`` and ``history.json``."""
        save_trainer_state(self)

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
        if averaged is not None:
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
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(
            self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
        )

    def _due(self, every: int) -> bool:
        return self.dist_ctx.is_main and (self.state.step % every == 0 or self.state.step == self.tcfg.steps)

    def fit(self, on_step: Callable[[int], None] | None = None) -> dict:
        """Run the remaining steps; returns the summary (also written to ``train_summary.json``)."""
        net, t0 = self._wrapped(), time.time()
        logger = TrainLogger(self.run_dir, self.tcfg, self.state, self.dist_ctx.is_main, self.progress)
        self.model.train()
        self.step_seconds: list[float] = []
        try:
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
    on_step: Callable[[int], None] | None = None,
    **trainer_kwargs: Any,
) -> dict:
    """Train with ``Trainer(*trainer_args, **trainer_kwargs)``, from scratch or (``resume``) from
    ``run_dir/last.pt``.

    Args:
        trainer_args, trainer_kwargs: the :class:`Trainer`'s arguments (``model, loss_fn, data, tcfg,
            run_dir, meta, seed=, device=``, optionally ``dist_ctx=, progress=``).
        resume: restore everything from ``run_dir/last.pt`` first.
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
    return trainer.fit(on_step)
