"""How far the clear-vs-degraded classifier can be trusted, measured where stage 1 uses it.

* :func:`held_out_accuracy`: accuracy on held-out pairs, on random windows of the size stage 1
  judges (a from-scratch ResNet is only reliable at the size its batch-norm statistics were
  estimated at, so a number measured on other sizes says little about the search);
* :func:`reliability_warning`: the one warning for an untrustworthy classifier (accuracy below
  :data:`ACCURACY_WARN`, or measured at another size than the one judged); the training logs it
  and records it in ``classifier_metrics.json``, the search logs it again and stores it with the
  searched loss weights;
* :func:`classifier_record` / :func:`logged_classifier_record`: what is known about a checkpoint (from
  ``classifier_metrics.json`` beside it, else from the checkpoint itself), with the verdict.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hadamard_restore.classifier.checkpoint import read_classifier_checkpoint
from hadamard_restore.classifier.model import CLEAR, DEGRADED
from hadamard_restore.data.transforms import random_crop_box
from hadamard_restore.runtime.log import get_logger

EVAL_CROPS = 4
ACCURACY_WARN = 0.9
log = get_logger("hadamard_restore.classifier")


@torch.no_grad()
def held_out_accuracy(
    model: nn.Module,
    dataset,
    device: str | torch.device,
    eval_crop: int | None = None,
    crops_per_image: int = EVAL_CROPS,
    generator: torch.Generator | None = None,
) -> dict:
    """Accuracy of ``model`` (eval mode) on every pair of ``dataset``: degraded (0) and clear (1).

    Args:
        model: the classifier; put in eval mode for the measurement, then restored.
        dataset: ``PairedImages`` of held-out pairs (full images).
        device: where to run.
        eval_crop: side of the square windows judged; ``None`` judges the full images. A side
            larger than an image is clipped to the image's shorter side.
        crops_per_image: random windows per image when ``eval_crop`` is set (the same windows
            for the degraded image and its reference).
        generator: draws the windows (default: seeded with 0, so the measurement is repeatable).

    Returns:
        ``{"accuracy", "accuracy_clear", "accuracy_degraded", "images", "judged"}``: the
        accuracies are fractions of judged windows (``judged`` of them, from ``images`` images).
    """
    windows = generator if generator is not None else torch.Generator().manual_seed(0)
    was_training = model.training
    model.eval()
    hits = {CLEAR: 0, DEGRADED: 0}
    per_label = 0
    for i in range(len(dataset)):
        deg, ref = dataset.full(i)
        if eval_crop is None:
            deg, ref = deg[None], ref[None]
        else:
            side = min(eval_crop, *deg.shape[-2:])
            boxes = [random_crop_box(deg.shape[1], deg.shape[2], side, windows) for _ in range(crops_per_image)]
            deg, ref = (torch.stack([img[:, t : t + h, l : l + w] for t, l, h, w in boxes]) for img in (deg, ref))
        for batch, label in ((deg, DEGRADED), (ref, CLEAR)):
            hits[label] += int((model(batch.to(device)).argmax(1) == label).sum().item())
        per_label += deg.shape[0]
    model.train(was_training)
    return {
        "accuracy": (hits[CLEAR] + hits[DEGRADED]) / (2 * per_label),
        "accuracy_clear": hits[CLEAR] / per_label,
        "accuracy_degraded": hits[DEGRADED] / per_label,
        "images": 2 * len(dataset),
        "judged": 2 * per_label,
    }


def reliability_warning(
    metrics: Mapping[str, Any],
    judged_crop: int | None = None,
    threshold: float = ACCURACY_WARN,
    source: str | Path | None = None,
) -> str | None:
    """The warning for an untrustworthy classifier, or None when it can be trusted.

    A classifier that calls everything clear (accuracy 0.5, ``accuracy_degraded`` 0) gives stage 1
    a near-zero, meaningless objective; one measured at another window size than the one it will
    classifier has an accuracy that says little about the search. The message names each problem,
    which side fails, and what to do.

    Args:
        metrics: ``accuracy`` (None: unknown), ``eval_crop`` (None: full images) and, when
            known, ``accuracy_clear`` / ``accuracy_degraded``.
        judged_crop: the side of the outputs stage 1 feeds the classifier; None skips the size check.
        threshold: the lowest accuracy trusted.
        source: the checkpoint, named in the message.
    """
    acc, crop = metrics.get("accuracy"), metrics.get("eval_crop")
    where = f"{crop}px windows" if crop else "full images"
    problems = []
    if acc is not None and acc < threshold:
        sides = ""
        if metrics.get("accuracy_clear") is not None and metrics.get("accuracy_degraded") is not None:
            sides = f" (clear {metrics['accuracy_clear']:.2f}, degraded {metrics['accuracy_degraded']:.2f})"
        problems.append(
            f"held-out accuracy {acc:.3f} < {threshold:.2f} on {where}{sides}: "
            "it cannot tell clear from degraded images"
        )
    if judged_crop is not None and crop != judged_crop:
        measured = where if crop else "full images or at an unknown size"
        problems.append(f"it was measured on {measured}, but stage 1 judges {judged_crop}px outputs")
    if not problems:
        return None
    return (
        (f"classifier {source}: " if source else "classifier ")
        + "; ".join(problems)
        + (
            "; loss weights searched against such an untrustworthy judge mean little: train longer "
            "(classifier.steps), check classifier.lr, or train on crops nearer to the judged size "
            "(classifier.crop, search.crop)"
        )
    )


def classifier_record(path: str | Path, search_crop: int | None = None) -> dict:
    """What is known about the classifier at ``path``: accuracy, where it was measured, a verdict.

    Args:
        path: the classifier checkpoint (``classifier.pt``).
        search_crop: the side of the images stage 1 will feed it.

    Returns:
        ``{"checkpoint", "accuracy", "accuracy_clear", "accuracy_degraded", "eval_crop", "init",
        "reliable", "warning"}``; values unknown to an older checkpoint are None, and then
        ``reliable`` is None too. ``reliable`` is False when :func:`reliability_warning` objects.
    """
    path = Path(path)
    metrics_file = path.parent / "classifier_metrics.json"
    if metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
    else:
        ckpt = read_classifier_checkpoint(path)
        metrics = {"accuracy": ckpt.get("val_accuracy"), "eval_crop": ckpt.get("eval_crop"), "init": ckpt.get("init")}
    record = {
        "checkpoint": str(path.resolve()),
        **{k: metrics.get(k) for k in ("accuracy", "accuracy_clear", "accuracy_degraded", "eval_crop", "init")},
    }
    warning = reliability_warning(record, search_crop, source=path)
    record["reliable"] = None if record["accuracy"] is None else warning is None
    record["warning"] = warning
    return record


def logged_classifier_record(path: str | Path, search_crop: int) -> dict:
    """:func:`classifier_record`, logged: its warning when there is one, else the accuracy."""
    record = classifier_record(path, search_crop)
    if record["warning"]:
        log.warning("%s", record["warning"])
    else:
        acc = "unknown" if record["accuracy"] is None else f"{record['accuracy']:.3f}"
        log.info("classifier held-out accuracy %s at %spx", acc, record["eval_crop"])
    return record
