"""Does the stage-1 judge track restoration quality? Classifier "clear" score vs PSNR / LPIPS (issue 11).

Run from the repository root (minutes per task on a CPU; the classifier is trained once, or
pass one)::

    OMP_NUM_THREADS=1 PYTHONPATH=src python -m benchmarks.studies.judge_correlation --tasks lol,sots,lsui
    PYTHONPATH=src python -m benchmarks.studies.judge_correlation --tasks lol --classifier RUN/classifier/classifier.pt

Per task, on the same pinned splits as :mod:`benchmarks.studies.budget_curves` (its ledger): outputs of
different quality are made on the development-validation pairs (never the held-out test pairs,
so choosing a judge by this report cannot leak the test set): the degraded inputs themselves,
then each ``--genotypes`` network trained with ``--loss`` and snapshotted at ``--snapshots``
steps (0 = untrained). Each output gets the classifier's mean P(clear) over up to 4 x 4 windows
of the size stage 1 judges (``search.crop``), and its PSNR / SSIM / LPIPS against the reference.
The records go to ``<out without .md>/<machine>-<task>.json``; :mod:`benchmarks.studies.judge_stats`
renders every record into ``--out`` (Spearman ρ, per task, pooled over images and over output sets).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[2] / "src")]

import torch

from benchmarks.studies import budget_ledger as L
from benchmarks.studies.budget_curves import base_config, prepare_splits
from benchmarks.studies.budget_presets import PRESETS


def window_starts(size: int, crop: int, most: int = 4) -> list[int]:
    """Evenly spaced window starts covering ``[0, size)`` with windows of ``crop`` (at most ``most``)."""
    if size <= crop:
        return [0]
    n = min(most, -(-size // crop))
    return [round(i * (size - crop) / (n - 1)) for i in range(n)] if n > 1 else [0]


@torch.no_grad()
def clear_score(clf: torch.nn.Module, image: torch.Tensor, crop: int, device: torch.device) -> float:
    """Mean P(clear) of the classifier over a grid of ``crop``-sized windows of ``image`` (3, H, W)."""
    from hadamard_restore.classifier.model import CLEAR

    _, h, w = image.shape
    wins = [image[:, y : y + crop, x : x + crop] for y in window_starts(h, crop) for x in window_starts(w, crop)]
    probs = torch.softmax(clf(torch.stack(wins).to(device)).float(), dim=1)[:, CLEAR]
    return float(probs.mean())


def score_outputs(source: str, step: int, outputs, refs, names, clf, crop, device, lpips_net) -> list[dict]:
    from hadamard_restore.metrics.perceptual import lpips
    from hadamard_restore.metrics.psnr import psnr
    from hadamard_restore.metrics.ssim import ssim

    rows = []
    for out, ref, name in zip(outputs, refs, names):
        o, r = out.unsqueeze(0), ref.unsqueeze(0)
        rows.append(
            {
                "source": source,
                "step": step,
                "name": name,
                "clear": clear_score(clf, out, crop, device),
                "psnr": float(psnr(o, r, data_range=1.0)[0]),
                "ssim": float(ssim(o, r, data_range=1.0)[0]),
                "lpips": float(lpips(o, r, net=lpips_net)[0]),
            }
        )
    return rows


def trained_outputs(genotype: str, ccfg, train_pairs, val, snapshots: list[int], device, score, work: Path) -> list:
    """Train one network; ``score(source, step, outputs)`` at each snapshot step (0 = untrained)."""
    from benchmarks.studies.quality_entries import Entry, build_model, loss_weights_for
    from hadamard_restore.data.dataset import PairedImages
    from hadamard_restore.inference.enhance import infer, quantize_8bit
    from hadamard_restore.losses.mix import LossMix
    from hadamard_restore.training.trainer import TrainData, fit

    kind = ccfg.loss.weights if ccfg.loss.weights in ("equal", "l1") else "paper"  # paper: cfg.loss.weights
    entry = Entry(f"judge-{genotype}", genotype, "judge", genotype, kind)
    model = build_model(entry, ccfg, {}, seed=0)
    loss = LossMix.from_weights(loss_weights_for(entry, ccfg, {}), backbone=ccfg.loss.vgg_backbone, trainable=False)
    rows: list = []

    def snap(step: int) -> None:
        if step in snapshots:
            model.eval()
            outs = [quantize_8bit(infer(model, deg, device)) for deg, _ in val]
            rows.extend(score(genotype, step, outs))
            model.train()

    model.to(device)
    snap(0)
    if max(snapshots) > 0:
        tcfg = ccfg.train.model_copy(update={"steps": max(snapshots), "val_every": max(snapshots)})
        data = TrainData(sample=PairedImages(train_pairs, crop=tcfg.crop, flip=True).sample_batch, val=[val[0]])
        fit(
            model,
            loss,
            data,
            tcfg,
            work / f"train-{genotype}",
            {"judge_correlation": genotype},
            seed=0,
            device=device,
            progress=False,
            on_step=snap,
        )
    return rows


def collect(task: str, args, tag: str, log=print) -> dict:
    """Every output's clear score and quality for one task (see the module docstring)."""
    from hadamard_restore.classifier.checkpoint import load_classifier
    from hadamard_restore.classifier.provide import provide_classifier
    from hadamard_restore.classifier.reliability import classifier_record
    from hadamard_restore.data.io import read_image
    from hadamard_restore.data.task_data import load_pairs
    from hadamard_restore.jobs import classifier_job
    from hadamard_restore.runtime.process import pick_device

    preset = PRESETS[args.preset]
    dev, _ = prepare_splits(task, preset, L.task_dir(args.ledger, tag, task), args.train_set)
    scfg = base_config(task, [*preset.search, "classifier.arch=resnet18", *args.search_set], dev)  # the paper's judge
    ccfg = base_config(task, [*preset.train, *args.train_set], dev)
    ccfg.loss.weights = args.loss
    if args.classifier is not None:
        scfg.classifier.checkpoint = args.classifier
    work = args.work / tag / task / "judge"
    device = pick_device(ccfg.device)
    clf_path = provide_classifier(classifier_job(scfg), work / "classifier")
    clf, crop = load_classifier(clf_path, device), args.crop or scfg.search.crop
    train_pairs, dev_val = load_pairs(ccfg.data, ccfg.seed)
    pairs = dev_val[: args.max_images]
    val = [(read_image(p.degraded), read_image(p.reference)) for p in pairs]
    names, refs = [Path(p.degraded).name for p in pairs], [r for _, r in val]

    def score(source, step, outputs):
        return score_outputs(source, step, outputs, refs, names, clf, crop, device, ccfg.eval.lpips_net)

    rows = score("input", 0, [d for d, _ in val])
    snapshots = sorted(int(s) for s in args.snapshots.split(","))
    for g in args.genotypes.split(","):
        log(f"[{task}] training {g} with loss {args.loss}, snapshots at {snapshots}")
        rows += trained_outputs(g, ccfg, train_pairs, val, snapshots, device, score, work)
    ref_clear = sum(clear_score(clf, r, crop, device) for r in refs) / len(refs)
    return {
        "task": task,
        "machine": tag,
        "commit": L.code_commit(),
        "crop": crop,
        "loss": args.loss,
        "classifier": classifier_record(clf_path, crop),
        "reference_clear": ref_clear,
        "input_clear": sum(r["clear"] for r in rows if r["source"] == "input") / len(pairs),
        "rows": rows,
    }


def main(argv=None) -> Path:
    from benchmarks.studies.judge_stats import render
    from hadamard_restore.artifacts import read_json, write_json

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    p.add_argument("--tasks", default="lol")
    p.add_argument("--genotypes", default="paper,all-1c", help="networks whose training makes the outputs")
    p.add_argument("--loss", default="equal", help="loss weights they train with (bundled name or path)")
    p.add_argument("--snapshots", default="0,50,200,1000", help="training steps at which outputs are judged")
    p.add_argument("--classifier", type=Path, default=None, help="a classifier.pt (default: train one)")
    p.add_argument("--crop", type=int, default=None, help="judge window side (default: search.crop)")
    p.add_argument("--max-images", type=int, default=16)
    p.add_argument("--train-set", action="append", default=[])
    p.add_argument("--search-set", action="append", default=[])
    p.add_argument("--ledger", type=Path, default=L.DEFAULT_LEDGER, help="where the pinned splits live")
    p.add_argument("--work", type=Path, default=Path("runs") / "bench-judge")
    p.add_argument("--machine-tag", default=None)
    p.add_argument("--out", type=Path, default=L.ROOT / "benchmarks" / "results" / "studies" / "judge-correlation.md")
    args = p.parse_args(argv)
    tag = args.machine_tag or L.machine()["tag"]
    store = args.out.with_suffix("")
    for task in args.tasks.split(","):
        write_json(store / f"{tag}-{task}.json", collect(task, args, tag))
    return render([read_json(f) for f in sorted(store.glob("*.json"))], args.out)


if __name__ == "__main__":
    print(main())
