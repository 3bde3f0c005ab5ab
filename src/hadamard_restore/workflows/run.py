"""The whole method in one command: classifier, search, training, evaluation, report.

Each stage is one call and writes into its own folder of the run directory::

    <run>/config.yaml           the resolved config
    <run>/classifier/           clear-vs-degraded classifier (classifier.provide_classifier)
    <run>/search/               stage 1 + stage 2 (search.hierarchy.search): loss_weights.json,
                                genotype.json, their plots and checkpoints
    <run>/train/                model.pt (best by validation PSNR), last.pt, history.json, tensorboard/,
                                loss_weights.json (the searched ones less loss.searched_without)
    <run>/eval/                 metrics.json, grid.png, outputs/
    <run>/plots/, report.md     the report (reporting.report.write_report)
    <run>/run_summary.json      wall time of every stage

Evaluation uses ``data.test_root`` when the config names one; otherwise it scores the held-out
validation split of the training pairs (the split that also picked the best checkpoint, so the
number is slightly optimistic; the report says which was used).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from hadamard_restore.artifacts import write_json
from hadamard_restore.classifier.provide import provide_classifier
from hadamard_restore.config import RunConfig, dump_config
from hadamard_restore.data.task_data import load_test_pairs
from hadamard_restore.evaluation.evaluate import evaluate_pairs
from hadamard_restore.jobs import classifier_job, search_job
from hadamard_restore.losses.loss_weights import check_loss_names, load_loss_weights
from hadamard_restore.net.genotype import load_genotype
from hadamard_restore.reporting.plots import plot_search
from hadamard_restore.reporting.report import write_report
from hadamard_restore.runtime.log import get_logger
from hadamard_restore.runtime.rundir import new_run_dir
from hadamard_restore.search.hierarchy import search
from hadamard_restore.training.train import train

log = get_logger("hadamard_restore.run")


def stage_classifier(cfg: RunConfig, run_dir: Path) -> Path | None:
    """Train the classifier (or use ``classifier.checkpoint``); returns its checkpoint path
    (None with ``search.upper: reference``, whose stage 1 needs no classifier)."""
    if cfg.search.upper == "reference":
        return None

    return provide_classifier(classifier_job(cfg), run_dir / "classifier")


def stage_search(cfg: RunConfig, run_dir: Path, classifier: Path | None) -> tuple[Path, Path]:
    """Loss search then architecture search judged by ``classifier``, and their figures; returns
    ``(loss_weights.json, genotype.json)``."""
    found = search(search_job(cfg), run_dir / "search", classifier=classifier)
    plot_search(run_dir / "search")
    return Path(found["loss_weights"]), Path(found["genotype"])


def stage_train(cfg: RunConfig, run_dir: Path, genotype: Path, loss_weights: Path) -> Path:
    """Train the derived network from scratch with the searched loss weights less
    ``loss.searched_without`` (TV and Laplacian by default, as the authors' final training; the weights
    used are in ``train/loss_weights.json``); returns the best ``model.pt``."""
    weights = load_loss_weights(loss_weights).derived_without(*cfg.loss.searched_without)
    return Path(train(cfg, run_dir / "train", load_genotype(genotype), weights)["model"])


def stage_evaluate(cfg: RunConfig, run_dir: Path, model: Path) -> dict:
    """Score the model on ``data.test_root`` or on the held-out validation split."""
    pairs = load_test_pairs(cfg.data, cfg.seed, run_dir / "train")
    if cfg.data.test_root is not None:
        source = {"data": str(Path(cfg.data.test_root).resolve()), "layout": cfg.data.test_layout, "split": None}
    else:
        source = {"data": "held-out validation split of the training pairs (also used to pick the best checkpoint)"}
    return evaluate_pairs(model, pairs, run_dir / "eval", cfg.eval, cfg.device, source=source)


def _timed(name: str, wall: dict, run_dir: Path, fn: Callable):
    log.info("=== stage: %s", name)
    t0 = time.time()
    result = fn()
    wall[name] = round(time.time() - t0, 1)
    write_json(run_dir / "run_summary.json", {"wall_s": wall})
    log.info("=== stage %s done in %.1f s", name, wall[name])
    return result


def run(cfg: RunConfig, out: str | Path | None = None) -> Path:
    """Run every stage on ``cfg``; returns the path of ``report.md``."""
    check_loss_names(cfg.loss.searched_without, "loss.searched_without")  # before hours of search, not after
    run_dir = new_run_dir(cfg.out_dir, cfg.name, dump_config(cfg), out)
    wall: dict[str, float] = {}
    t0 = time.time()
    clf = _timed("classifier", wall, run_dir, lambda: stage_classifier(cfg, run_dir))
    lw, geno = _timed("search", wall, run_dir, lambda: stage_search(cfg, run_dir, clf))
    model = _timed("train", wall, run_dir, lambda: stage_train(cfg, run_dir, geno, lw))
    _timed("evaluate", wall, run_dir, lambda: stage_evaluate(cfg, run_dir, model))
    wall["total"] = round(time.time() - t0, 1)
    write_json(run_dir / "run_summary.json", {"wall_s": wall})
    return write_report(run_dir, title=f"hadamard-restore run: {cfg.name} ({cfg.task})")
