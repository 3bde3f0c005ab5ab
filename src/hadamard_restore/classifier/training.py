"""Training of the clear-vs-degraded classifier (docs/method.md 4; the authors did not release theirs).

Recipe (config section ``classifier``): each step draws ``max(1, batch_size // 2)`` training
pairs, cuts the same random window from the degraded input and its reference, flips both at
random, and trains on the batch ``[degraded (label 0), reference (label 1)]`` with cross-entropy
and Adam (``lr``, ``weight_decay``; docs/method.md's Adam option). Both images of a pair show the
same content, so the network has to learn the degradation rather than the scene.

Sizes. Stage 1 judges network outputs of ``search.crop`` pixels, and a from-scratch ResNet is
only reliable at the image size its batch-norm statistics were estimated at (zero-padding
borders fill a larger part of a small feature map). Hence, following docs/method.md ("random crops
the size of the search patches"):

- training windows of side ``crop``, by default ``search.crop``; ``scale_jitter`` (default 0)
  draws each step's side from ``crop * (1 +- scale_jitter)`` instead, which buys robustness at
  other sizes at a cost in accuracy at the judged one, so it is off;
- after training the batch-norm running statistics are recomputed for the final weights
  (:func:`recalibrate_batchnorm`) on training windows of the judged size (``eval_crop``, by
  default ``search.crop``): the classifier is only ever used in eval mode at that size;
- the held-out accuracy is measured on windows of the judged size
  (:func:`~hadamard_restore.classifier.reliability.held_out_accuracy`), so the number reported
  is the reliability of the classifier where stage 1 uses it; below the threshold the one
  reliability warning is logged and recorded.

The measurements behind these choices (accuracy against window size, BN recalibration, scale
jitter, learning rates, the three tasks) are in ``benchmarks/results/studies/classifier_sizes.md``.

A feature classifier (``classifier.arch`` ``vgg16-features`` / ``alexnet-features``, :mod:`.features`)
trains the same way, but only its head: the optimizer holds the head's parameters, the frozen trunk
stays in eval mode (its weights never change), and only the head's BatchNorm is recalibrated.

Deviations from docs/method.md 4: the ImageNet initialisation is used only when the weights cache
has it, and training stops after ``steps`` rather than "until ~99%"; the warning is how a reader
learns that a run stopped short of that.

Outputs in the output directory (atomic): ``classifier.pt``
(:func:`~hadamard_restore.classifier.checkpoint.save_classifier`) and ``classifier_metrics.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from hadamard_restore.artifacts import write_json
from hadamard_restore.classifier.checkpoint import save_classifier
from hadamard_restore.classifier.features import FeatureClassifier
from hadamard_restore.classifier.model import CLEAR, DEGRADED, Classifier, build_classifier
from hadamard_restore.classifier.reliability import ACCURACY_WARN, held_out_accuracy, reliability_warning
from hadamard_restore.config import ClassifierConfig
from hadamard_restore.data.dataset import PairedImages
from hadamard_restore.jobs import ClassifierJob
from hadamard_restore.runtime.log import get_logger
from hadamard_restore.runtime.process import pick_device

BN_BATCHES = 20
log = get_logger("hadamard_restore.classifier")


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, batches) -> None:
    """Re-estimate every BatchNorm's running statistics as the plain average over ``batches``.

    The running averages (momentum 0.1) lag behind the weights, which matters after few steps
    from scratch: in eval mode the net then sees other statistics than it was trained with. The
    classifier is only ever used in eval mode, so its running statistics are recomputed for the
    final weights from fresh training batches (same crops and class mix as in training).
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    was_training = model.training
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    model.train()
    for x in batches:
        model(x)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.train(was_training)


def learning_rate(settings: ClassifierConfig) -> float:
    """``head_lr`` for a frozen-feature classifier (only its head trains), else ``lr``."""
    return settings.head_lr if settings.arch.endswith("-features") else settings.lr


def train_sides(crop: int, jitter: float, limit: int) -> list[int]:
    """The crop sides one training step may draw: every integer in ``[crop(1-j), crop(1+j)]``.

    Clipped to ``[16, limit]`` (``limit``: the shortest training image side) and never empty.
    """
    lo, hi = max(16, round(crop * (1 - jitter))), min(limit, round(crop * (1 + jitter)))
    if lo > hi:
        lo = hi = min(crop, limit)
    return list(range(lo, hi + 1))


def _initialised(job: ClassifierJob, device: torch.device) -> Classifier:
    """The fresh classifier, with a log line saying how its trunk starts."""
    settings = job.settings
    model = build_classifier(settings.arch, settings.pretrained, seed=job.seed).to(device)
    if isinstance(model, FeatureClassifier):
        log.info("classifier %s: frozen ImageNet trunk from the weights cache; only the head trains", settings.arch)
    elif model.init == "imagenet":
        log.info("classifier %s: ImageNet initialisation from the weights cache", settings.arch)
    else:
        why = (
            "pretrained=false"
            if not settings.pretrained
            else f"no ImageNet {settings.arch} weights in the cache (they cannot be provisioned offline)"
        )
        log.warning("classifier %s: training FROM SCRATCH (%s)", settings.arch, why)
    return model


def _fit(model: nn.Module, job: ClassifierJob, train_ds, sides: list[int], device: torch.device) -> None:
    """The training steps, then the BN statistics at the judged size (see the module docstring)."""
    settings = job.settings
    draws = torch.Generator().manual_seed(job.seed)
    n_pairs = max(1, settings.batch_size // 2)
    labels = torch.cat([torch.full((n_pairs,), DEGRADED), torch.full((n_pairs,), CLEAR)]).to(device)
    log_every = max(1, settings.steps // 10)

    def batch(side: int | None = None) -> torch.Tensor:
        train_ds.crop = side or sides[int(torch.randint(len(sides), (1,), generator=draws))]
        return torch.cat(train_ds.sample_batch(n_pairs, draws)).to(device)

    trainable = [p for p in model.parameters() if p.requires_grad]  # a feature classifier: its head only
    opt = torch.optim.Adam(trainable, lr=learning_rate(settings), weight_decay=settings.weight_decay)
    model.train()
    for step in range(1, settings.steps + 1):
        logits = model(batch())
        loss = F.cross_entropy(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == settings.steps:
            acc = (logits.argmax(1) == labels).float().mean().item()
            log.info("classifier step %d/%d  loss %.4f  batch acc %.3f", step, settings.steps, loss.item(), acc)
    bn_side = min(job.judged_crop, min(min(hw) for hw in train_ds.sizes()))
    recalibrate_batchnorm(model, (batch(bn_side) for _ in range(BN_BATCHES)))


def _held_out_metrics(
    model: Classifier,
    job: ClassifierJob,
    val_ds,
    device: torch.device,
    train_s: float,
    sides: list[int],
    pair_counts: tuple[int, int],
) -> dict:
    """The held-out accuracy at the judged size with the run's settings, and the reliability verdict
    (``reliable``, ``warning``), logged; the content of ``classifier_metrics.json``."""
    settings = job.settings
    train_pairs, val_pairs = pair_counts
    metrics = held_out_accuracy(model, val_ds, device, job.judged_crop, settings.eval_crops_per_image)
    metrics.update(
        {
            "train_seconds": round(train_s, 2),
            "steps": settings.steps,
            "arch": settings.arch,
            "init": model.init,
            "crop": job.train_crop,
            "crop_range": [sides[0], sides[-1]],
            "eval_crop": job.judged_crop,
            "eval_crops_per_image": settings.eval_crops_per_image,
            "lr": learning_rate(settings),
            "device": str(device),
            "train_pairs": train_pairs,
            "val_pairs": val_pairs,
            "task": job.task,
        }
    )
    warning = reliability_warning(metrics)
    metrics.update({"reliable": warning is None, "warning": warning, "warn_below": ACCURACY_WARN})
    log.info(
        "classifier held-out accuracy %.4f on %d %dpx windows of %d images (clear %.3f, degraded %.3f); "
        "trained in %.1fs",
        metrics["accuracy"],
        metrics["judged"],
        job.judged_crop,
        metrics["images"],
        metrics["accuracy_clear"],
        metrics["accuracy_degraded"],
        train_s,
    )
    if warning:
        log.warning("%s", warning)
    return metrics


def train_classifier(job: ClassifierJob, out_dir: str | Path) -> Path:
    """Train on the job's training pairs, measure the held-out accuracy, save into ``out_dir``.

    Returns:
        Path of ``classifier.pt`` (``classifier_metrics.json`` is written beside it).

    Raises:
        DataError: missing or unreadable pairs, or images smaller than 16 pixels.
    """
    settings, out_dir = job.settings, Path(out_dir)
    device = pick_device(job.device)
    train_pairs, val_pairs = job.pairs(out_dir)
    train_ds, val_ds = PairedImages(train_pairs, flip=True), PairedImages(val_pairs)
    sides = train_sides(job.train_crop, settings.scale_jitter, min(min(hw) for hw in train_ds.sizes()))
    model = _initialised(job, device)
    sides_txt = f"{sides[0]}" if len(sides) == 1 else f"{sides[0]}-{sides[-1]}"
    log.info(
        "classifier: %d train pairs, %d held-out pairs, %d steps of %d images at %spx on %s; judged on %dpx windows",
        len(train_pairs),
        len(val_pairs),
        settings.steps,
        2 * max(1, settings.batch_size // 2),
        sides_txt,
        device,
        job.judged_crop,
    )
    start = time.perf_counter()
    _fit(model, job, train_ds, sides, device)
    train_s = time.perf_counter() - start

    metrics = _held_out_metrics(model, job, val_ds, device, train_s, sides, (len(train_pairs), len(val_pairs)))
    warning = metrics["warning"]
    model.eval()
    path = save_classifier(
        model,
        out_dir / "classifier.pt",
        task=job.task,
        val_accuracy=metrics["accuracy"],
        eval_crop=job.judged_crop,
        reliable=warning is None,
    )
    write_json(out_dir / "classifier_metrics.json", metrics)
    return path
