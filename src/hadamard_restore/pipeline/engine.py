"""The training loop, generic over model, loss and data (``train.py`` wires in the real ones).

One optimizer step per loop iteration::

    deg, ref = sample(B * world, data_gen)[rank shard]     # crops/flips from a seeded generator
    out      = model(deg)                                  # bf16 autocast on GPU, fp32 on CPU
    L, terms = loss(out.float(), ref)                      # L = sum_i beta_i * loss_i
    clip_grad_norm(grad L, grad_clip); optimizer.step(); scheduler.step()

Every ``val_every`` steps (and at the last) rank 0 runs full-resolution validation on the
held-out split (PSNR of the 8-bit quantised, clamped output) and keeps the best model in
``model.pt``; every ``checkpoint_every`` steps (and at the last) it writes the full state to
``last.pt``: model, optimizer, scheduler, scaler, step, the data generator's state, the global
RNG states, best validation PSNR and the curves so far. Resuming restores all of them, so a run
killed at any point and resumed ends with the same weights as an uninterrupted run
(bitwise on CPU; tested).

Under torchrun the model is wrapped in DDP. All ranks share one data generator and draw the
global batch ``B * world``; each rank keeps its slice, so the data order does not depend on
the number of processes and the generator state is one tensor rank 0 can save.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from hadamard_restore import health
from hadamard_restore.artifacts import write_json
from hadamard_restore.errors import CheckpointError, HadamardRestoreError
from hadamard_restore.pipeline import checkpoint as ck
from hadamard_restore.pipeline.schedule import make_optimizer, make_scheduler
from hadamard_restore.pipeline.validate import validate_psnr
from hadamard_restore.runtime import Dist, get_logger

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


@dataclass
class LoopState:
    step: int = 0
    best_val_psnr: float = -math.inf
    best_step: int = 0
    history: dict = field(default_factory=lambda: {"train": [], "val": []})


class TrainingDiverged(HadamardRestoreError):
    """The loss became NaN or infinite."""


def _rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


class WeightAverage:
    """Exponential moving average of a model's parameters and buffers.

    After each optimizer step ``avg <- avg + (1 - decay) * (w - avg)`` for every floating-point
    tensor of the state dict (others are copied). The average, not the raw weights, is
    validated and saved as ``model.pt``: it swings far less from one checkpoint to the next.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(ck._unwrap(model)).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        live = ck._unwrap(model).state_dict()
        for name, avg in self.model.state_dict().items():
            if avg.is_floating_point():
                avg.lerp_(live[name].detach(), 1.0 - self.decay)
            else:
                avg.copy_(live[name])


def _autocast(device: torch.device, enabled: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled and device.type == "cuda")


def _tensorboard(run_dir: Path, purge_step: int | None, enabled: bool):
    if not enabled:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception as exc:  # tensorboard missing: curves still go to history.json
        log.warning("TensorBoard unavailable (%s); curves only in history.json", exc)
        return None
    return SummaryWriter(str(run_dir / "tensorboard"), purge_step=purge_step)


def fit(model: nn.Module, loss_fn: nn.Module, data: TrainData, tcfg, run_dir: str | Path, meta: dict, *,
        seed: int, device: torch.device, dist_ctx: Dist = Dist(), resume: bool = False,
        on_step: Callable[[int], None] | None = None, progress: bool = True) -> dict:
    """Train ``model`` with ``loss_fn`` for ``tcfg.steps`` optimizer steps.

    Args:
        model: the network (fresh weights, or any weights when ``resume``).
        loss_fn: ``loss_fn(out, target) -> (total, terms)`` with its weights fixed.
        data: train sampler and validation pairs.
        tcfg: a ``config.TrainConfig``.
        run_dir: where ``model.pt``, ``last.pt``, ``history.json`` and ``tensorboard/`` go.
        meta: the checkpoint meta block (``checkpoint.make_meta``).
        seed: seeds the data generator (``seed + 1``); the model is initialised by the caller.
        device: where to train.
        dist_ctx: torchrun context; rank 0 writes.
        resume: continue from ``run_dir/last.pt``.
        on_step: called with the step number after each step (tests use it).
        progress: show a tqdm bar on rank 0.

    Returns:
        Summary dict: paths of ``model.pt`` and ``last.pt``, best validation PSNR and its step.
    """
    run_dir = Path(run_dir)
    if tcfg.crop is None and tcfg.batch_size != 1:
        raise HadamardRestoreError("train.crop is null (full images) but train.batch_size is "
                                   f"{tcfg.batch_size}; full images differ in size, so use batch_size 1 or set a crop")
    if not data.val:
        raise HadamardRestoreError("the held-out validation split is empty; raise data.val_ratio or add pairs")
    model.to(device)
    fmt = torch.channels_last if tcfg.channels_last else torch.contiguous_format
    model.to(memory_format=fmt)
    loss_fn.to(device)
    optimizer = make_optimizer(model.parameters(), tcfg)
    scheduler = make_scheduler(optimizer, tcfg)
    scaler = torch.amp.GradScaler(device.type, enabled=False)  # bf16 needs no scaling; kept for fp16
    data_gen = torch.Generator().manual_seed(seed + 1)
    ema = WeightAverage(model, tcfg.ema_decay) if tcfg.ema_decay > 0 else None
    st = LoopState()
    last_path, best_path = run_dir / "last.pt", run_dir / "model.pt"

    if not resume and last_path.is_file() and dist_ctx.is_main:
        log.warning("%s already holds a training state; starting from scratch overwrites it "
                    "(use --resume to continue it instead)", run_dir)
    if resume:
        if not last_path.is_file():
            raise CheckpointError(f"--resume: {last_path} does not exist; nothing to resume in {run_dir}")
        blob = ck.load_training_state(last_path)
        ck.load_state_into(model, blob["state_dict"], source=f"checkpoint {last_path}")
        tr = blob["training"]
        optimizer.load_state_dict(tr["optimizer"])
        scheduler.load_state_dict(tr["scheduler"])
        # the restored step counter drives the schedule of *this* config (same config: identical;
        # a larger train.steps: the cosine stretches to the new end instead of staying at its floor)
        scheduler.lr_lambdas = make_scheduler(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0),
                                              tcfg).lr_lambdas
        scaler.load_state_dict(tr["scaler"])
        data_gen.set_state(tr["rng"]["data"])
        if ema is not None:
            if "ema" not in tr:
                raise CheckpointError(f"{last_path} was trained without train.ema_decay; resume with "
                                      "--set train.ema_decay=0 or start a new run")
            ck.load_state_into(ema.model, tr["ema"], source=f"weight average in {last_path}")
        _set_rng_state(tr["rng"], device)
        st = LoopState(tr["step"], tr["best_val_psnr"], tr["best_step"], tr["history"])
        log.info("resumed from %s at step %d (best val PSNR %.3f dB)", last_path, st.step, st.best_val_psnr)

    net = model
    if dist_ctx.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        net = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    writer = _tensorboard(run_dir, st.step if resume else None, dist_ctx.is_main)
    from tqdm.auto import tqdm

    bar = tqdm(total=tcfg.steps, initial=st.step, disable=not (progress and dist_ctx.is_main),
               desc="train", dynamic_ncols=True,
               mininterval=1.0 if sys.stderr.isatty() else 30.0)
    b, rank = tcfg.batch_size, dist_ctx.rank
    window: dict[str, list[float]] = {}
    t0 = time.time()

    def save_state() -> None:
        training = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "scaler": scaler.state_dict(), "step": st.step,
                    "rng": {"data": data_gen.get_state(), **_rng_state(device)},
                    "best_val_psnr": st.best_val_psnr, "best_step": st.best_step, "history": st.history}
        if ema is not None:
            training["ema"] = ck.cpu_state_dict(ema.model)
        health.check_finite(model, st.step, tcfg.lr, run_dir)  # never replace a good last.pt with NaNs
        ck.save_training_state(last_path, model, meta, training)
        write_json(run_dir / "history.json", st.history)

    model.train()
    while st.step < tcfg.steps:
        deg, ref = data.sample(b * dist_ctx.world_size, data_gen)
        deg = deg[rank * b:(rank + 1) * b].to(device, non_blocking=True).contiguous(memory_format=fmt)
        ref = ref[rank * b:(rank + 1) * b].to(device, non_blocking=True)
        with _autocast(device, tcfg.amp):
            out = net(deg)
        total, terms = loss_fn(out.float(), ref)
        if not torch.isfinite(total):
            raise health.diverged(f"the training loss became {total.item()}", st.step + 1, tcfg.lr, run_dir)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(total).backward()
        scaler.unscale_(optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        if ema is not None:
            ema.update(model)
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        st.step += 1

        values = {"loss": float(total.detach()), **{k: float(v.detach()) for k, v in terms.items()}}
        for k, v in values.items():
            window.setdefault(k, []).append(v)
        if writer is not None:
            for k, v in values.items():
                writer.add_scalar(f"train/{k}", v, st.step)
            writer.add_scalar("train/lr", lr, st.step)
            writer.add_scalar("train/grad_norm", float(grad_norm), st.step)
        if st.step % tcfg.log_every == 0 or st.step == tcfg.steps:
            mean = {k: sum(v) / len(v) for k, v in window.items()}
            st.history["train"].append({"step": st.step, "lr": lr, **mean})
            window.clear()
            bar.set_postfix(loss=f"{mean['loss']:.4f}", best=f"{st.best_val_psnr:.2f}", refresh=False)
        bar.update(1)

        if dist_ctx.is_main and (st.step % tcfg.val_every == 0 or st.step == tcfg.steps):
            judged = ema.model if ema is not None else model
            health.check_finite(judged, st.step, tcfg.lr, run_dir)
            psnr = health.checked_psnr(lambda: validate_psnr(judged, data.val, device, tcfg.val_max_images),
                                       st.step, tcfg.lr, run_dir)  # fp32, as evaluate
            st.history["val"].append({"step": st.step, "psnr": psnr})
            if writer is not None:
                writer.add_scalar("val/psnr", psnr, st.step)
            if psnr > st.best_val_psnr:
                st.best_val_psnr, st.best_step = psnr, st.step
                ck.save_model_meta(best_path, judged, meta, step=st.step, val_psnr=psnr)
            log.info("step %d: val PSNR %.3f dB (best %.3f at %d)", st.step, psnr, st.best_val_psnr, st.best_step)
            model.train()
        if dist_ctx.is_main and (st.step % tcfg.checkpoint_every == 0 or st.step == tcfg.steps):
            save_state()
        if on_step is not None:
            on_step(st.step)
    bar.close()
    if writer is not None:
        writer.close()
    summary = {"model": str(best_path), "last": str(last_path), "steps": st.step,
               "best_val_psnr": st.best_val_psnr, "best_step": st.best_step,
               "wall_s_this_session": round(time.time() - t0, 1)}
    if dist_ctx.is_main:
        write_json(run_dir / "train_summary.json", summary)
    return summary
