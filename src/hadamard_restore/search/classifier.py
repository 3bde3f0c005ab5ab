"""The frozen clear-vs-degraded classifier that judges stage 1 (method.md 4).

``cfg.classifier.checkpoint`` names a trained one; without it the classifier is trained first
(the losses area's ``train_classifier``) into ``<run_dir>/classifier`` by rank 0 (the other
ranks wait), and a resumed run reuses that file instead of training again.

:func:`classifier_record` says how far the judge can be trusted (held-out accuracy and the window
size it was measured at, from ``classifier_metrics.json`` beside the checkpoint or the checkpoint
itself); stage 1 and the joint mode store it in ``loss_weights.json`` (``extra.classifier``) and
in their stage summary, and log a WARNING when it is below 0.9 or was measured at another size.
"""

from __future__ import annotations

from pathlib import Path

import torch

from hadamard_restore.config import RunConfig
from hadamard_restore.runtime import Dist
from hadamard_restore.search import ddp
from hadamard_restore.search.build import log


def _train_classifier():
    """The losses area's ``train_classifier`` (in ``classifier_train`` or ``classifier``)."""
    try:
        from hadamard_restore.losses.classifier_train import train_classifier
    except ImportError:
        from hadamard_restore.losses.classifier import train_classifier
    return train_classifier


def classifier_path(cfg: RunConfig, run_dir: Path, dist_ctx: Dist) -> Path:
    """The checkpoint to use: the configured one, an earlier one in ``run_dir``, or a new one."""
    if cfg.classifier.checkpoint is not None:
        path = Path(cfg.classifier.checkpoint)
        if not path.is_file():
            from hadamard_restore.errors import CheckpointError

            raise CheckpointError(f"classifier.checkpoint={path} does not exist; train one with "
                                  "`hadamard-restore classifier CONFIG` or unset it to train one here")
        return path
    marker = run_dir / "classifier" / "path.txt"
    if dist_ctx.is_main and not marker.is_file():
        log.info("no classifier.checkpoint given: training the classifier first (%d steps)", cfg.classifier.steps)
        trained = _train_classifier()(cfg, run_dir / "classifier")
        from hadamard_restore.artifacts import atomic_write_text

        atomic_write_text(marker, str(Path(trained).resolve()))
    ddp.barrier(dist_ctx)
    return Path(marker.read_text().strip())


def classifier_for(cfg: RunConfig, run_dir: Path, device: torch.device, dist_ctx: Dist) -> torch.nn.Module:
    """The frozen classifier in eval mode on ``device`` (no parameter requires grad; ``.checkpoint_path`` set)."""
    from hadamard_restore.losses.classifier import load_classifier

    path = classifier_path(cfg, run_dir, dist_ctx)
    clf = load_classifier(path, device).eval()
    for p in clf.parameters():
        p.requires_grad_(False)
    clf.checkpoint_path = Path(path)  # for classifier_record
    return clf


def classifier_record(path: str | Path, search_crop: int | None = None) -> dict:
    """What is known about the judge at ``path``: accuracy, where it was measured, a verdict.

    Args:
        path: the classifier checkpoint (``classifier.pt``).
        search_crop: the side of the images stage 1 will feed it (``cfg.search.crop``).

    Returns:
        ``{"checkpoint", "accuracy", "accuracy_clear", "accuracy_degraded", "eval_crop", "init",
        "reliable", "warning"}``; values unknown to an older checkpoint are None, and then
        ``reliable`` is None too. ``reliable`` is False when the accuracy is below 0.9 or it was
        measured on windows of another size than ``search_crop``.
    """
    import json

    from hadamard_restore.losses.classifier_train import ACCURACY_WARN

    path = Path(path)
    metrics_file = path.parent / "classifier_metrics.json"
    if metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
    else:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        metrics = {"accuracy": ckpt.get("val_accuracy"), "eval_crop": ckpt.get("eval_crop"), "init": ckpt.get("init")}
    rec = {"checkpoint": str(path.resolve()), **{k: metrics.get(k) for k in (
        "accuracy", "accuracy_clear", "accuracy_degraded", "eval_crop", "init")}}
    acc, crop = rec["accuracy"], rec["eval_crop"]
    problems = []
    if acc is not None and acc < ACCURACY_WARN:
        problems.append(f"its held-out accuracy is {acc:.3f} < {ACCURACY_WARN}")
    if search_crop is not None and crop != search_crop:
        where = f"{crop}px windows" if crop else "full images or at an unknown size"
        problems.append(f"it was measured on {where}, but stage 1 judges {search_crop}px outputs")
    rec["reliable"] = None if acc is None else not problems
    rec["warning"] = ("classifier " + str(path) + ": " + "; ".join(problems)) if problems else None
    return rec


def record_and_warn(path: str | Path, search_crop: int) -> dict:
    """:func:`classifier_record`, with its warning (if any) logged; for the stage code."""
    rec = classifier_record(path, search_crop)
    if rec["warning"]:
        log.warning("%s: the searched loss weights are judged by an untrustworthy classifier", rec["warning"])
    else:
        log.info("classifier held-out accuracy %.3f at %spx", rec["accuracy"], rec["eval_crop"])
    return rec
