"""The joint mode (the paper's "Ours_a", Table 5; docs/method.md 8.21): α, β and the VGG logits are
searched together as one upper level against the classifier.

* Network: the supernet with trainable α and instance norm (the classifier-driven stage-1
  setting, with α released).
* Lower level: the weights on the relaxed loss mix (TV and Laplacian active), as in stage 1.
* Upper level: α + β + VGG logits, Adam, β as ``search.beta_param`` says (projected β ≥ 0 or a
  softmax with a fixed total); objective ``search.upper``: the classifier's "clear"
  cross-entropy on search-validation outputs (or ``reference``: L1 + (1 − SSIM) against their
  references). α enters that objective directly and through the
  weights; β only through the weights, so first order is refused here too.

Outputs in ``run_dir``: ``loss_weights.json``, ``genotype.json``, ``alpha.pt`` and
``search_joint.json``; the caller draws the plots of both stages from them
(:func:`hadamard_restore.reporting.plots.plot_search`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from hadamard_restore.jobs import SearchJob
from hadamard_restore.search.build import alpha_scalars, mix_objective, supernet
from hadamard_restore.search.data import rank_generators
from hadamard_restore.search.loop import Problem
from hadamard_restore.search.loss_stage import mix_scalars, search_mix
from hadamard_restore.search.outputs import write_searched_arch, write_searched_loss
from hadamard_restore.search.stage import ClassifierStageOptions, StageContext, loss_search_spec, run_stage
from hadamard_restore.search.upper import upper_objective, upper_record

if TYPE_CHECKING:
    from typing import Unpack  # Python 3.11+; annotations only


def joint_problem(job: SearchJob, classifier: torch.nn.Module | None, sample, device: torch.device, rank: int = 0):
    """The joint :class:`Problem`, its supernet and its loss mix (see the module docstring)."""
    model = supernet(job.net, job.seed, "instance", device)
    model.freeze_arch(False)
    mix = search_mix(job.loss, job.seed, device, beta_param=job.search.beta_param)
    problem = Problem(
        "joint",
        model,
        dict(model.named_weights()),
        model.arch_parameters() + mix.upper_parameters(),
        mix_objective(model, mix),
        upper_objective(job.search.upper, model, classifier),
        sample,
        rank_generators(job.seed, "joint", rank),
        project=mix.project_,
        scalars=lambda: {**mix_scalars(mix), **alpha_scalars(model)},
    )
    return problem, model, mix


def search_joint(
    job: SearchJob, run_dir: str | Path, **options: Unpack[ClassifierStageOptions]
) -> dict[str, Path] | None:
    """Run the joint search for ``search.loss_steps`` steps; returns both artifact paths.

    Arguments as for :func:`~hadamard_restore.search.loss_stage.search_loss`; None when stopped early.
    """
    run_dir = Path(run_dir)

    def build(ctx: StageContext):
        clf = ctx.classifier
        problem, model, mix = joint_problem(job, clf.model if clf else None, ctx.sample, ctx.device, ctx.dist.rank)
        against = "the classifier" if clf is not None else "the references"
        provenance = {
            "name": f"joint-{job.name}",
            "source": f"hadamard-restore search, joint mode ({run_dir})",
            "notes": f"Ours_a: alpha and beta searched together against {against}",
        }

        def write(history: list[dict]) -> dict:
            record = upper_record(job.search.upper, clf.record if clf is not None else None)
            results = write_searched_loss(mix, run_dir, record, provenance, job.search.upper)
            write_searched_arch(model, run_dir, provenance["name"])
            return results

        return problem, write

    done = run_stage(loss_search_spec("joint", job, build), job, run_dir, **options)
    return {"loss_weights": run_dir / "loss_weights.json", "genotype": run_dir / "genotype.json"} if done else None
