"""Training of the clear-vs-degraded classifier (method.md 4; the authors did not release theirs).

Recipe (config section ``classifier``): each step draws ``max(1, batch_size // 2)`` training
pairs, cuts the same random ``crop`` window from the degraded input and its reference, flips both
at random, and trains on the ``batch_size``-ish batch ``[degraded (label 0), reference (label 1)]``
with cross-entropy and Adam (``lr``, ``weight_decay``); afterwards the batch-norm running
statistics are recomputed for the final weights (:func:`recalibrate_batchnorm`). Both images of a pair show the same content,
so the network has to learn the degradation rather than the scene. The held-out accuracy is then
measured on the validation pairs (full images, or a centre crop of ``eval_crop``), each pair
giving one degraded and one clear image, with the network in eval mode.

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


def _labels(n: int, device) -> torch.Tensor:
    return torch.cat([torch.full((n,), DEGRADED), torch.full((n,), CLEAR)]).to(device)


@torch.no_grad()
def held_out_accuracy(model: nn.Module, dataset, device, eval_crop: int | None = None) -> dict:
    """Accuracy of ``model`` (eval mode) on every pair of ``dataset``: 2 images per pair.

    Returns:
        ``{"accuracy", "accuracy_clear", "accuracy_degraded", "images"}``.
    """
    from hadamard_restore.data.transforms import center_crop

    was_training = model.training
    model.eval()
    hits = {CLEAR: 0, DEGRADED: 0}
    for i in range(len(dataset)):
        deg, ref = dataset.full(i)
        for img, label in ((deg, DEGRADED), (ref, CLEAR)):
            if eval_crop is not None:
                img = center_crop(img, eval_crop)
            pred = int(model(img[None].to(device)).argmax(1).item())
            hits[label] += int(pred == label)
    model.train(was_training)
    n = len(dataset)
    return {"accuracy": (hits[CLEAR] + hits[DEGRADED]) / (2 * n), "accuracy_clear": hits[CLEAR] / n,
            "accuracy_degraded": hits[DEGRADED] / n, "images": 2 * n}


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


def train_classifier(cfg, run_dir: str | Path) -> Path:
    """Train on ``cfg``'s training pairs, report held-out accuracy, save into ``run_dir``.

    Args:
        cfg: a ``RunConfig`` (uses ``data``, ``classifier``, ``seed``, ``device``).
        run_dir: the run directory (made by ``artifacts.new_run_dir``).

    Returns:
        Path of ``classifier.pt``.

    Raises:
        DataError: missing or unreadable pairs, or a crop larger than the images.
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
    train_ds = PairedImages(train_pairs, crop=cc.crop, flip=True)
    val_ds = PairedImages(val_pairs)
    model = build_classifier(cc.arch, cc.pretrained, seed=cfg.seed).to(device)
    if model.init == "imagenet":
        log.info("classifier %s: ImageNet initialisation from the weights cache", cc.arch)
    else:
        why = "pretrained=false" if not cc.pretrained else \
            f"no ImageNet {cc.arch} weights in the cache (they cannot be provisioned offline)"
        log.warning("classifier %s: training FROM SCRATCH (%s)", cc.arch, why)
    log.info("classifier: %d train pairs, %d held-out pairs, %d steps of %d images at %dpx on %s",
             len(train_pairs), len(val_pairs), cc.steps, 2 * max(1, cc.batch_size // 2), cc.crop, device)

    opt = torch.optim.Adam(model.parameters(), lr=cc.lr, weight_decay=cc.weight_decay)
    n_pairs = max(1, cc.batch_size // 2)
    labels = _labels(n_pairs, device)
    log_every = max(1, cc.steps // 10)
    start = time.perf_counter()
    model.train()
    for step in range(1, cc.steps + 1):
        deg, ref = train_ds.sample_batch(n_pairs, gen)
        logits = model(torch.cat([deg, ref]).to(device))
        loss = F.cross_entropy(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == cc.steps:
            acc = (logits.argmax(1) == labels).float().mean().item()
            log.info("classifier step %d/%d  loss %.4f  batch acc %.3f", step, cc.steps, loss.item(), acc)
    device_batches = (torch.cat(train_ds.sample_batch(n_pairs, gen)).to(device) for _ in range(BN_BATCHES))
    recalibrate_batchnorm(model, device_batches)
    train_s = time.perf_counter() - start

    metrics = held_out_accuracy(model, val_ds, device, cc.eval_crop)
    metrics.update({"train_seconds": round(train_s, 2), "steps": cc.steps, "arch": cc.arch, "init": model.init,
                    "crop": cc.crop, "eval_crop": cc.eval_crop, "device": str(device),
                    "train_pairs": len(train_pairs), "val_pairs": len(val_pairs), "task": cfg.task})
    log.info("classifier held-out accuracy %.4f on %d images (clear %.3f, degraded %.3f); trained in %.1fs",
             metrics["accuracy"], metrics["images"], metrics["accuracy_clear"], metrics["accuracy_degraded"],
             train_s)
    model.eval()
    path = save_classifier(model, run_dir / "classifier.pt", task=cfg.task, val_accuracy=metrics["accuracy"])
    write_json(run_dir / "classifier_metrics.json", metrics)
    return path
