"""Recipe study (issue 21): which training recipe restores whole images best, and why did longer
training lose PSNR in the budget study?

Every cell trains one fixed network (``--genotype``, ``--loss-weights``; the published paper-lol
pair by default) with one recipe and one seed on a task's **development** split (``dev.json`` of the
budget ledger: the pinned held-out pairs are not in it, so they are never read), validating on the
development validation pairs every ``val_every`` steps, both the raw weights and their average
(EMA with warm-up). A cell is a ``hadamard-restore train`` run; killed, it continues bit for bit
with ``--resume``; finished, its curve is one JSON in the study's ledger. Run it alone, in the
background, one core::

    OMP_NUM_THREADS=1 PYTHONPATH=src:. nohup taskset -c 0 python -m benchmarks.studies.recipe_study \\
        --work /tmp/recipe-runs --max-minutes 150 > /tmp/recipe.log 2>&1 &
    PYTHONPATH=src:. python -m benchmarks.studies.recipe_study --report-only     # re-render the tables

Questions (``RECIPES``; every recipe differs from the budget study's in one setting):

* crop and batch at equal pixels per step: 4 x 64 px (the budget study's) vs 1 x 128 px;
* crop size at an equal pixel budget: 1 x 192 px crops see 2.25 times the pixels of 1 x 128 px per
  step, so they run 4/9 of the steps (``Recipe.steps_scale``: ``--steps 3000`` trains 1333); a cell
  keeps both its own ``steps`` and the ``budget_steps`` it is compared at;
* learning rate: 1e-3 vs 3e-4;
* loss weights: the searched (published) β vs equal weights of the same eight terms;
* loss: the searched (published) β vs the hand-set L1 + (1 - SSIM) (``l1-ssim``);
* loss terms: the searched β vs the same β without its two network terms, VGG and LPIPS
  (``Recipe.loss_without``: the cell trains a derived ``loss_weights.json``, written beside its run), which
  cost most of a step's time;
* TV and Laplacian in final training: a searched β that weighs them (``SEARCHED_LOL``) trained with both
  at 0 (what ``loss.searched_without`` does after a search) and as found;
* up-sampler: the paper's k2 s2 transposed convolutions vs resize-convolutions (``net.upsample``),
  judged also by the pixel-grid checkerboard: after training, every cell scores its ``model.pt`` on
  the development validation pairs with ``hadamard-restore evaluate`` and keeps the appearance
  means (grid peak and energy, contrast and saturation against the references', border frame);
* up-sampler initialisation: the same transposed convolutions, started with four equal taps
  (``net.upsample=transpose-icnr``: no checkerboard at the start), judged the same way;
* averaging: every cell records EMA and raw weights side by side;
* length: the curve every ``val_every`` steps shows where each recipe flattens or turns down; a
  recipe also run longer (``--steps 10000``: the cosine schedule then spans the longer run) gets a
  length table pairing each seed's runs, each at its own end. Questions compare one length only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml

if __package__ in (None, ""):
    sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[2] / "src")]

from benchmarks.studies import budget_ledger as L
from benchmarks.studies.quality_presets import TASKS
from benchmarks.studies.recipe_report import APPEARANCE, render

STUDY_LEDGER = L.ROOT / "benchmarks" / "results" / "studies" / "recipe"


# the budget study's global-space loss search on LOL (Zen 3 ledger): TV 0.57, Laplacian 0.56
SEARCHED_LOL = "benchmarks/results/studies/budget-recipe/cpu-amd-epyc-zen3-2core/lol/searches/global/loss_weights.json"


@dataclass(frozen=True)
class Recipe:
    key: str
    sets: tuple[str, ...]  # overrides on top of COMMON
    loss_weights: str = "paper-lol"  # a bundled name, or a loss_weights.json relative to the repository root
    # steps run per step of the budget (--steps): below 1 where a step sees more pixels than the
    # 1 x 128 px reference, so that the two sides of a question see the same pixels
    steps_scale: float = 1.0
    # terms whose weight the recipe sets to 0 in ``loss_weights`` (LossWeights.without)
    loss_without: tuple[str, ...] = ()

    def run_steps(self, budget_steps: int) -> int:
        return round(budget_steps * self.steps_scale)


COMMON = (
    "net.channels=32",
    "net.norm=none",
    "train.schedule=cosine",
    "train.warmup_steps=100",
    "train.ema_decay=0.999",
    "train.checkpoint_every=250",
    "train.log_every=50",
    "train.amp=true",
)
RECIPES: tuple[Recipe, ...] = (
    Recipe("crop64x4", ("train.crop=64", "train.batch_size=4", "train.lr=1e-3")),
    Recipe("crop128x1", ("train.crop=128", "train.batch_size=1", "train.lr=1e-3")),
    Recipe("crop64x4-lr3e-4", ("train.crop=64", "train.batch_size=4", "train.lr=3e-4")),
    Recipe("crop128x1-equal", ("train.crop=128", "train.batch_size=1", "train.lr=1e-3"), "equal"),
    Recipe("crop128x1-l1ssim", ("train.crop=128", "train.batch_size=1", "train.lr=1e-3"), "l1-ssim"),
    Recipe("crop128x1-resize", ("train.crop=128", "train.batch_size=1", "train.lr=1e-3", "net.upsample=resize")),
    Recipe("crop128x1-icnr", ("train.crop=128", "train.batch_size=1", "train.lr=1e-3", "net.upsample=transpose-icnr")),
    Recipe("crop192x1", ("train.crop=192", "train.batch_size=1", "train.lr=1e-3"), steps_scale=(128 / 192) ** 2),
    Recipe("crop128x1-pixel", ("train.crop=128", "train.batch_size=1", "train.lr=1e-3"), loss_without=("vgg", "lpips")),
    # TV and Laplacian in final training: a searched β that keeps them (the published ones set both to 0),
    # trained with both at 0 (make_pretrained, run: loss.searched_without) and as found
    Recipe(
        "crop128x1-searched",
        ("train.crop=128", "train.batch_size=1", "train.lr=1e-3"),
        SEARCHED_LOL,
        loss_without=("tv", "laplacian"),
    ),
    Recipe("crop128x1-searched-tvlap", ("train.crop=128", "train.batch_size=1", "train.lr=1e-3"), SEARCHED_LOL),
)
BY_KEY = {r.key: r for r in RECIPES}


def cell_file(ledger: Path, tag: str, task: str, key: str, steps: int, seed: int) -> Path:
    return ledger / tag / task / key / f"b{steps}-s{seed}.json"


def loss_weights_arg(recipe: Recipe, folder: Path) -> str:
    """What the cell passes to ``--loss-weights``: the bundled name or the repository's file, or, for a
    recipe that drops terms, a derived file in ``folder`` (rewritten each time: it is a pure function of
    the recipe)."""
    source = str(L.ROOT / recipe.loss_weights) if recipe.loss_weights.endswith(".json") else recipe.loss_weights
    if not recipe.loss_without:
        return source
    from hadamard_restore.losses.loss_weights import load_loss_weights

    derived = load_loss_weights(source).derived_without(*recipe.loss_without)
    folder.mkdir(parents=True, exist_ok=True)
    return str(derived.save(folder / "loss_weights.json"))


def train_command(task: str, recipe: Recipe, steps: int, seed: int, args, run_dir: Path, resume: bool) -> list[str]:
    sets = [
        *COMMON,
        *recipe.sets,
        f"train.steps={recipe.run_steps(steps)}",
        f"train.val_every={args.val_every}",
        f"seed={seed}",
        f"data.split_file={args.dev_split.resolve()}",
        "data.max_pairs=null",
    ]
    cmd = [sys.executable, "-m", "hadamard_restore", "train", str(L.ROOT / TASKS[task])]
    weights = loss_weights_arg(recipe, run_dir.parent)
    cmd += ["--genotype", args.genotype, "--loss-weights", weights, "--out", str(run_dir)]
    cmd += [x for s in sets for x in ("--set", s)]
    return [*cmd, "--resume"] if resume else cmd


def run_cell(task: str, recipe: Recipe, steps: int, seed: int, args, path: Path, log) -> None:
    run_dir = args.work / task / recipe.key / f"b{steps}-s{seed}"
    resume = (run_dir / "last.pt").is_file()
    cmd = train_command(task, recipe, steps, seed, args, run_dir, resume)
    log(f"cell {recipe.key} b{steps} s{seed}{' (resumed)' if resume else ''}: {' '.join(cmd[2:])}")
    load_before, t0 = L.load_average(), time.time()
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": str(L.ROOT / "src")})
    history = json.loads((run_dir / "history.json").read_text())
    summary = json.loads((run_dir / "train_summary.json").read_text())
    dev_eval = evaluate_on_dev(run_dir, args, log)
    cell = {
        "task": task,
        "recipe": recipe.key,
        "steps": recipe.run_steps(steps),
        "budget_steps": steps,
        "seed": seed,
        "genotype": args.genotype,
        "loss_weights": recipe.loss_weights,
        "loss_without": list(recipe.loss_without),
        "sets": [*COMMON, *recipe.sets],
        "dev_split_sha256": L.file_sha256(args.dev_split),
        "val": history["val"],
        "best_val_psnr": summary["best_val_psnr"],
        "best_step": summary["best_step"],
        "best_weights": summary.get("best_weights"),
        "precision": summary.get("precision"),
        "dev_eval": dev_eval,
        "wall_s": round(time.time() - t0, 1),
        "resumed": resume,
        "load_average": {"before": load_before, "after": L.load_average()},
        "machine": {**L.machine(), **({"tag": args.machine_tag} if args.machine_tag else {})},
        "commit": L.code_commit(),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cell, indent=1))
    tmp.replace(path)


def evaluate_on_dev(run_dir: Path, args, log) -> dict:
    """Score the cell's model.pt on the development validation pairs (never the held-out ones):
    PSNR / SSIM and the appearance means, with the input row beside them."""
    out = run_dir / "dev-eval"
    metrics = out / "metrics.json"
    if not metrics.is_file():
        root = yaml.safe_load((run_dir / "config.yaml").read_text())["data"]["root"]  # where the cell trained
        cmd = [sys.executable, "-m", "hadamard_restore", "evaluate", str(run_dir / "model.pt")]
        cmd += ["--data", root, "--split", str(args.dev_split.resolve()), "--out", str(out)]
        log(f"dev evaluation: {' '.join(cmd[2:])}")
        subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": str(L.ROOT / "src")})
    m = json.loads(metrics.read_text())
    return {
        "count": m["count"],
        "psnr": m["mean"]["psnr"],
        "ssim": m["mean"]["ssim"],
        "input_psnr": m["input_mean"]["psnr"],
        "appearance": {k: m["appearance"].get(k) for k in APPEARANCE},
    }


def run(args, log=print) -> int:
    tag = args.machine_tag or L.machine()["tag"]
    deadline = time.time() + args.max_minutes * 60
    for seed in args.seeds:
        for key in args.recipes:
            path = cell_file(args.ledger, tag, args.task, key, args.steps, seed)
            if path.is_file():
                continue
            if time.time() > deadline:
                log("time is up; run again to continue")
                return 0
            run_cell(args.task, BY_KEY[key], args.steps, seed, args, path, log)
            log(f"report: {render(args.ledger, tag)}")
    return 0


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="lol", choices=sorted(TASKS))
    p.add_argument("--recipes", nargs="+", default=[r.key for r in RECIPES], choices=[r.key for r in RECIPES])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--genotype", default="paper-lol")
    p.add_argument("--dev-split", type=Path, default=L.DEFAULT_LEDGER / "cpu-amd-epyc-2core" / "lol" / "dev.json")
    p.add_argument("--ledger", type=Path, default=STUDY_LEDGER)
    p.add_argument("--work", type=Path, default=Path("/tmp/recipe-runs"), help="run folders (outside the tree)")
    p.add_argument("--max-minutes", type=float, default=150.0, help="start no new cell after this")
    p.add_argument(
        "--machine-tag",
        default=None,
        help="ledger folder of this machine's cells (default: from the CPU model or GPU name); name the "
        "generation when one model name covers several, e.g. cpu-amd-epyc-zen3-2core",
    )
    p.add_argument("--report-only", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    if args.report_only:
        print(render(args.ledger, args.machine_tag or L.machine()["tag"]))
        return 0
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
