"""The classifier checkpoint (``classifier.pt``): weights plus what is needed to trust and reuse them.

Written and read through :mod:`hadamard_restore.runtime.checkpoint` (kind ``classifier``), so it
is loaded with ``torch.load(weights_only=True)`` and a file holding pickled code is refused
before anything in it runs. Besides the state dict it records the arch, how the trunk was
initialised, the label meaning and the input preprocessing (a checkpoint trained with other
preprocessing is refused rather than silently misused), plus what the training measured
(``val_accuracy``, ``eval_crop``, ``reliable``; see :mod:`.reliability`).

A feature classifier (:mod:`.features`) stores only its head (``head.*``) and ``trunk_sha256``; its
frozen trunk is rebuilt from the weights cache at load, and a cache whose weights differ from
those the head was trained on is refused.
"""

from __future__ import annotations

from pathlib import Path

import torch

from hadamard_restore.artifacts import run_file
from hadamard_restore.classifier.features import FEATURE_ARCHS, FeatureClassifier, trunk_digest
from hadamard_restore.classifier.model import (
    ARCHS,
    CLEAR,
    DEGRADED,
    PREPROCESSING,
    Classifier,
    ClearClassifier,
    freeze_classifier,
)
from hadamard_restore.errors import CheckpointError
from hadamard_restore.losses.preprocess import IMAGENET_MEAN, IMAGENET_STD
from hadamard_restore.runtime.checkpoint import load_checkpoint, save_checkpoint


def save_classifier(model: Classifier, path: str | Path, **info: str | float | int | bool | None) -> Path:
    """Write the checkpoint atomically: state dict, arch, init, preprocessing, labels, ``info``
    (a feature classifier: its head's state and ``trunk_sha256`` instead of every weight)."""
    if isinstance(model, FeatureClassifier):
        state, extra = model.head_state(), {"trunk_sha256": trunk_digest(model.trunk)}
    else:
        state, extra = {k: v.detach().cpu() for k, v in model.state_dict().items()}, {}
    return save_checkpoint(
        path,
        "classifier",
        {
            "arch": model.arch,
            "init": model.init,
            "labels": {str(CLEAR): "clear", str(DEGRADED): "degraded"},
            "preprocessing": dict(PREPROCESSING),
            "state_dict": state,
            **extra,
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


def _feature_classifier(path: str | Path, arch: str, ckpt: dict) -> FeatureClassifier:
    """The classifier of a head-only checkpoint, its trunk from the weights cache (which must match)."""
    model = FeatureClassifier(arch)
    state = ckpt["state_dict"]
    if not isinstance(state, dict) or not all(str(k).startswith("head.") for k in state):
        raise CheckpointError(f"{path}: a {arch} checkpoint holds only its head's weights (head.*); this one does not")
    model.head.load_state_dict({k[len("head.") :]: v for k, v in state.items()}, strict=True)
    if ckpt.get("trunk_sha256") != trunk_digest(model.trunk):
        raise CheckpointError(
            f"{path}: its head was trained on other {FEATURE_ARCHS[arch][0]} weights than those in the weights "
            "cache (trunk_sha256 differs); install the weights it was trained with or train the classifier again"
        )
    return model


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> Classifier:
    """Load a checkpoint as a frozen eval-mode classifier on ``device``.

    Raises:
        CheckpointError: what :func:`read_classifier_checkpoint` refuses, other preprocessing, a
            state dict that does not fit the recorded arch, or (a feature classifier) other trunk weights.
        WeightsMissingError: a feature classifier whose trunk weights are not in the cache.
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
    model: Classifier
    try:
        if arch in FEATURE_ARCHS:
            model = _feature_classifier(path, arch, ckpt)
        else:
            model = ClearClassifier(arch, init=ckpt.get("init", "scratch"))
            model.load_state_dict(ckpt["state_dict"], strict=True)
    except (RuntimeError, KeyError) as exc:
        raise CheckpointError(f"{path}: the weights do not fit a {arch} classifier ({exc})") from None
    return freeze_classifier(model.to(device))
