"""The entries of the quality benchmark and how one entry is trained and scored.

An entry is ``(name, kind, model, loss)``:

* ``model``: a genotype source (``searched``, ``joint``, ``paper`` = the task config's bundled
  genotype, or a bundled name such as ``all-3c``), ``supernet`` (the supernet with α frozen at
  the searched values: the continuous network before derivation) or ``unet`` (the bundled U-Net);
* ``loss``: ``searched`` (the hierarchical search's β and VGG layers, TV and Laplacian dropped as
  in the stage-2 and final losses, docs/method.md 8.12), ``unet-searched`` (stage 1 run on the U-Net,
  Fig. 6), ``paper`` (the task config's bundled weights), ``equal`` (all eight 1.0) or ``l1``.

Every entry trains from scratch with the SAME ``train`` budget through the pipeline's training
loop (:func:`hadamard_restore.training.trainer.fit`) and is scored on the held-out pairs at full
resolution, at its final weights, or, when separate test pairs are given (the budget curves), as
its model.pt (with ``train.ema_decay``, the better of the raw and averaged weights on development
pairs): output clamped and quantised to 8 bits, PSNR/SSIM on RGB
(peak 1), LPIPS AlexNet v0.1 on [-1, 1] (docs/evaluation.md §4).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass(frozen=True)
class Entry:
    key: str  # file-safe id
    name: str  # table label
    group: str  # "method", "table 5", "fig 6", "paper"
    model: str
    loss: str


ENTRIES: tuple[Entry, ...] = (
    Entry("searched", "Ours: searched architecture + searched loss", "method", "searched", "searched"),
    Entry("supernet", "Supernet (searched alpha, not derived) + searched loss", "table 5", "supernet", "searched"),
    Entry("all-1c", "all 1-C + searched loss", "table 5", "all-1c", "searched"),
    Entry("all-3c", "all 3-C + searched loss", "table 5", "all-3c", "searched"),
    Entry("all-1rc", "all 1-RC + searched loss", "table 5", "all-1rc", "searched"),
    Entry("all-3rc", "all 3-RC + searched loss", "table 5", "all-3rc", "searched"),
    Entry("joint", "Ours_a: joint-search architecture + searched loss", "table 5", "joint", "searched"),
    Entry("searched-equal", "searched architecture + equal weights", "fig 6", "searched", "equal"),
    Entry("searched-l1", "searched architecture + L1 only", "fig 6", "searched", "l1"),
    Entry("unet-equal", "U-Net + equal weights", "fig 6", "unet", "equal"),
    Entry("unet-searched", "U-Net + its own searched weights (U-Net+)", "fig 6", "unet", "unet-searched"),
    Entry("paper", "bundled paper genotype + paper loss weights", "paper", "paper", "paper"),
)
HAND_DESIGNED = ("all-1c", "all-3c", "all-1rc", "all-3rc")
SEARCH_NEEDS = {"searched": {"hier"}, "joint": {"joint"}, "supernet": {"hier"}, "unet-searched": {"unet"}}


def searches_needed(entries) -> set[str]:
    """Which searches (``hier``, ``joint``, ``unet``) the chosen entries need."""
    out: set[str] = set()
    for e in entries:
        out |= SEARCH_NEEDS.get(e.model, set()) | SEARCH_NEEDS.get(e.loss, set())
    return out


def loss_weights_for(entry: Entry, cfg, found: dict):
    """The ``LossWeights`` an entry trains with (``found``: artifact paths of the searches)."""
    from hadamard_restore.losses.loss_weights import LossWeights, load_loss_weights

    if entry.loss == "searched":
        return load_loss_weights(found["hier_loss"]).without("tv", "laplacian")
    if entry.loss == "unet-searched":
        return load_loss_weights(found["unet_loss"]).without("tv", "laplacian")
    if entry.loss == "paper":
        return load_loss_weights(cfg.loss.weights)
    if entry.loss == "equal":
        return load_loss_weights("equal")
    if entry.loss == "l1":
        base = load_loss_weights("equal")
        return LossWeights({n: (1.0 if n == "l1" else 0.0) for n in base.weights}, name="l1-only", source="benchmark")
    raise ValueError(f"unknown loss {entry.loss!r}")


def build_model(entry: Entry, cfg, found: dict, seed: int) -> torch.nn.Module:
    """A fresh network for ``entry``, weights initialised from ``seed``."""
    from hadamard_restore.net.genotype import load_genotype
    from hadamard_restore.net.network import HadamardNet
    from hadamard_restore.net.supernet import SuperNet
    from hadamard_restore.net.unet import UNet

    gen = torch.Generator().manual_seed(seed)
    if entry.model == "unet":
        return UNet(generator=gen)
    if entry.model == "supernet":
        net = SuperNet(cfg.net.channels, cfg.net.num_hnu, cfg.net.norm, generator=gen, upsample=cfg.net.upsample)
        alpha = load_alpha(found["hier_alpha"])
        with torch.no_grad():
            for g, a in alpha.items():
                net.arch[g].copy_(a)
        net.freeze_arch(True)
        return net
    geno = {
        "searched": found.get("hier_genotype"),
        "joint": found.get("joint_genotype"),
        "paper": cfg.net.genotype,
    }.get(entry.model, entry.model)
    return HadamardNet(
        load_genotype(str(geno)), channels=cfg.net.channels, norm=cfg.net.norm, generator=gen, upsample=cfg.net.upsample
    )


def alpha_json(alpha_pt: Path, out: Path) -> None:
    """Write a search's ``alpha.pt`` (the architecture logits per group) as JSON: the budget ledger
    keeps text only. float32 values survive the round trip exactly (each is a double in JSON)."""
    from hadamard_restore.artifacts import write_json

    alpha = torch.load(alpha_pt, map_location="cpu", weights_only=True)
    write_json(out, {"format": "alpha-logits", "dtype": "float32", "groups": {g: a.tolist() for g, a in alpha.items()}})


def load_alpha(path: Path) -> dict[str, torch.Tensor]:
    """The architecture logits per group, from the ledger's ``alpha.json`` or a search's ``alpha.pt``."""
    if Path(path).suffix == ".json":
        from hadamard_restore.artifacts import read_json

        return {g: torch.tensor(a, dtype=torch.float32) for g, a in read_json(path)["groups"].items()}
    return torch.load(path, map_location="cpu")


def count_weights(model: torch.nn.Module) -> int:
    """Trainable network weights (a supernet's frozen α excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _metrics(img: torch.Tensor, ref: torch.Tensor, lpips_net: str) -> dict[str, float]:
    from hadamard_restore.metrics.perceptual import lpips
    from hadamard_restore.metrics.psnr import psnr
    from hadamard_restore.metrics.ssim import ssim

    img, ref = img.unsqueeze(0), ref.unsqueeze(0)
    return {
        "psnr": float(psnr(img, ref, data_range=1.0)[0]),
        "ssim": float(ssim(img, ref, data_range=1.0)[0]),
        "lpips": float(lpips(img, ref, net=lpips_net)[0]),
    }


@torch.no_grad()
def score(model: torch.nn.Module | None, pairs, device: torch.device, lpips_net: str = "alex") -> list[dict]:
    """Per held-out pair: PSNR/SSIM/LPIPS of the 8-bit output vs the reference.

    ``model=None`` scores the (8-bit) degraded input itself: the no-network baseline row.
    """
    from hadamard_restore.data.io import read_image
    from hadamard_restore.inference.enhance import infer, quantize_8bit

    if model is not None:
        model.eval()
    rows = []
    for pair in pairs:
        deg, ref = read_image(pair.degraded), read_image(pair.reference)
        out = quantize_8bit(deg if model is None else infer(model, deg, device))
        rows.append({"name": Path(pair.degraded).name, **_metrics(out, ref, lpips_net)})
    return rows


def score_inputs(cfg, device: torch.device) -> dict:
    """The input-vs-reference record of a task's held-out pairs (computed once per task)."""
    from hadamard_restore.data.task_data import load_pairs

    rows = score(None, load_pairs(cfg.data, cfg.seed)[1], device, cfg.eval.lpips_net)
    return {
        "mean": {k: sum(r[k] for r in rows) / len(rows) for k in ("psnr", "ssim", "lpips")},
        "held_out": len(rows),
        "per_image": rows,
    }


def train_and_score(
    entry: Entry, cfg, found: dict, seed: int, run_dir: Path, device: torch.device, test_pairs=None, resume=False
) -> dict:
    """Train ``entry`` for ``cfg.train.steps`` and score it; returns the result record.

    Scored on the validation part of ``cfg``'s split, or on ``test_pairs`` when given (then the
    validation part only serves the training loop's end-of-run check and is never scored).
    ``resume`` continues the training in ``run_dir/last.pt`` (the caller vouches it is this one's).
    """
    from hadamard_restore.data.dataset import PairedImages
    from hadamard_restore.data.task_data import load_pairs
    from hadamard_restore.losses.mix import LossMix
    from hadamard_restore.net.model_file import load_state_into, read_model_file
    from hadamard_restore.training.trainer import TrainData, fit

    train_pairs, val_pairs = load_pairs(cfg.data, cfg.seed)
    lw = loss_weights_for(entry, cfg, found)
    loss = LossMix.from_weights(lw, backbone=cfg.loss.vgg_backbone, trainable=False)
    for p in loss.parameters():
        p.requires_grad_(False)
    model = build_model(entry, cfg, found, seed)
    train_set = PairedImages(train_pairs, crop=cfg.train.crop, flip=True)
    # one validation, at the end; with train.ema_decay it picks the raw weights or their average
    # (model.pt), so the pairs it reads must never be the scored ones
    n_val = 1 if test_pairs is None else min(len(val_pairs), cfg.train.val_max_images or len(val_pairs))
    val_set = PairedImages(val_pairs[:n_val], crop=None, flip=False)
    data = TrainData(sample=train_set.sample_batch, val=[val_set.full(i) for i in range(n_val)])
    tcfg = cfg.train.model_copy(update={"val_every": cfg.train.steps, "val_max_images": n_val})
    meta = {"benchmark_entry": entry.key, "seed": seed, "loss_weights": lw.to_dict()}
    t0 = time.time()
    summary = fit(model, loss, data, tcfg, run_dir, meta, seed=seed, device=device, progress=False, resume=resume)
    train_s = time.time() - t0
    weights = "raw"  # the final weights, held by ``model``
    validation_psnr = None  # of model.pt on the development-validation pairs: a look that never reads the scored ones
    if test_pairs is not None:  # score what a user gets: model.pt, chosen on pairs that are not scored
        load_state_into(model, read_model_file(summary["model"])["state_dict"], source=summary["model"])
        weights, validation_psnr = summary["best_weights"], summary["best_val_psnr"]
    t0 = time.time()
    rows = score(model, val_pairs if test_pairs is None else test_pairs, device, cfg.eval.lpips_net)
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0] if k != "name"}
    return {
        "entry": entry.key,
        "name": entry.name,
        "group": entry.group,
        "seed": seed,
        "parameters": count_weights(model),
        "loss_weights": lw.weights,
        "vgg_layers": lw.vgg_layers,
        "train_s": round(train_s, 1),
        "eval_s": round(time.time() - t0, 1),
        "budget": {"steps": tcfg.steps, "crop": tcfg.crop, "batch": tcfg.batch_size, "lr": tcfg.lr},
        "held_out": len(rows),
        "train_pairs": len(train_pairs),
        "weights": weights,
        "validation_pairs": n_val,
        "validation_psnr": validation_psnr,
        "mean": mean,
        "per_image": rows,
    }
