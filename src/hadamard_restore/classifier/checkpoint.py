"""The classifier checkpoint (``classifier.pt``): weights plus what is needed to trust and reuse them.

Written and read through :mod:`hadamard_restore.runtime.checkpoint` (kind ``classifier``), so it
is loaded with ``torch.load(weights_only=True)`` and a file holding pickled code is refused
before anything in it runs. Besides the state dict it records the arch, how the trunk was
initialised, the label meaning and the input preprocessing (a checkpoint trained with other
preprocessing is refused rather than silently misused), plus what the training measured
(``val_accuracy``, ``eval_crop``, ``reliable``; see :mod:`.reliability`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from hadamard_restore.artifacts import run_file
from hadamard_restore.classifier.model import ARCHS, CLEAR, DEGRADED, PREPROCESSING, ClearClassifier, freeze_classifier
from hadamard_restore.errors import CheckpointError
from hadamard_restore.losses.preprocess import IMAGENET_MEAN, IMAGENET_STD
from hadamard_restore.runtime.checkpoint import load_checkpoint, save_checkpoint


def save_classifier(model: ClearClassifier, path: str | Path, **info: str | float | int | bool | None) -> Path:
    """Write the checkpoint atomically: state dict, arch, init, preprocessing, labels, ``info``."""
    return save_checkpoint(
        path,
        "classifier",
        {
            "arch": model.arch,
            "init": model.init,
            "labels": {str(CLEAR): "clear", str(DEGRADED): "degraded"},
            "preprocessing": dict(PREPROCESSING),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            **info,
        },
    )


def read_classifier_checkpoint(path: str | Path) -> dict:
    """The stored dict of a classifier checkpoint (a run directory holding ``classifier.pt`` works too).

    Raises:
        CheckpointError: missing, truncated, of another format, holding pickled code.
    """
    path = run_file(path, "classifier.pt")
    if not path.is_file():
        raise CheckpointError(
            f"no classifier checkpoint at {path}; train one with "
            "`hadamard-restore classifier CONFIG` and pass its classifier.pt"
        )
    return load_checkpoint(path, "classifier")


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> ClearClassifier:
    """Load a checkpoint as a frozen eval-mode :class:`ClearClassifier` on ``device``.

    Raises:
        CheckpointError: what :func:`read_classifier_checkpoint` refuses, other preprocessing, or a
            state dict that does not fit the recorded arch.
    """
    ckpt = read_classifier_checkpoint(path)
    prep = ckpt.get("preprocessing", {})
    if prep.get("mean") != list(IMAGENET_MEAN) or prep.get("std") != list(IMAGENET_STD):
        raise CheckpointError(
            f"{path} was trained with other input preprocessing "
            f"({ckpt.get('preprocessing')}); this code uses {PREPROCESSING}"
        )
    arch = ckpt.get("arch")
    if arch not in ARCHS:
        raise CheckpointError(f"{path}: unknown arch {arch!r}; expected one of {', '.join(ARCHS)}")
    model = ClearClassifier(arch, init=ckpt.get("init", "scratch"))
    try:
        model.load_state_dict(ckpt["state_dict"], strict=True)
    except (RuntimeError, KeyError) as exc:
        raise CheckpointError(f"{path}: the weights do not fit a {arch} classifier ({exc})") from None
    return freeze_classifier(model.to(device))
