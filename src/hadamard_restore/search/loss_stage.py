"""Stage 1, the loss search (docs/method.md 4, 5.1, 6): β and the VGG-layer logits against a classifier.

* Network: the supernet with α frozen (at its random ≈ uniform init, or at the previous
  round's α), instance norm (docs/method.md 1.4); or the bundled U-Net (``search.loss_model: unet``,
  the paper's Fig. 6: the loss search is not tied to the supernet).
* Lower level: the network weights, SGD (lr ``search.w_lr``, momentum 0.9, no weight decay,
  clip 5) on ``Σ β_i loss_i`` with the relaxed VGG term and TV and Laplacian active, on
  search-train crops.
* Upper level: β (8, init 1.0) and the VGG logits, Adam (5e-4, betas (0.5, 0.999), wd 1e-4),
  then β projected onto β ≥ 0 (``search.beta_param: projected``, the paper; a step that would
  zero every β stops the stage with ``LossSearchCollapsedError``) or β = T·softmax(logits) with a
  fixed total (``softmax``: cannot collapse). Objective (``search.upper``): the frozen
  classifier's cross-entropy of "clear" on the outputs for search-validation inputs drawn at
  random each step (``classifier``, the paper: their references are never used), or
  ``L1 + (1 − SSIM)`` against those references (``reference``; no classifier,
  :mod:`~hadamard_restore.search.upper`). The hypergradient is second order (finite differences
  by default, or exact); first order is refused because it gives β exactly zero gradient
  (docs/method.md 6.3).

Outputs in ``run_dir``: ``loss_weights.json`` (raw β, argmax VGG layers, the softmax per group,
TV/Laplacian as searched), ``search_loss.json`` (summary, time per step, the β trajectory),
``checkpoint.pt`` and ``tensorboard/``; the caller draws ``beta_over_steps.png`` and
``beta_softmax.png`` from them (:func:`hadamard_restore.reporting.plots.plot_search`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from hadamard_restore.config import LossConfig
from hadamard_restore.jobs import SearchJob
from hadamard_restore.losses.loss_weights import LOSS_NAMES
from hadamard_restore.losses.mix import LossMix
from hadamard_restore.search.build import loss_model, mix_objective
from hadamard_restore.search.data import rank_generators
from hadamard_restore.search.loop import Problem
from hadamard_restore.search.outputs import write_searched_loss
from hadamard_restore.search.stage import ClassifierStageOptions, StageContext, loss_search_spec, run_stage
from hadamard_restore.search.upper import upper_objective, upper_record

if TYPE_CHECKING:
    from typing import Unpack  # Python 3.11+; annotations only


def search_mix(
    loss_cfg: LossConfig, seed: int, device: torch.device, round_index: int = 1, beta_param: str = "projected"
):
    """The stage-1 loss mix: all β = 1.0, relaxed VGG logits 1e-3·N(0,1), TV and Lap active;
    β parametrised as ``search.beta_param`` says (:mod:`~hadamard_restore.losses.beta_param`)."""
    init = torch.Generator().manual_seed(seed * 7919 + round_index)
    return LossMix(
        None, None, loss_cfg.vgg_backbone, lpips_net=loss_cfg.lpips_net, generator=init, beta_param=beta_param
    ).to(device)


def mix_scalars(mix) -> dict[str, float]:
    """Every β and every VGG-candidate probability, as log scalars."""
    out = {f"beta/{n}": float(b) for n, b in zip(LOSS_NAMES, mix.beta.detach().cpu().tolist())}
    for g, probs in enumerate(mix.vgg_softmax() or []):
        out.update({f"vgg_group{g + 1}/{name}": p for name, p in probs.items()})
    return out


def loss_problem(
    job: SearchJob,
    classifier: torch.nn.Module | None,
    sample,
    device: torch.device,
    rank: int = 0,
    alpha: Mapping[str, Tensor] | None = None,
    round_index: int = 1,
):
    """The stage-1 :class:`Problem` and its loss mix (see the module docstring).

    Args:
        classifier: the frozen classifier (eval mode); None with ``search.upper = reference``.
        sample: ``(which, generator) -> (degraded, reference)`` batches.
        rank: this process's rank (picks its data streams).
    """
    model, weights = loss_model(job, device, alpha)
    mix = search_mix(job.loss, job.seed, device, round_index, job.search.beta_param)
    problem = Problem(
        "loss",
        model,
        weights,
        mix.upper_parameters(),
        mix_objective(model, mix),
        upper_objective(job.search.upper, model, classifier),
        sample,
        rank_generators(job.seed, "loss", rank, round_index),
        project=mix.project_,
        scalars=lambda: mix_scalars(mix),
    )
    return problem, mix


def search_loss(
    job: SearchJob,
    run_dir: str | Path,
    *,
    alpha: Mapping[str, Tensor] | None = None,
    round_index: int = 1,
    **options: Unpack[ClassifierStageOptions],
) -> Path | None:
    """Run stage 1 and write ``loss_weights.json`` into ``run_dir``.

    Args:
        job: the search settings and data.
        run_dir: the stage directory.
        alpha: ``{group: logits}`` to freeze the supernet at (a previous round's α).
        round_index: the alternation round (seeds the data streams and the VGG-logit init).
        options: ``classifier``, ``resume``, ``stop_after``, ``env``
            (:class:`~hadamard_restore.search.stage.ClassifierStageOptions`).

    Returns:
        The path of ``loss_weights.json`` (None when stopped early).
    """
    run_dir = Path(run_dir)

    def build(ctx: StageContext):
        clf = ctx.classifier.model if ctx.classifier is not None else None
        problem, mix = loss_problem(job, clf, ctx.sample, ctx.device, ctx.dist.rank, alpha, round_index)
        provenance = {
            "name": f"searched-{job.name}",
            "source": f"hadamard-restore search-loss ({run_dir})",
            "notes": "raw searched beta; VGG layers = argmax per group; TV/Laplacian as searched",
        }

        def write(history: list[dict]) -> dict:
            record = upper_record(job.search.upper, ctx.classifier.record if ctx.classifier is not None else None)
            results = write_searched_loss(mix, run_dir, record, provenance, job.search.upper)
            return {**results, "loss_model": job.search.loss_model, "round": round_index}

        return problem, write

    done = run_stage(loss_search_spec("loss", job, build), job, run_dir, **options)
    return run_dir / "loss_weights.json" if done else None
