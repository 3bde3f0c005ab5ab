"""Training of the clear-vs-degraded classifier (method.md 4; the authors did not release theirs).

Recipe (config section ``classifier``): each step draws ``max(1, batch_size // 2)`` training
pairs, cuts the same random window from the degraded input and its reference, flips both at
random, and trains on the batch ``[degraded (label 0), reference (label 1)]`` with cross-entropy
and Adam (``lr`` 1e-4, ``weight_decay``; method.md's Adam option). Both images of a pair show the
same content, so the network has to learn the degradation rather than the scene.

**Sizes.** Stage 1 judges network outputs of ``search.crop`` pixels, and a from-scratch ResNet is
only reliable at the image size its batch-norm statistics were estimated at. Measured on LOL
(ResNet-18 from scratch, 100 steps of 8 images at 64 px, Adam 1e-4, 32 held-out pairs, 4 random
windows per image; ``benchmarks/results/classifier_sizes.md``): accuracy 0.996 on 64-px
windows but 0.508 on 128-px windows and 0.500 on full 600x400 images (everything called
"clear"); the same without BN recalibration: 0.996 / 0.684 / 0.500. Re-estimating only the BN
running statistics on 128-px windows (weights unchanged) lifts 128 px to 1.000 (64 px 0.969), so
the failure is the size dependence of the BN statistics (zero-padding borders fill a larger part
of a small feature map: layer4 of a 64-px input is 2x2), not the weights. Hence, following
method.md ("random crops the size of the search patches"):

- training windows of side ``crop``, by default ``search.crop``. ``scale_jitter`` (default 0)
  draws each step's side uniformly from ``crop * (1 +- scale_jitter)`` instead; it buys
  robustness at other sizes but, measured (same LOL setting, sides 48-80), costs accuracy at
  the judged size (0.949 at 64 px, 0.977 at 128 px, vs 0.996 / 0.508 without), so it is off;
- after training the BN running statistics are recomputed for the final weights
  (:func:`recalibrate_batchnorm`) on training windows **of the judged size** (``eval_crop``,
  default ``search.crop``): the classifier is only ever used in eval mode at that size;
- the held-out accuracy is measured on ``eval_crops_per_image`` random windows of the judged size
  per held-out image (repeatable: generator seeded 0), so the number reported is the reliability of
  the judge where stage 1 uses it. Below :data:`ACCURACY_WARN` a WARNING is logged and recorded
  (``reliable``: false, ``warning``) in ``classifier_metrics.json`` and the checkpoint.

Learning rate was not the problem (SOTS, 64 px, 100 steps: lr 1e-4 / 3e-4 / 1e-3 give
0.797 / 0.786 / 0.812), so Adam 1e-4 stays. With these defaults at 64 px (300 steps of 16):
LOL 0.992, LSUI 0.966, SOTS-indoor 0.818 (600 / 1200 steps: 0.896 / 0.885, a plateau): haze is
hard to see in a small window of a flat indoor wall, so dehazing needs an ImageNet trunk or a
larger ``search.crop``.

Deviations from method.md 4: no ImageNet initialisation is obtainable here (it is used when the
weights cache has it), and training is stopped after ``steps`` rather than "until ~99%"; the
warning is how a reader learns that a run stopped short of that.

Outputs in the run directory (atomic): ``classifier.pt`` (see
:func:`hadamard_restore.losses.classifier.save_classifier`) and ``classifier_metrics.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from hadamard_restore.losses.classifier import CLEAR, DEGRADED, build_classifier, save_classifier


BN_BATCHES = 20
EVAL_CROPS = 4
ACCURACY_WARN = 0.9


def _labels(n: int, device) -> torch.Tensor:
    return torch.cat([torch.full((n,), DEGRADED), torch.full((n,), CLEAR)]).to(device)


def judge_crop(cfg) -> int:
    """The side of the square images the classifier is evaluated on: ``classifier.eval_crop``,
    or by default ``search.crop``, the size of the network outputs stage 1 feeds it."""
    return int(cfg.classifier.eval_crop or cfg.search.crop)


@torch.no_grad()
def held_out_accuracy(model: nn.Module, dataset, device, eval_crop: int | None = None,
                      crops_per_image: int = EVAL_CROPS, generator: torch.Generator | None = None) -> dict:
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
    from hadamard_restore.data.transforms import random_crop_box

    gen = generator if generator is not None else torch.Generator().manual_seed(0)
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
            boxes = [random_crop_box(deg.shape[1], deg.shape[2], side, gen) for _ in range(crops_per_image)]
            deg, ref = (torch.stack([img[:, t:t + h, l:l + w] for t, l, h, w in boxes]) for img in (deg, ref))
        for batch, label in ((deg, DEGRADED), (ref, CLEAR)):
            hits[label] += int((model(batch.to(device)).argmax(1) == label).sum().item())
        per_label += deg.shape[0]
    model.train(was_training)
    return {"accuracy": (hits[CLEAR] + hits[DEGRADED]) / (2 * per_label),
            "accuracy_clear": hits[CLEAR] / per_label, "accuracy_degraded": hits[DEGRADED] / per_label,
            "images": 2 * len(dataset), "judged": 2 * per_label}


def accuracy_warning(metrics: dict, threshold: float = ACCURACY_WARN) -> str | None:
    """The warning for an untrustworthy classifier, or None when ``accuracy >= threshold``.

    A classifier that calls everything clear (accuracy 0.5, ``accuracy_degraded`` 0) gives
    stage 1 a near-zero, meaningless objective; the message says which side fails and what to do.
    """
    acc = metrics["accuracy"]
    if acc >= threshold:
        return None
    crop = metrics.get("eval_crop")
    where = f"{crop}px windows" if crop else "full images"
    return (f"classifier held-out accuracy {acc:.3f} < {threshold:.2f} on {where} "
            f"(clear {metrics['accuracy_clear']:.2f}, degraded {metrics['accuracy_degraded']:.2f}): "
            "it cannot tell clear from degraded images, so a loss search judged by it is not trustworthy; "
            "train longer (classifier.steps), check classifier.lr, "
            "or train on crops nearer to the judged size (classifier.crop, search.crop)")


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, batches) -> None:
    """Re-estimate every BatchNorm's running statistics as the plain average over ``batches``.

    The running averages (momentum 0.1) lag behind the weights, which matters after few steps
    from scratch: in eval mode the net then sees other statistics than it was trained with. The
    classifier is only ever used in eval mode, so its running statistics are recomputed for the
    final weights from fresh training batches (same crops and class mix as in training).
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    was_training = model.training
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    model.train()
    for x in batches:
        model(x)
    for m, mom in zip(bns, momenta):
        m.momentum = mom
    model.train(was_training)


def train_sides(crop: int, jitter: float, limit: int) -> list[int]:
    """The crop sides one training step may draw: every integer in ``[crop(1-j), crop(1+j)]``.

    Clipped to ``[16, limit]`` (``limit``: the shortest training image side) and never empty.
    """
    lo, hi = max(16, round(crop * (1 - jitter))), min(limit, round(crop * (1 + jitter)))
    if lo > hi:
        lo = hi = min(crop, limit)
    return list(range(lo, hi + 1))


def train_classifier(cfg, run_dir: str | Path) -> Path:
    """Train on ``cfg``'s training pairs, report held-out accuracy, save into ``run_dir``.

    Args:
        cfg: a ``RunConfig`` (uses ``data``, ``classifier``, ``search.crop``, ``seed``, ``device``).
        run_dir: the run directory (made by ``artifacts.new_run_dir``).

    Returns:
        Path of ``classifier.pt``.

    Raises:
        DataError: missing or unreadable pairs, or images smaller than 16 pixels.
    """
    from hadamard_restore.artifacts import write_json
    from hadamard_restore.data.dataset import PairedImages
    from hadamard_restore.data.task_data import load_pairs
    from hadamard_restore.runtime import get_logger, pick_device

    log = get_logger("hadamard_restore.classifier")
    cc, run_dir = cfg.classifier, Path(run_dir)
    device = pick_device(cfg.device)
    gen = torch.Generator().manual_seed(cfg.seed)
    train_pairs, val_pairs = load_pairs(cfg, run_dir)
    train_ds = PairedImages(train_pairs, flip=True)
    val_ds = PairedImages(val_pairs)
    crop = int(cc.crop or cfg.search.crop)
    sides = train_sides(crop, cc.scale_jitter, min(min(hw) for hw in train_ds.sizes()))
    judged = judge_crop(cfg)
    model = build_classifier(cc.arch, cc.pretrained, seed=cfg.seed).to(device)
    if model.init == "imagenet":
        log.info("classifier %s: ImageNet initialisation from the weights cache", cc.arch)
    else:
        why = "pretrained=false" if not cc.pretrained else \
            f"no ImageNet {cc.arch} weights in the cache (they cannot be provisioned offline)"
        log.warning("classifier %s: training FROM SCRATCH (%s)", cc.arch, why)
    sides_txt = f"{sides[0]}" if len(sides) == 1 else f"{sides[0]}-{sides[-1]}"
    log.info("classifier: %d train pairs, %d held-out pairs, %d steps of %d images at %spx on %s; "
             "judged on %dpx windows", len(train_pairs), len(val_pairs), cc.steps, 2 * max(1, cc.batch_size // 2),
             sides_txt, device, judged)

    opt = torch.optim.Adam(model.parameters(), lr=cc.lr, weight_decay=cc.weight_decay)
    n_pairs = max(1, cc.batch_size // 2)
    labels = _labels(n_pairs, device)
    log_every = max(1, cc.steps // 10)

    def batch(side: int | None = None) -> torch.Tensor:
        train_ds.crop = side or sides[int(torch.randint(len(sides), (1,), generator=gen))]
        return torch.cat(train_ds.sample_batch(n_pairs, gen)).to(device)

    start = time.perf_counter()
    model.train()
    for step in range(1, cc.steps + 1):
        logits = model(batch())
        loss = F.cross_entropy(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == cc.steps:
            acc = (logits.argmax(1) == labels).float().mean().item()
            log.info("classifier step %d/%d  loss %.4f  batch acc %.3f", step, cc.steps, loss.item(), acc)
    # BN statistics depend on the image size (see the module docstring): estimate them at the judged size
    bn_side = min(judged, min(min(hw) for hw in train_ds.sizes()))
    recalibrate_batchnorm(model, (batch(bn_side) for _ in range(BN_BATCHES)))
    train_s = time.perf_counter() - start

    metrics = held_out_accuracy(model, val_ds, device, judged, cc.eval_crops_per_image)
    metrics.update({"train_seconds": round(train_s, 2), "steps": cc.steps, "arch": cc.arch, "init": model.init,
                    "crop": crop, "crop_range": [sides[0], sides[-1]], "eval_crop": judged,
                    "eval_crops_per_image": cc.eval_crops_per_image, "lr": cc.lr, "device": str(device),
                    "train_pairs": len(train_pairs), "val_pairs": len(val_pairs), "task": cfg.task})
    warning = accuracy_warning(metrics)
    metrics.update({"reliable": warning is None, "warning": warning, "warn_below": ACCURACY_WARN})
    log.info("classifier held-out accuracy %.4f on %d %dpx windows of %d images (clear %.3f, degraded %.3f); "
             "trained in %.1fs", metrics["accuracy"], metrics["judged"], judged, metrics["images"],
             metrics["accuracy_clear"], metrics["accuracy_degraded"], train_s)
    if warning:
        log.warning("%s", warning)
    model.eval()
    path = save_classifier(model, run_dir / "classifier.pt", task=cfg.task, val_accuracy=metrics["accuracy"],
                           eval_crop=judged, reliable=warning is None)
    write_json(run_dir / "classifier_metrics.json", metrics)
    return path
