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
* learning rate: 1e-3 vs 3e-4;
* loss weights: the searched (published) β vs equal weights of the same eight terms;
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
from benchmarks.studies.budget_report import verdict
from benchmarks.studies.quality_presets import TASKS

STUDY_LEDGER = L.ROOT / "benchmarks" / "results" / "studies" / "recipe"
TASK_NAMES = {"lol": "LOL (low light)", "sots": "SOTS-indoor (haze)", "lsui": "LSUI (underwater)"}


@dataclass(frozen=True)
class Recipe:
    key: str
    sets: tuple[str, ...]  # overrides on top of COMMON
    loss_weights: str = "paper-lol"


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
    Recipe("crop128x1-resize", ("train.crop=128", "train.batch_size=1", "train.lr=1e-3", "net.upsample=resize")),
    Recipe("crop128x1-icnr", ("train.crop=128", "train.batch_size=1", "train.lr=1e-3", "net.upsample=transpose-icnr")),
)
BY_KEY = {r.key: r for r in RECIPES}
# each table compares recipes that differ in one setting
QUESTIONS = {
    "crop and batch at equal pixels per step": ("crop64x4", "crop128x1"),
    "learning rate": ("crop64x4", "crop64x4-lr3e-4"),
    "loss weights (searched β vs equal)": ("crop128x1", "crop128x1-equal"),
    "up-sampler (transposed convolution vs resize-convolution)": ("crop128x1", "crop128x1-resize"),
    "up-sampler initialisation (transposed convolution: default vs four equal taps, ICNR)": (
        "crop128x1",
        "crop128x1-icnr",
    ),
}
# appearance means kept from the dev evaluation (hadamard-restore evaluate's metrics.json "appearance")
APPEARANCE = (
    "grid_peak_ratio",
    "grid_energy_ratio",
    "border_frame_difference",
    "contrast_ratio",
    "saturation_ratio",
)


def cell_file(ledger: Path, tag: str, task: str, key: str, steps: int, seed: int) -> Path:
    return ledger / tag / task / key / f"b{steps}-s{seed}.json"


def train_command(task: str, recipe: Recipe, steps: int, seed: int, args, run_dir: Path, resume: bool) -> list[str]:
    sets = [
        *COMMON,
        *recipe.sets,
        f"train.steps={steps}",
        f"train.val_every={args.val_every}",
        f"seed={seed}",
        f"data.split_file={args.dev_split.resolve()}",
        "data.max_pairs=null",
    ]
    cmd = [sys.executable, "-m", "hadamard_restore", "train", str(L.ROOT / TASKS[task])]
    cmd += ["--genotype", args.genotype, "--loss-weights", recipe.loss_weights, "--out", str(run_dir)]
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
        "steps": steps,
        "seed": seed,
        "genotype": args.genotype,
        "loss_weights": recipe.loss_weights,
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


def _mean_se(values: list[float]) -> str:
    if not values:
        return "—"
    mean, se, _ = verdict(values)  # the budget study's mean and standard error across seeds
    return f"{mean:.2f} (1 seed)" if len(values) < 2 else f"{mean:.2f} ± {se:.2f}"


@dataclass(frozen=True)
class Side:
    """One row group of a table: the cells of one recipe at one length (one cell per seed)."""

    label: str
    recipe: str
    steps: int
    cells: tuple[dict, ...]


def render(ledger: Path, tag: str) -> Path | None:
    """One table per question at each length both its recipes ran, and one length table per recipe
    that ran at several lengths: dev PSNR of raw and averaged weights at every validated step."""
    cells = [json.loads(p.read_text()) for p in sorted((ledger / tag).glob("*/*/b*-s*.json"))]
    if not cells:
        return None
    lines = [
        f"# Recipe study on {tag}",
        "",
        "Development-split validation PSNR (dB, 8-bit full-resolution outputs; the pinned held-out pairs",
        "are not in the development split). Mean ± s.e. across seeds; `raw` the trained weights, `ema` their",
        "average (decay 0.999 with warm-up). Re-render: `PYTHONPATH=src:. python -m benchmarks.studies.recipe_study",
        "--report-only`; cells: `benchmarks/results/studies/recipe/` (each records its command settings, load",
        "and commit).",
        "",
    ]
    for task in TASKS:
        mine = [c for c in cells if c.get("task", "lol") == task]
        for question, keys in QUESTIONS.items():
            lengths = sorted(set.intersection(*({c["steps"] for c in mine if c["recipe"] == k} for k in keys)))
            for steps in lengths:  # a comparison needs both sides, trained for the same length
                sides = [_side(mine, k, steps, k) for k in keys]
                heading = f"{question}: {TASK_NAMES[task]}" + (f", {steps} steps" if len(lengths) > 1 else "")
                lines += _section(heading, sides)
        for recipe in dict.fromkeys(c["recipe"] for c in mine):
            lengths = sorted({c["steps"] for c in mine if c["recipe"] == recipe})
            if len(lengths) > 1:
                sides = [_side(mine, recipe, n, f"{recipe}, {n} steps") for n in lengths]
                lines += _section(
                    f"length ({recipe}, the cosine schedule spans each length): {TASK_NAMES[task]}", sides
                )
    out = ledger / f"recipe-{tag}.md"
    out.write_text("\n".join(lines))
    return out


def _side(cells: list[dict], recipe: str, steps: int, label: str) -> Side:
    return Side(label, recipe, steps, tuple(c for c in cells if c["recipe"] == recipe and c["steps"] == steps))


def _section(heading: str, sides: list[Side]) -> list[str]:
    """The curves of every side, the paired answer (each later side against the first) and the
    appearance of the kept checkpoints."""
    steps = sorted({e["step"] for side in sides for c in side.cells for e in c["val"]})
    lines = [f"## {heading}", "", "| recipe | seeds | " + " | ".join(f"step {s}" for s in steps) + " |"]
    lines.append("|---|---|" + "---|" * len(steps))
    for side in sides:
        for kind in ("raw", "ema"):
            row = []
            for s in steps:
                vals = [
                    e[f"psnr_{kind}"] for c in side.cells for e in c["val"] if e["step"] == s and f"psnr_{kind}" in e
                ]
                row.append(_mean_se(vals))
            lines.append(f"| {side.label} ({kind}) | {len(side.cells)} | " + " | ".join(row) + " |")
    for other in sides[1:]:
        lines += _paired_lines(sides[0], other)
    lines += _appearance_table(sides)
    group = [c for side in sides for c in side.cells]
    loads = [c["load_average"]["before"][0] for c in group if c["load_average"]["before"]]
    walls = [c["wall_s"] for c in group]
    return [
        *lines,
        "",
        f"Load average (1 min) at cell start: {min(loads):.2f}–{max(loads):.2f}; wall per cell "
        f"{min(walls) / 60:.0f}–{max(walls) / 60:.0f} min.",
        "",
    ]


def _paired_lines(first: Side, second: Side) -> list[str]:
    """The question's answer: per seed, the second side's dev PSNR minus the first's, each at its own
    last validated step (the same step when the two trained equally long), raw and averaged weights,
    with the budget study's mean, s.e. and wording."""
    a_by, b_by = ({c["seed"]: c for c in side.cells} for side in (first, second))
    seeds = sorted(a_by.keys() & b_by.keys())
    if not seeds:
        return []
    lines = [""]
    for kind in ("raw", "ema"):
        diffs, last = [], set()
        for seed in seeds:
            a, b = ({e["step"]: e.get(f"psnr_{kind}") for e in by[seed]["val"]} for by in (a_by, b_by))
            if first.steps == second.steps:  # equal lengths: the last step both validated
                step_a = step_b = max(k for k in a.keys() & b.keys() if a[k] is not None and b[k] is not None)
            else:  # a length question: each cell's own end
                step_a, step_b = (max(k for k, v in d.items() if v is not None) for d in (a, b))
            diffs.append(b[step_b] - a[step_a])
            last.add(str(step_a) if step_a == step_b else f"{step_b} vs {step_a}")
        mean, se, word = verdict(diffs)
        spread = f"± {se:.2f} dB (s.e., {len(diffs)} seeds)" if len(diffs) > 1 else "dB (one seed, no s.e.)"
        at = "/".join(sorted(last))
        each = ", ".join(f"{d:+.2f}" for d in diffs)
        lines.append(
            f"- paired, {kind} weights at step {at}: {second.label} {word} {first.label}: {mean:+.2f} {spread}; "
            f"per seed {each}"
        )
    return lines


def _appearance_table(sides: list[Side]) -> list[str]:
    """model.pt on the development validation pairs: PSNR and the appearance means, for the cells
    that recorded them (cells from before the dev evaluation existed have none)."""
    scored = [c for side in sides for c in side.cells if c.get("dev_eval")]
    if not scored:
        return []
    n, inp = scored[0]["dev_eval"]["count"], scored[0]["dev_eval"]["input_psnr"]
    lines = [
        "",
        f"model.pt on the {n} development validation pairs (input {inp:.2f} dB): the checkpoint the trainer kept "
        "as best on those same pairs, so its PSNR is optimistic (the curve above is the fair comparison); "
        "appearance as output vs reference, border frame in luminance units (`hadamard-restore evaluate`, "
        "docs/evaluation.md):",
        "",
        "| recipe | steps | seeds | model.pt | PSNR dB | SSIM | "
        + " | ".join(k.replace("_", " ") for k in APPEARANCE)
        + " |",
        "|---|---|---|---|---|---|" + "---|" * len(APPEARANCE),
    ]
    for side in sides:
        cells = [c for c in side.cells if c.get("dev_eval")]
        if not cells:
            continue
        mine = [c["dev_eval"] for c in cells]
        kept = ", ".join(f"step {c['best_step']} {c.get('best_weights') or ''}".strip() for c in cells)
        cols = [kept, _mean_se([e["psnr"] for e in mine]), _mean_se([e["ssim"] for e in mine])]
        cols += [_mean_se([e["appearance"][k] for e in mine]) for k in APPEARANCE]
        lines.append(f"| {side.recipe} | {side.steps} | {len(mine)} | " + " | ".join(cols) + " |")
    return lines


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
