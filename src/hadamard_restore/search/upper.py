"""The stage-1 upper objective (``search.upper``): the paper's classifier or the clean references.

* ``classifier`` (the paper, docs/method.md 4): ``L_Cval`` = the frozen clear-vs-degraded classifier's
  cross-entropy of "clear" on the outputs for search-validation inputs
  (:func:`~hadamard_restore.search.build.classifier_objective`); the references of the validation
  pairs are never used. The stage is *judged*: :func:`~hadamard_restore.search.stage.run_stage`
  provides the classifier.
* ``reference`` (beyond the paper, issue 11): ``L1 + (1 − SSIM)`` of the outputs against the
  clean references of the same search-validation pairs (SSIM: the loss space's Gaussian SSIM,
  i.e. ``ssim_loss / 10``). No classifier is trained or read. Like ``L_Cval`` it contains no loss
  weight directly, so β still gets its gradient only through the unrolled step (second order).

Both see search-validation pairs only (part of the training split), never the held-out pairs.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from hadamard_restore.losses import functional as LF
from hadamard_restore.search.build import Objective, classifier_objective, forward
from hadamard_restore.search.loop import Batch

UPPERS = ("classifier", "reference")
REFERENCE_OBJECTIVE = "L1 + (1 - SSIM) against the clean references of search-validation pairs"


def reference_upper(out: Tensor, ref: Tensor) -> Tensor:
    """``mean |out − ref| + (1 − SSIM(out, ref))`` (scalar, differentiable in ``out``)."""
    return LF.l1(out, ref) + LF.ssim_loss(out, ref) / 10.0


def reference_objective(model: torch.nn.Module) -> Objective:
    """``(params, batch) -> L1 + (1 − SSIM)`` of ``model``'s outputs against the batch's references."""

    def reference_loss(params: Mapping[str, Tensor], batch: Batch) -> Tensor:
        return reference_upper(forward(model, params, batch[0]), batch[1])

    return reference_loss


def needs_classifier(kind: str) -> bool:
    """Whether ``search.upper = kind`` needs the classifier (one is then provided)."""
    return kind == "classifier"


def upper_objective(kind: str, model: torch.nn.Module, classifier: torch.nn.Module | None) -> Objective:
    """Stage 1's (and the joint mode's) upper objective ``(params, batch) -> L_up`` for ``search.upper = kind``.

    Raises:
        ValueError: ``kind`` is unknown, or ``classifier`` with no classifier given.
    """
    if kind == "reference":
        return reference_objective(model)
    if kind != "classifier" or classifier is None:
        need = "a classifier" if kind == "classifier" else f"to be one of {', '.join(UPPERS)}"
        raise ValueError(f"search.upper={kind!r} needs {need}")
    return classifier_objective(model, classifier)


def upper_record(kind: str, reliability: dict | None) -> dict | None:
    """What travels with the searched ``loss_weights.json`` under ``extra.classifier``: the
    classifier's reliability record (``classifier``), or what the reference objective was."""
    if kind == "reference":
        return {"upper": "reference", "objective": REFERENCE_OBJECTIVE}
    return reliability
