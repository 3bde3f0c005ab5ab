"""The joint mode (the paper's "Ours_a", Table 5; method.md 8.21): α, β and the VGG logits are
searched together as one upper level against the classifier.

* Network: the supernet with trainable α and instance norm (the classifier-driven stage-1
  setting, with α released).
* Lower level: the weights on the relaxed loss mix (TV and Laplacian active), as in stage 1.
* Upper level: α + β + VGG logits, Adam, β ≥ 0; objective the classifier's "clear"
  cross-entropy on search-validation outputs. α enters that objective directly and through the
  weights; β only through the weights, so first order is refused here too.

Outputs in ``run_dir``: ``loss_weights.json``, ``genotype.json``, ``alpha.pt``,
``search_joint.json`` and the plots of both stages.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from hadamard_restore.artifacts import atomic_torch_save
from hadamard_restore.config import RunConfig
from hadamard_restore.runtime import Dist
from hadamard_restore.search import ddp
from hadamard_restore.search.arch_stage import plot_genotype_alpha
from hadamard_restore.search.build import alpha_state, describe_alpha, forward, log, setup, supernet
from hadamard_restore.search.data import rank_generators, search_data
from hadamard_restore.search.hypergrad import check_mode
from hadamard_restore.search.loop import Problem, run_bilevel
from hadamard_restore.search.loss_stage import describe_mix, search_mix
from hadamard_restore.search.summary import finish_stage
from hadamard_restore.search.upper import judge_for, upper_objective


def search_joint(cfg: RunConfig, run_dir: str | Path, *, resume: bool = False, stop_after: int | None = None,
                 env: tuple[torch.device, Dist] | None = None) -> dict[str, Path] | None:
    """Run the joint search for ``cfg.search.loss_steps`` steps; returns both artifact paths."""
    check_mode(cfg.search.hessian, "joint")
    run_dir = Path(run_dir)
    device, dist_ctx = env if env is not None else setup(cfg)
    clf, clf_rec = judge_for(cfg, run_dir, device, dist_ctx)
    data = search_data(cfg, device, run_dir, dist_ctx)
    model = supernet(cfg, "instance", device)
    model.freeze_arch(False)
    mix = search_mix(cfg, device)

    def train_loss(params, batch):
        return mix(forward(model, params, batch[0]), batch[1])

    objective = upper_objective(cfg.search.upper, clf)

    def upper_loss(params, batch):
        return objective(forward(model, params, batch[0]), batch[1])

    problem = Problem("joint", model, dict(model.named_weights()), model.arch_parameters() + mix.upper_parameters(),
                      train_loss, upper_loss, data.sample, rank_generators(cfg.seed, "joint", dist_ctx.rank),
                      project=mix.project_, describe=lambda: {**describe_mix(mix), **describe_alpha(model)})
    t0 = time.perf_counter()
    steps = cfg.search.loss_steps
    history = run_bilevel(problem, cfg.search, steps, run_dir, dist_ctx, resume, stop_after)
    if len(history) < steps:
        return None
    out = {"loss_weights": run_dir / "loss_weights.json", "genotype": run_dir / "genotype.json"}
    if dist_ctx.is_main:
        from hadamard_restore.losses.loss_weights import LOSS_NAMES
        from hadamard_restore.search.plots import plot_beta_history, plot_beta_softmax

        lw = mix.to_weights(name=f"joint-{cfg.name}", source=f"hadamard-restore search, joint mode ({run_dir})",
                            notes="Ours_a: alpha and beta searched together against the classifier")
        lw.vgg_layers = mix.selected_layers()
        lw.extra["classifier"], lw.extra["upper"] = clf_rec, cfg.search.upper
        lw.save(out["loss_weights"])
        model.genotype(name=f"joint-{cfg.name}").save(out["genotype"])
        atomic_torch_save(alpha_state(model), run_dir / "alpha.pt")
        plot_beta_history(history, LOSS_NAMES, run_dir / "beta_over_steps.png")
        plot_beta_softmax(mix.beta.detach().cpu().tolist(), LOSS_NAMES, run_dir / "beta_softmax.png")
        plot_genotype_alpha(model, run_dir / "alpha_probabilities.png")
        finish_stage(run_dir / "search_joint.json", "joint", cfg, history, time.perf_counter() - t0, dist_ctx,
                     {"beta": lw.weights, "vgg_layers": lw.vgg_layers, "classifier": clf_rec})
        log.info("joint search done: %s", run_dir)
    ddp.barrier(dist_ctx)
    return out
