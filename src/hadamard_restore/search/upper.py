"""The stage-1 upper objective (``search.upper``): the paper's classifier or the clean references.

* ``classifier`` (the paper, method.md 4): ``L_Cval`` = the frozen clear-vs-degraded classifier's
  cross-entropy of "clear" on the outputs for search-validation inputs; the references of the
  validation pairs are never used.
* ``reference`` (beyond the paper, issue 11): ``L1 + (1 − SSIM)`` of the outputs against the
  clean references of the same search-validation pairs (SSIM: the loss space's Gaussian SSIM,
  i.e. ``ssim_loss / 10``). No classifier is trained or read. Like ``L_Cval`` it contains no loss
  weight directly, so β still gets its gradient only through the unrolled step (second order).

Both see search-validation pairs only (part of the training split), never the held-out pairs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch import Tensor

UPPERS = ("classifier", "reference")
REFERENCE_OBJECTIVE = "L1 + (1 - SSIM) against the clean references of search-validation pairs"


def reference_upper(out: Tensor, ref: Tensor) -> Tensor:
    """``mean |out − ref| + (1 − SSIM(out, ref))`` (scalar, differentiable in ``out``)."""
    from hadamard_restore.losses import functional as LF

    return LF.l1(out, ref) + LF.ssim_loss(out, ref) / 10.0


def upper_objective(kind: str, clf: torch.nn.Module | None) -> Callable[[Tensor, Tensor], Tensor]:
    """``(outputs, references) -> L_up`` for ``search.upper = kind``."""
    if kind == "reference":
        return reference_upper
    if kind != "classifier" or clf is None:
        need = "a classifier" if kind == "classifier" else f"to be one of {', '.join(UPPERS)}"
        raise ValueError(f"search.upper={kind!r} needs {need}")
    from hadamard_restore.losses.classifier import clear_loss

    return lambda out, _ref: clear_loss(clf, out)


def judge_for(cfg, run_dir: Path, device: torch.device, dist_ctx) -> tuple[torch.nn.Module | None, dict | None]:
    """The frozen classifier and its record (``classifier``), or ``(None, record)`` (``reference``).

    The record travels with the searched ``loss_weights.json`` (``extra.classifier``).
    """
    if cfg.search.upper == "reference":
        return None, {"upper": "reference", "objective": REFERENCE_OBJECTIVE}
    from hadamard_restore.search.classifier import classifier_for, record_and_warn

    clf = classifier_for(cfg, run_dir, device, dist_ctx)
    return clf, record_and_warn(clf.checkpoint_path, cfg.search.crop) if dist_ctx.is_main else None
