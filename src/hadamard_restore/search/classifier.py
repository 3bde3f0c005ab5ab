"""The frozen clear-vs-degraded classifier that judges stage 1 (method.md 4).

``cfg.classifier.checkpoint`` names a trained one; without it the classifier is trained first
(the losses area's ``train_classifier``) into ``<run_dir>/classifier`` by rank 0 (the other
ranks wait), and a resumed run reuses that file instead of training again.
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
    """The frozen classifier in eval mode on ``device`` (no parameter requires grad)."""
    from hadamard_restore.losses.classifier import load_classifier

    clf = load_classifier(classifier_path(cfg, run_dir, dist_ctx), device).eval()
    for p in clf.parameters():
        p.requires_grad_(False)
    return clf
