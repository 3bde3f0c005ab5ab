"""The bilevel step and loop that both stages (and the joint mode) run.

One step (docs/method.md 5.1/5.2, the order of the authors' code and DARTS):

1. draw a train batch and a validation batch from this rank's generators;
2. **upper step**: the unrolled hypergradient of ``L_up`` w.r.t. the upper variables
   (:func:`~hadamard_restore.search.hypergrad.unrolled_hypergradient`, virtual step with the
   real optimiser's momentum buffers), Adam, then the stage's projection (β ≥ 0);
3. **lower step**: SGD with momentum on ``L_tr`` for the weights only (gradients of the upper
   variables from this backward are not taken), all-reduced over ranks, norm-clipped.

The loop logs every loss term each step (TensorBoard, progress bar), checkpoints the full
state every ``cfg.checkpoint_every`` steps and at the end, and resumes from the last one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from hadamard_restore.config import SearchConfig
from hadamard_restore.errors import CheckpointError
from hadamard_restore.runtime.log import get_logger
from hadamard_restore.runtime.process import Dist, all_reduce_grads, gather_objects
from hadamard_restore.runtime.rng import capture_rng as rng_state
from hadamard_restore.runtime.rng import restore_rng as set_rng_state
from hadamard_restore.search import ddp
from hadamard_restore.search.hypergrad import momentum_buffers, unrolled_hypergradient
from hadamard_restore.search.logs import StepLogger
from hadamard_restore.search.state import SearchState, copy_into, load_state, save_state

Batch = tuple[Tensor, Tensor]
log = get_logger("hadamard_restore.search")


@dataclass
class Problem:
    """One bilevel problem, fully explicit.

    Attributes:
        stage: ``loss``, ``arch`` or ``joint`` (names checkpoints and refuses foreign ones).
        model: the network whose weights are the lower variables.
        weights: ``{name: parameter}`` of the lower variables (names as for functional_call).
        upper: the upper variables (parameters), in a fixed order.
        train_loss: ``(params, batch) -> (L_tr, {term: value})``.
        upper_loss: ``(params, batch) -> L_up``.
        sample: ``(which, generator) -> batch`` with ``which`` in {"train", "val"}.
        generators: this rank's named generators (all sampling draws from these).
        project: applied to the upper variables after each Adam step (e.g. β ≥ 0).
        scalars: extra scalars to log each step (β values, α entropies, ...).
    """

    stage: str
    model: torch.nn.Module
    weights: dict[str, Tensor]
    upper: list[Tensor]
    train_loss: Callable[[dict[str, Tensor], Batch], tuple[Tensor, dict[str, Tensor]]]
    upper_loss: Callable[[dict[str, Tensor], Batch], Tensor]
    sample: Callable[[str, torch.Generator], Batch]
    generators: dict[str, torch.Generator]
    project: Callable[[], None] = lambda: None
    scalars: Callable[[], dict[str, float]] = lambda: {}


def make_optimizers(problem: Problem, cfg: SearchConfig) -> tuple[torch.optim.SGD, torch.optim.Adam]:
    """SGD for w (lr η, momentum μ, no weight decay: docs/method.md 5.1) and Adam for θ (3.1)."""
    w_opt = torch.optim.SGD(list(problem.weights.values()), lr=cfg.w_lr, momentum=cfg.w_momentum)
    up_opt = torch.optim.Adam(
        problem.upper,
        lr=cfg.upper_lr,
        betas=(cfg.upper_betas[0], cfg.upper_betas[1]),
        weight_decay=cfg.upper_weight_decay,
    )
    return w_opt, up_opt


def bilevel_step(
    problem: Problem, w_opt: torch.optim.Optimizer, up_opt: torch.optim.Optimizer, cfg: SearchConfig, dist_ctx: Dist
) -> dict[str, float]:
    """One upper step then one lower step; returns the scalars to log."""
    train_batch = problem.sample("train", problem.generators["train"])
    val_batch = problem.sample("val", problem.generators["val"])
    lr = w_opt.param_groups[0]["lr"]

    hypergrad = unrolled_hypergradient(
        problem.weights,
        problem.upper,
        lambda p: problem.train_loss(p, train_batch)[0],
        lambda p: problem.upper_loss(p, val_batch),
        lr=lr,
        momentum=cfg.w_momentum,
        momentum_buffers=momentum_buffers(w_opt, problem.weights),
        weight_decay=cfg.virtual_weight_decay,
        mode=cfg.hessian,
        reduce=(lambda ts: ddp.average_(ts, dist_ctx)) if dist_ctx.enabled else None,
    )
    up_opt.zero_grad(set_to_none=True)
    for p, g in zip(problem.upper, hypergrad.grads):
        p.grad = g.detach().to(p.dtype).clone()
    zero = torch.zeros((), dtype=torch.float64)  # the sum's start: a tensor, so sqrt gets one
    hyper_norm = float(torch.sqrt(sum(((g.double() ** 2).sum() for g in hypergrad.grads), zero)))
    up_opt.step()
    problem.project()

    w_opt.zero_grad(set_to_none=True)
    total, terms = problem.train_loss(problem.weights, train_batch)
    total.backward(inputs=list(problem.weights.values()))
    all_reduce_grads(problem.weights.values(), dist_ctx)
    grad_norm = float(torch.nn.utils.clip_grad_norm_(list(problem.weights.values()), cfg.grad_clip))
    w_opt.step()

    record = {
        "loss/train": float(total.detach()),
        "loss/upper": hypergrad.upper_loss,
        "hyper/grad_norm": hyper_norm,
        "hyper/epsilon": hypergrad.epsilon,
        "hyper/v_norm": hypergrad.v_norm,
        "hyper/virtual_step_norm": hypergrad.step_norm,
        "weights/grad_norm": grad_norm,
    }
    record.update({f"terms/{k}": float(v.detach()) for k, v in terms.items()})
    record.update(problem.scalars())
    return record


def _restore(problem: Problem, w_opt, up_opt, ckpt: Path, dist_ctx: Dist) -> tuple[int, list[dict]]:
    state = load_state(ckpt, problem.stage)
    if len(state.rng) != dist_ctx.world_size:
        raise CheckpointError(
            f"{ckpt} was written by {len(state.rng)} process(es), this run has "
            f"{dist_ctx.world_size}; resume with the same --nproc_per_node"
        )
    problem.model.load_state_dict(state.model)
    copy_into(problem.upper, state.upper)
    for opt, saved in ((w_opt, state.w_opt), (up_opt, state.upper_opt)):
        mine = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
        opt.load_state_dict(saved)
        for group, settings in zip(opt.param_groups, mine):  # this config's lr, momentum ...; the
            group.update(settings)  # moments continue (a resume may change them: --allow-changes)
    set_rng_state(state.rng[dist_ctx.rank], problem.generators)
    return state.step, state.history


def _save(problem: Problem, w_opt, up_opt, ckpt: Path, step: int, history: list, dist_ctx: Dist) -> None:
    rngs = gather_objects(rng_state(problem.generators), dist_ctx)
    if dist_ctx.is_main:
        save_state(
            ckpt,
            SearchState(
                problem.stage,
                step,
                problem.model.state_dict(),
                problem.upper,
                w_opt.state_dict(),
                up_opt.state_dict(),
                rngs,
                history,
            ),
        )


def run_bilevel(
    problem: Problem,
    cfg: SearchConfig,
    steps: int,
    run_dir: Path,
    dist_ctx: Dist,
    resume: bool = False,
    stop_after: int | None = None,
) -> list[dict]:
    """Run ``steps`` bilevel steps; return the per-step history.

    The parameters are identical on every rank after every step; the logged loss values are
    each rank's own (rank 0's are the ones written to TensorBoard and the checkpoint).

    Args:
        problem: the stage's :class:`Problem`.
        cfg: the ``search`` config section (learning rates, momentum, clip, hessian, intervals).
        steps: total steps of this stage.
        run_dir: the stage's directory (``checkpoint.pt`` and ``tensorboard/`` go there).
        dist_ctx: the distributed context (rank 0 writes files).
        resume: continue from ``run_dir/checkpoint.pt`` when it exists.
        stop_after: stop (as if killed) once this many steps are done, after checkpointing;
            for tests of resume.
    """
    w_opt, up_opt = make_optimizers(problem, cfg)
    ckpt = Path(run_dir) / "checkpoint.pt"
    start = 0
    history: list[dict] = []
    if resume and ckpt.is_file():
        start, history = _restore(problem, w_opt, up_opt, ckpt, dist_ctx)
        log.info("%s stage: resumed from %s at step %d/%d", problem.stage, ckpt, start, steps)
    else:
        ddp.broadcast_(list(problem.model.parameters()) + problem.upper, dist_ctx)
    problem.model.train()
    logger = StepLogger(run_dir, problem.stage, total=steps, initial=start, enabled=dist_ctx.is_main)
    try:
        for step in range(start, steps):
            t0 = time.perf_counter()
            record = {"step": step + 1, **bilevel_step(problem, w_opt, up_opt, cfg, dist_ctx)}
            record["time/step_s"] = time.perf_counter() - t0
            history.append(record)
            logger.log(record)
            done = step + 1
            if done % cfg.checkpoint_every == 0 or done == steps or done == stop_after:
                _save(problem, w_opt, up_opt, ckpt, done, history, dist_ctx)
            if stop_after is not None and done >= stop_after:
                break
    finally:
        logger.close()
    return history
