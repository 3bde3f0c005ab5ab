"""Training the derived network with the searched loss (docs/method.md 5.4): from scratch, or
from another model's weights (fine-tuning, :mod:`.init_from`).

``train(cfg, run_dir, genotype, loss_weights)`` builds

* the derived :class:`~hadamard_restore.net.network.HadamardNet` from the genotype, with
  ``net.channels / num_hnu / norm`` from the config, initialised from ``cfg.seed``;
* the fixed loss ``L = sum_i beta_i * loss_i`` (``losses.mix.LossMix`` with the searched
  weights and the chosen VGG layers, nothing trainable);
* paired random crops + flips of the training split and the full-resolution held-out split
  (``data.task_data.load_pairs``; never a test set),

and hands them to :func:`hadamard_restore.training.trainer.fit`.

Choices (recorded here, see docs/method.md 8.6): the authors' code trains with SGD lr 5e-4,
momentum 0.9, wd 3e-4, clip 5, no schedule, batch 1 on full images for ~350 epochs; the
default config uses AdamW with a cosine schedule on 192 px crops, which reaches a given PSNR
in far fewer steps on a CPU/GPU budget. ``train.optimizer: sgd``, ``train.schedule:
constant``, ``train.lr: 5e-4`` and ``train.crop: null`` reproduce the authors' recipe.

Artifacts in ``run_dir``: ``config.yaml``, ``genotype.json``, ``loss_weights.json``,
``model.pt`` (best by validation PSNR), ``last.pt`` (full state), ``history.json``,
``train_summary.json``, ``tensorboard/``, and the report: ``report.md`` with ``plots/`` and
``val_grid.png`` (held-out validation pairs, input | output | reference).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from hadamard_restore.artifacts import atomic_write_text, write_json
from hadamard_restore.config import DataConfig, RunConfig, TrainConfig, dump_config
from hadamard_restore.data.dataset import PairedImages
from hadamard_restore.data.task_data import load_pairs
from hadamard_restore.losses.loss_weights import LossWeights, load_loss_weights
from hadamard_restore.losses.mix import LossMix
from hadamard_restore.net.build import build_network, net_for_genotype
from hadamard_restore.net.genotype import Genotype, load_genotype
from hadamard_restore.net.model_file import genotype_from_dict, load_state_into, make_meta
from hadamard_restore.reporting.train_report import write_train_report
from hadamard_restore.runtime.log import get_logger
from hadamard_restore.runtime.process import setup_process
from hadamard_restore.training import resume_check
from hadamard_restore.training.init_from import InitSource, starting_point
from hadamard_restore.training.trainer import TrainData, fit

log = get_logger("hadamard_restore.train")


def build_loss(loss_weights: LossWeights, vgg_backbone: str) -> torch.nn.Module:
    """The fixed loss mix ``sum_i beta_i loss_i`` for final training (nothing trainable).

    Files whose VGG layers are named (``paper-*`` and searched results) give the discrete VGG
    term; ``equal`` keeps the uniform average over each group's candidates. The VGG that runs
    is ``vgg_backbone`` (``loss.vgg_backbone``; layers are matched by name).
    """
    loss = LossMix.from_weights(loss_weights.require_active("training"), backbone=vgg_backbone, trainable=False)
    for p in loss.parameters():
        p.requires_grad_(False)
    return loss


def build_data(data: DataConfig, seed: int, tcfg: TrainConfig, run_dir: str | Path | None = None) -> TrainData:
    """Train sampler (random crops + flips, seeded generator) and the split's validation images, whole.

    ``data`` and ``seed`` choose the pairs (:func:`~hadamard_restore.data.task_data.load_pairs`);
    ``tcfg`` (the ``train`` section) gives the crop and ``val_max_images``. The split used is
    written to ``run_dir/split.json`` (names and sha256 of every file).
    """
    train_pairs, val_pairs = load_pairs(data, seed, run_dir)
    train_set = PairedImages(train_pairs, crop=tcfg.crop, flip=True)
    val_set = PairedImages(val_pairs[: tcfg.val_max_images or None], crop=None, flip=False)
    val = [val_set.full(i) for i in range(len(val_set))]
    # "validation", not "held-out": with make_pretrained's dev.json these pick checkpoints, so they are
    # not the model's test pairs (those are read only by `evaluate`)
    log.info("training on %d pairs, validating on %d pairs (the split's validation part)", len(train_pairs), len(val))
    return TrainData(sample=train_set.sample_batch, val=val)


def train(
    cfg: RunConfig,
    run_dir: str | Path,
    genotype: Genotype | None = None,
    loss_weights: LossWeights | None = None,
    resume: bool = False,
    on_step: Callable[[int], None] | None = None,
    progress: bool = True,
    allow_changes: bool = False,
    init_from: InitSource | None = None,
) -> dict:
    """Train the derived network; see the module docstring.

    This is the training entry point of the run orchestration (called from ``cli/`` and
    ``workflows/``), so it holds the whole config: it cuts it into the sections the library
    functions take (:func:`build_data`, ``build_network``, ``fit``) and stores it as
    ``config.yaml`` for provenance and for the resume check.

    Args:
        cfg: the resolved ``RunConfig``.
        run_dir: the run directory (created by the caller, e.g. ``runtime.rundir.new_run_dir``).
        genotype: the genotype to train; default: the one ``cfg.net.genotype`` names.
        loss_weights: the loss weights; default: the ones ``cfg.loss.weights`` names.
        resume: continue from ``run_dir/last.pt``; everything is checked against it before anything
            is written (:mod:`.resume_check`); a genotype or loss weights not given default to its own.
        allow_changes: let a resume change the loss weights or run-defining config (recorded in
            ``resume_changes.json``); without it such a change is refused.
        init_from: start from these weights (fine-tuning, :mod:`.init_from`): its genotype (unless
            ``genotype`` is given), net settings and loss weights (unless ``loss_weights`` is given);
            with ``resume``, only the weights the run started from.
        on_step: optional callback after each optimizer step (tests).
        progress: show the progress bar.

    Returns:
        The summary of :func:`~hadamard_restore.training.trainer.fit` (paths of model.pt and last.pt, best val PSNR).
    """
    run_dir = Path(run_dir)
    cfg, genotype, loss_weights, start = starting_point(cfg, run_dir, genotype, loss_weights, init_from, resume)
    fresh = None if resume else init_from  # weights to load now (a resume restores its own from last.pt)
    if resume:
        stored_geno, stored_lw = resume_check.stored_choices(run_dir)
        genotype = genotype_from_dict(stored_geno) if genotype is None else genotype
        loss_weights = LossWeights.from_dict(stored_lw) if loss_weights is None else loss_weights
    geno = genotype if genotype is not None else load_genotype(cfg.net.genotype)
    cfg = cfg.model_copy(update={"net": net_for_genotype(cfg.net, geno)})  # recorded as built
    lw = loss_weights if loss_weights is not None else load_loss_weights(cfg.loss.weights)
    config_yaml = dump_config(cfg)
    changes = resume_check.check_resume(run_dir, geno, lw, config_yaml, allow_changes) if resume else []
    loss = build_loss(lw, cfg.loss.vgg_backbone)
    device, dist_ctx = setup_process(cfg.device)
    data = build_data(cfg.data, cfg.seed, cfg.train, run_dir if dist_ctx.is_main else None)
    model = build_network(geno, cfg.net, cfg.seed)
    if fresh is not None:
        load_state_into(model, fresh.state_dict, source=f"--init-from {fresh.path}")
    started = {} if start is None else {"init_from": start}
    meta = make_meta(geno, lw, cfg.net, config_yaml, model, vgg_backbone_used=cfg.loss.vgg_backbone, **started)
    if dist_ctx.is_main:
        resume_check.record_changes(run_dir, changes)
        if fresh is not None:
            write_json(run_dir / "init_from.json", start)
        write_json(run_dir / "genotype.json", meta["genotype"])
        write_json(run_dir / "loss_weights.json", meta["loss_weights"])
        atomic_write_text(run_dir / "config.yaml", meta["config"])
    log.info(
        "training %s on %s for %d steps (world size %d)",
        "resumed run" if resume else f"from the weights of {fresh.path}" if fresh else "from scratch",
        device,
        cfg.train.steps,
        dist_ctx.world_size,
    )
    summary = fit(
        model,
        loss,
        data,
        cfg.train,
        run_dir,
        meta,
        seed=cfg.seed,
        device=device,
        dist_ctx=dist_ctx,
        resume=resume,
        score_start=fresh is not None,
        on_step=on_step,
        progress=progress,
    )
    if dist_ctx.is_main:  # the report pieces `run` writes: curves, grid of held-out pairs, warnings
        title = f"hadamard-restore train: {cfg.name} ({cfg.task})"
        summary["report"] = str(
            write_train_report(run_dir, summary["model"], data.val, cfg.eval.grid_images, device, title)
        )
    return summary
