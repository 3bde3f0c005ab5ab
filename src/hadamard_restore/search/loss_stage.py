"""Stage 1, the loss search (method.md 4, 5.1, 6): β and the VGG-layer logits against a classifier.

* Network: the supernet with α frozen (at its random ≈ uniform init, or at the previous
  round's α), instance norm (method.md 1.4); or the bundled U-Net (``search.loss_model: unet``,
  the paper's Fig. 6: the loss search is not tied to the supernet).
* Lower level: the network weights, SGD (lr ``search.w_lr``, momentum 0.9, no weight decay,
  clip 5) on ``Σ β_i loss_i`` with the relaxed VGG term and TV and Laplacian active, on
  search-train crops.
* Upper level: β (8, init 1.0) and the VGG logits, Adam (5e-4, betas (0.5, 0.999), wd 1e-4),
  then β projected onto β ≥ 0. Objective: the frozen classifier's cross-entropy of "clear" on
  the outputs for search-validation inputs drawn at random each step (their references are
  never used). The hypergradient is second order (finite differences by default, or exact);
  first order is refused because it gives β exactly zero gradient (method.md 6.3).

Outputs in ``run_dir``: ``loss_weights.json`` (raw β, argmax VGG layers, the softmax per group,
TV/Laplacian as searched), ``search_loss.json`` (summary, time per step), the plots
``beta_over_steps.png`` and ``beta_softmax.png``, ``checkpoint.pt`` and ``tb/``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Mapping

import torch
from torch import Tensor

from hadamard_restore.config import RunConfig
from hadamard_restore.runtime import Dist
from hadamard_restore.search import ddp
from hadamard_restore.search.build import forward, log, loss_model, setup
from hadamard_restore.search.data import rank_generators, search_data
from hadamard_restore.search.hypergrad import check_mode
from hadamard_restore.search.loop import Problem, run_bilevel
from hadamard_restore.search.summary import finish_stage
from hadamard_restore.search.upper import judge_for, upper_objective


def search_mix(cfg: RunConfig, device: torch.device, round_: int = 1):
    """The stage-1 loss mix: all β = 1.0, relaxed VGG logits 1e-3·N(0,1), TV and Lap active."""
    from hadamard_restore.losses.mix import LossMix

    gen = torch.Generator().manual_seed(cfg.seed * 7919 + round_)
    return LossMix(None, None, cfg.loss.vgg_backbone, lpips_net=cfg.loss.lpips_net, generator=gen,
                   beta_param=cfg.search.beta_param).to(device)


def describe_mix(mix) -> dict[str, float]:
    """Every β and every VGG-candidate probability, as log scalars."""
    from hadamard_restore.losses.loss_weights import LOSS_NAMES

    out = {f"beta/{n}": float(b) for n, b in zip(LOSS_NAMES, mix.beta.detach().cpu().tolist())}
    for g, probs in enumerate(mix.vgg_softmax() or []):
        out.update({f"vgg_group{g + 1}/{name}": p for name, p in probs.items()})
    return out


def loss_problem(cfg: RunConfig, clf: torch.nn.Module, sample, device: torch.device, rank: int = 0,
                 alpha: Mapping[str, Tensor] | None = None, round_: int = 1):
    """The stage-1 :class:`Problem` and its loss mix (see the module docstring).

    Args:
        clf: the frozen classifier (eval mode).
        sample: ``(which, generator) -> (degraded, reference)`` batches.
        rank: this process's rank (picks its data streams).
    """
    model, weights = loss_model(cfg, device, alpha)
    mix = search_mix(cfg, device, round_)

    def train_loss(params, batch):
        return mix(forward(model, params, batch[0]), batch[1])

    objective = upper_objective(cfg.search.upper, clf)

    def upper_loss(params, batch):
        return objective(forward(model, params, batch[0]), batch[1])

    problem = Problem("loss", model, weights, mix.upper_parameters(), train_loss, upper_loss, sample,
                      rank_generators(cfg.seed, "loss", rank, round_), project=mix.project_,
                      describe=lambda: describe_mix(mix))
    return problem, mix


def search_loss(cfg: RunConfig, run_dir: str | Path, *, alpha: Mapping[str, Tensor] | None = None,
                resume: bool = False, round_: int = 1, stop_after: int | None = None,
                env: tuple[torch.device, Dist] | None = None) -> Path | None:
    """Run stage 1 and write ``loss_weights.json`` into ``run_dir``.

    Args:
        cfg: the run config (``search``, ``classifier``, ``net``, ``loss``, ``data`` sections).
        run_dir: the stage directory.
        alpha: ``{group: logits}`` to freeze the supernet at (a previous round's α).
        resume: continue from ``run_dir/checkpoint.pt`` when present.
        round_: the alternation round (seeds the data streams and the VGG-logit init).
        stop_after: stop after this many steps without writing results (tests of resume).
        env: ``(device, dist)`` when the caller has already set up the process.

    Returns:
        The path of ``loss_weights.json`` (None when stopped early).
    """
    check_mode(cfg.search.hessian, "loss")
    run_dir = Path(run_dir)
    device, dist_ctx = env if env is not None else setup(cfg)
    clf, clf_rec = judge_for(cfg, run_dir, device, dist_ctx)
    data = search_data(cfg, device, run_dir, dist_ctx)
    problem, mix = loss_problem(cfg, clf, data.sample, device, dist_ctx.rank, alpha, round_)
    t0 = time.perf_counter()
    history = run_bilevel(problem, cfg.search, cfg.search.loss_steps, run_dir, dist_ctx, resume, stop_after)
    if len(history) < cfg.search.loss_steps:
        return None
    out = run_dir / "loss_weights.json"
    if dist_ctx.is_main:
        from hadamard_restore.losses.loss_weights import LOSS_NAMES
        from hadamard_restore.search.plots import plot_beta_history, plot_beta_softmax

        lw = mix.to_weights(name=f"searched-{cfg.name}", source=f"hadamard-restore search-loss ({run_dir})",
                            notes="raw searched beta; VGG layers = argmax per group; TV/Laplacian as searched")
        lw.vgg_layers = mix.selected_layers()
        lw.extra["classifier"], lw.extra["upper"] = clf_rec, cfg.search.upper
        lw.save(out)
        if not lw.is_active():
            log.warning("loss search collapsed: every beta was projected to 0 (%s); the next stage "
                        "and training will refuse these weights", out)
        plot_beta_history(history, LOSS_NAMES, run_dir / "beta_over_steps.png")
        plot_beta_softmax(mix.beta.detach().cpu().tolist(), LOSS_NAMES, run_dir / "beta_softmax.png")
        finish_stage(run_dir / "search_loss.json", "loss", cfg, history, time.perf_counter() - t0,
                     dist_ctx, {"beta": lw.weights, "vgg_layers": lw.vgg_layers,
                                "loss_model": cfg.search.loss_model, "round": round_,
                                "classifier": clf_rec})
        log.info("loss search done: %s", out)
    ddp.barrier(dist_ctx)
    return out
