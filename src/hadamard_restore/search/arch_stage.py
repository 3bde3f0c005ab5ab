"""Stage 2, the architecture search (method.md 5.2, 6): α with the searched loss.

* Network: the supernet with trainable α and no normalisation (method.md 1.4).
* Loss: the searched loss weights as constants, the VGG term on the fixed chosen layers with
  equal weights, and TV and Laplacian forced to 0 whatever their searched β (method.md 5.2).
* Lower level: the weights, SGD (lr ``search.w_lr``, momentum 0.9, no wd, clip 5) on the loss
  over search-train crops. Upper level: α, Adam (5e-4, (0.5, 0.999), wd 1e-4), no clipping
  (method.md 8.20), objective the same loss on search-validation pairs. Hypergradient: second
  order by default; ``search.hessian: first_order`` is allowed here (method.md 6.3).

Outputs in ``run_dir``: ``genotype.json`` (argmax op per layer plus softmax(α) per layer),
``alpha.pt`` (the raw logits, for the next round), ``search_arch.json``,
``alpha_probabilities.png``, ``checkpoint.pt`` and ``tb/``.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from hadamard_restore.artifacts import atomic_torch_save
from hadamard_restore.config import RunConfig
from hadamard_restore.runtime import Dist
from hadamard_restore.search import ddp
from hadamard_restore.search.build import alpha_state, describe_alpha, forward, log, setup, supernet
from hadamard_restore.search.data import rank_generators, search_data
from hadamard_restore.search.hypergrad import check_mode
from hadamard_restore.search.loop import Problem, run_bilevel
from hadamard_restore.search.summary import finish_stage


def fixed_mix(cfg: RunConfig, loss_weights, device: torch.device):
    """The stage-2 loss: searched β as constants with TV and Laplacian forced off.

    Args:
        loss_weights: a ``LossWeights``, a path to ``loss_weights.json`` or a bundled name.
    """
    from hadamard_restore.losses.loss_weights import LossWeights, load_loss_weights
    from hadamard_restore.losses.mix import LossMix

    lw = loss_weights if isinstance(loss_weights, LossWeights) else load_loss_weights(loss_weights)
    lw = lw.without("tv", "laplacian").require_active("the architecture search (TV and Laplacian off)")
    return LossMix.from_weights(lw, backbone=cfg.loss.vgg_backbone, trainable=False).to(device), lw


def plot_genotype_alpha(net, path: Path) -> Path:
    """The softmax(α) heatmap with each row's op names."""
    from hadamard_restore.net.primitives import label_primitives
    from hadamard_restore.reporting.plots import plot_alpha

    probs = net.probabilities()
    return plot_alpha(probs, {lab: label_primitives(lab) for lab in probs}, path)


def arch_problem(cfg: RunConfig, loss_weights, sample, device: torch.device, rank: int = 0,
                 alpha=None, round_: int = 1):
    """The stage-2 :class:`Problem`, its supernet and the loss weights used (TV/Lap off)."""
    mix, lw = fixed_mix(cfg, loss_weights, device)
    model = supernet(cfg, "none", device, alpha)
    model.freeze_arch(False)

    def train_loss(params, batch):
        return mix(forward(model, params, batch[0]), batch[1])

    def upper_loss(params, batch):
        return mix(forward(model, params, batch[0]), batch[1])[0]

    problem = Problem("arch", model, dict(model.named_weights()), model.arch_parameters(), train_loss,
                      upper_loss, sample, rank_generators(cfg.seed, "arch", rank, round_),
                      describe=lambda: describe_alpha(model))
    return problem, model, lw


def search_arch(cfg: RunConfig, run_dir: str | Path, loss_weights=None, *, alpha=None, resume: bool = False,
                round_: int = 1, stop_after: int | None = None,
                env: tuple[torch.device, Dist] | None = None) -> Path | None:
    """Run stage 2 and write ``genotype.json`` into ``run_dir``.

    Args:
        cfg: the run config.
        run_dir: the stage directory.
        loss_weights: ``LossWeights``, path or bundled name; default ``cfg.loss.weights``.
        alpha: ``{group: logits}`` to start α from (the previous round's), else the init.
        resume: continue from ``run_dir/checkpoint.pt`` when present.
        round_: the alternation round (seeds the data streams).
        stop_after: stop after this many steps without writing results (tests of resume).
        env: ``(device, dist)`` when the caller has already set up the process.

    Returns:
        The path of ``genotype.json`` (None when stopped early).
    """
    check_mode(cfg.search.hessian, "arch")
    run_dir = Path(run_dir)
    device, dist_ctx = env if env is not None else setup(cfg)
    data = search_data(cfg, device, run_dir, dist_ctx)
    problem, model, lw = arch_problem(cfg, cfg.loss.weights if loss_weights is None else loss_weights,
                                      data.sample, device, dist_ctx.rank, alpha, round_)
    t0 = time.perf_counter()
    history = run_bilevel(problem, cfg.search, cfg.search.arch_steps, run_dir, dist_ctx, resume, stop_after)
    if len(history) < cfg.search.arch_steps:
        return None
    out = run_dir / "genotype.json"
    if dist_ctx.is_main:
        geno = model.genotype(name=f"searched-{cfg.name}")
        geno.save(out)
        atomic_torch_save(alpha_state(model), run_dir / "alpha.pt")
        plot_genotype_alpha(model, run_dir / "alpha_probabilities.png")
        ops = list(geno.layers.values())
        start = supernet(cfg, "none", torch.device("cpu"), alpha).genotype().layers
        changed = sorted(k for k, op in geno.layers.items() if start[k] != op)
        finish_stage(run_dir / "search_arch.json", "arch", cfg, history, time.perf_counter() - t0, dist_ctx,
                     {"loss_weights": lw.weights, "vgg_layers": lw.vgg_layers, "round": round_,
                      "distinct_ops": sorted(set(ops)), "op_counts": {o: ops.count(o) for o in sorted(set(ops))},
                      "layers_changed_from_start": len(changed), "layers": len(ops)})
        log.info("architecture search done: %s", out)
    ddp.barrier(dist_ctx)
    return out
