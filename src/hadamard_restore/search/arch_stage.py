"""Stage 2, the architecture search (docs/method.md 5.2, 6): α with the searched loss.

* Network: the supernet with trainable α and no normalisation (docs/method.md 1.4).
* Loss: the searched loss weights as constants, the VGG term on the fixed chosen layers with
  equal weights, and TV and Laplacian forced to 0 whatever their searched β (docs/method.md 5.2).
* Lower level: the weights, SGD (lr ``search.w_lr``, momentum 0.9, no wd, clip 5) on the loss
  over search-train crops. Upper level: α, Adam (5e-4, (0.5, 0.999), wd 1e-4), no clipping
  (docs/method.md 8.20), objective the same loss on search-validation pairs. Hypergradient: second
  order by default; ``search.hessian: first_order`` is allowed here (docs/method.md 6.3).

Outputs in ``run_dir``: ``genotype.json`` (argmax op per layer plus softmax(α) per layer),
``alpha.pt`` (the raw logits, for the next round), ``search_arch.json``, ``checkpoint.pt`` and
``tensorboard/``; the caller draws ``alpha_probabilities.png`` from them
(:func:`hadamard_restore.reporting.plots.plot_search`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from hadamard_restore.config import LossConfig
from hadamard_restore.jobs import SearchJob
from hadamard_restore.losses.loss_weights import LossWeights, load_loss_weights
from hadamard_restore.losses.mix import LossMix
from hadamard_restore.net.genotype import Genotype
from hadamard_restore.search.build import alpha_scalars, mix_objective, supernet
from hadamard_restore.search.data import rank_generators
from hadamard_restore.search.loop import Problem
from hadamard_restore.search.outputs import write_searched_arch
from hadamard_restore.search.stage import StageContext, StageOptions, StageSpec, run_stage

if TYPE_CHECKING:
    from typing import Unpack  # Python 3.11+; annotations only


def fixed_mix(loss_cfg: LossConfig, loss_weights: LossWeights, device: torch.device):
    """The stage-2 loss: searched β as constants with TV and Laplacian forced off.

    Args:
        loss_cfg: the ``loss`` section (the VGG backbone).
        loss_weights: the searched loss weights.

    Returns:
        ``(mix, weights)``: the frozen loss mix and the loss weights it uses.
    """
    weights = loss_weights.without("tv", "laplacian").require_active("the architecture search (TV and Laplacian off)")
    return LossMix.from_weights(weights, backbone=loss_cfg.vgg_backbone, trainable=False).to(device), weights


def arch_problem(
    job: SearchJob,
    loss_weights: LossWeights,
    sample,
    device: torch.device,
    rank: int = 0,
    alpha: Mapping[str, Tensor] | None = None,
    round_index: int = 1,
):
    """The stage-2 :class:`Problem`, its supernet and the loss weights used (TV/Lap off)."""
    mix, weights = fixed_mix(job.loss, loss_weights, device)
    model = supernet(job.net, job.seed, "none", device, alpha)
    model.freeze_arch(False)
    weighted_loss = mix_objective(model, mix)
    problem = Problem(
        "arch",
        model,
        dict(model.named_weights()),
        model.arch_parameters(),
        weighted_loss,
        lambda params, batch: weighted_loss(params, batch)[0],
        sample,
        rank_generators(job.seed, "arch", rank, round_index),
        scalars=lambda: alpha_scalars(model),
    )
    return problem, model, weights


def arch_summary(job: SearchJob, genotype: Genotype, alpha: Mapping[str, Tensor] | None) -> dict:
    """Which ops the search chose and how many layers moved away from the starting α."""
    ops = list(genotype.layers.values())
    start = supernet(job.net, job.seed, "none", torch.device("cpu"), alpha).genotype().layers
    changed = sorted(k for k, op in genotype.layers.items() if start[k] != op)
    return {
        "distinct_ops": sorted(set(ops)),
        "op_counts": {o: ops.count(o) for o in sorted(set(ops))},
        "layers_changed_from_start": len(changed),
        "layers": len(ops),
    }


def search_arch(
    job: SearchJob,
    run_dir: str | Path,
    loss_weights: LossWeights | None = None,
    *,
    alpha: Mapping[str, Tensor] | None = None,
    round_index: int = 1,
    **options: Unpack[StageOptions],
) -> Path | None:
    """Run stage 2 and write ``genotype.json`` (and ``alpha.pt``) into the stage directory ``run_dir``.

    Args:
        job: the search settings and data.
        loss_weights: the loss weights; default the ones the ``loss`` section names.
        alpha: ``{group: logits}`` to start α from (the previous round's), else the init.
        round_index: the alternation round (seeds the data streams).
        options: ``resume``, ``stop_after``, ``env`` (:class:`~hadamard_restore.search.stage.StageOptions`).

    Returns:
        The path of ``genotype.json`` (None when stopped early).
    """
    run_dir = Path(run_dir)

    def build(ctx: StageContext):
        chosen = load_loss_weights(job.loss.weights) if loss_weights is None else loss_weights
        problem, model, weights = arch_problem(job, chosen, ctx.sample, ctx.device, ctx.dist.rank, alpha, round_index)

        def write(history: list[dict]) -> dict:
            genotype = write_searched_arch(model, run_dir, f"searched-{job.name}")
            return {
                "loss_weights": weights.weights,
                "vgg_layers": weights.vgg_layers,
                "round": round_index,
                **arch_summary(job, genotype, alpha),
            }

        return problem, write

    done = run_stage(StageSpec("arch", job.search.arch_steps, False, build), job, run_dir, **options)
    return run_dir / "genotype.json" if done else None
