"""The report of :mod:`benchmarks.studies.recipe_study`: one table per question (two recipes that differ
in one setting, at each length both ran), one length table per recipe run at several lengths, and one
machine table per recipe run with the same seeds on two machines; each with the paired answer per seed
and the appearance of the kept checkpoints on the development validation pairs."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks.studies.budget_ledger import machine_tags
from benchmarks.studies.budget_report import verdict
from benchmarks.studies.quality_presets import TASKS

TASK_NAMES = {"lol": "LOL (low light)", "sots": "SOTS-indoor (haze)", "lsui": "LSUI (underwater)"}
# each table compares recipes that differ in one setting
QUESTIONS = {
    "crop and batch at equal pixels per step": ("crop64x4", "crop128x1"),
    "learning rate": ("crop64x4", "crop64x4-lr3e-4"),
    "loss weights (searched β vs equal)": ("crop128x1", "crop128x1-equal"),
    "loss (searched β vs L1 + SSIM)": ("crop128x1", "crop128x1-l1ssim"),
    "loss terms (searched β vs the same without VGG and LPIPS)": ("crop128x1", "crop128x1-pixel"),
    "TV and Laplacian in final training (a searched β with both at 0 vs as searched)": (
        "crop128x1-searched",
        "crop128x1-searched-tvlap",
    ),
    "up-sampler (transposed convolution vs resize-convolution)": ("crop128x1", "crop128x1-resize"),
    "up-sampler initialisation (transposed convolution: default vs four equal taps, ICNR)": (
        "crop128x1",
        "crop128x1-icnr",
    ),
    "crop size at an equal pixel budget (1 x 192 px for 4/9 of the steps)": ("crop128x1", "crop192x1"),
}
# appearance means kept from the dev evaluation (hadamard-restore evaluate's metrics.json "appearance")
APPEARANCE = (
    "grid_peak_ratio",
    "grid_energy_ratio",
    "border_frame_difference",
    "contrast_ratio",
    "saturation_ratio",
)


def _mean_se(values: list[float]) -> str:
    if not values:
        return "—"
    mean, se, _ = verdict(values)  # the budget study's mean and standard error across seeds
    return f"{mean:.2f} (1 seed)" if len(values) < 2 else f"{mean:.2f} ± {se:.2f}"


@dataclass(frozen=True)
class Side:
    """One row group of a table: the cells of one recipe at one budget (``steps``, see ``_budget``; one
    cell per seed)."""

    label: str
    recipe: str
    steps: int
    cells: tuple[dict, ...]


def render(ledger: Path, tag: str) -> Path | None:
    """One table per question at each length both its recipes ran, one length table per recipe that
    ran at several lengths, and one machine table per recipe and length that another machine of the
    ledger ran with the same seeds: dev PSNR of raw and averaged weights at every validated step."""
    cells = _load(ledger, tag)
    if not cells:
        return None
    others = {other: _load(ledger, other) for other in machine_tags(ledger) if other != tag}
    lines = [
        f"# Recipe study on {tag}",
        "",
        "Development-split validation PSNR (dB, 8-bit full-resolution outputs; the pinned held-out pairs",
        "are not in the development split). Mean ± s.e. across seeds; `raw` the trained weights, `ema` their",
        "average (decay 0.999 with warm-up). Re-render: `PYTHONPATH=src:. python -m benchmarks.studies.recipe_study",
        f"--report-only --machine-tag {tag}`; cells: `benchmarks/results/studies/recipe/{tag}/` (each records its",
        "command settings, load, machine, precision where recorded, and commit).",
        "",
    ]
    for task in TASKS:
        mine = [c for c in cells if c.get("task", "lol") == task]
        for question, keys in QUESTIONS.items():
            lengths = sorted(set.intersection(*({_budget(c) for c in mine if c["recipe"] == k} for k in keys)))
            for steps in lengths:  # a comparison needs both sides, trained for the same budget
                sides = [_own_steps_label(_side(mine, k, steps, k)) for k in keys]
                heading = f"{question}: {TASK_NAMES[task]}" + (f", {steps} steps" if len(lengths) > 1 else "")
                lines += _section(heading, sides)
        for recipe in dict.fromkeys(c["recipe"] for c in mine):
            lengths = sorted({_budget(c) for c in mine if c["recipe"] == recipe})
            if len(lengths) > 1:
                sides = [_side(mine, recipe, n, f"{recipe}, {n} steps") for n in lengths]
                lines += _section(
                    f"length ({recipe}, the cosine schedule spans each length): {TASK_NAMES[task]}", sides
                )
        lines += _machine_sections(others, tag, task, mine)
    out = ledger / f"recipe-{tag}.md"
    out.write_text("\n".join(lines))
    return out


def _load(ledger: Path, tag: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((Path(ledger) / tag).glob("*/*/b*-s*.json"))]


def _machine_sections(others: dict[str, list[dict]], tag: str, task: str, mine: list[dict]) -> list[str]:
    """The same recipe, length and seeds on another machine of the ledger: how far apart cells land
    when only the hardware and its arithmetic differ (bf16 autocast where the CPU has it, else float32),
    which says how much a comparison across machines can be trusted."""
    lines: list[str] = []
    for other, cells in others.items():
        theirs = [c for c in cells if c.get("task", "lol") == task]
        for recipe, steps in dict.fromkeys((c["recipe"], _budget(c)) for c in mine):
            sides = [
                replace(side, label=f"{recipe} on {name} ({_precision(side.cells)})")
                for name, side in ((other, _side(theirs, recipe, steps, "")), (tag, _side(mine, recipe, steps, "")))
            ]
            if all(side.cells for side in sides):
                lines += _section(f"machine ({recipe}, {steps} steps, {other} vs {tag}): {TASK_NAMES[task]}", sides)
    return lines


def _precision(cells: tuple[dict, ...]) -> str:
    return ", ".join(sorted({c.get("precision") or "precision not recorded" for c in cells}))


def _budget(cell: dict) -> int:
    """The length a cell is compared at: its own steps, or the 1 x 128 px steps of the same pixels
    for a recipe that sees more pixels per step (cells from before ``budget_steps`` ran their budget)."""
    return cell.get("budget_steps", cell["steps"])


def _own_steps(cells: Iterable[dict]) -> str:
    """The steps the cells ran ("1333"; "889/890" if they differ)."""
    return "/".join(str(s) for s in sorted({c["steps"] for c in cells}))


def _own_steps_label(side: Side) -> Side:
    """The side labelled with its own steps where they differ from its budget."""
    own = _own_steps(side.cells)
    return side if own == str(side.steps) else replace(side, label=f"{side.recipe} ({own} steps)")


def _side(cells: list[dict], recipe: str, steps: int, label: str) -> Side:
    return Side(label, recipe, steps, tuple(c for c in cells if c["recipe"] == recipe and _budget(c) == steps))


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
            if a_by[seed]["steps"] == b_by[seed]["steps"]:  # equal lengths: the last step both validated
                step_a = step_b = max(k for k in a.keys() & b.keys() if a[k] is not None and b[k] is not None)
            else:  # a length question or an equal pixel budget: each cell's own end
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
        lines.append(f"| {side.label} | {_own_steps(cells)} | {len(mine)} | " + " | ".join(cols) + " |")
    return lines
