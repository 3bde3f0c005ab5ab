"""The report of :mod:`benchmarks.studies.budget_curves`: tables, paired differences, a plain statement, a plot.

For each task and budget, each searched entry is compared with each baseline by the paired
per-image PSNR difference: for every seed both ran, ``d_s`` = mean over the held-out images of
``PSNR(searched) − PSNR(baseline)`` (same images, same training seed); the table gives the mean
of ``d_s`` over seeds and its standard error ``stdev(d_s)/√n``. The statement says **beats**
when the mean exceeds 2 s.e., **loses to** when it is below −2 s.e., and **is within 2 s.e. of**
otherwise (one seed: no s.e. and no verdict, only **is ahead of** / **is behind**, marked as such).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.studies.budget_ledger import load_cells, machine_tags, task_dir
from benchmarks.studies.budget_presets import BASELINES, ENTRIES, SEARCHED
from benchmarks.timing import markdown_table

LABELS = {e.key: e.label for e in ENTRIES}
ACROSS = (
    "First the entries both machines ran (same seeds and settings): how far apart the two machines land. "
    "Then the comparisons only a mix of the two can make, each side labelled with its machine: they hold "
    "as far as the first table says the machines agree."
)
ORDER = [e.key for e in ENTRIES]


def _grid(cells: list[dict]) -> dict:
    """``{task: {budget: {entry: {seed: cell}}}}``."""
    out: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for c in cells:
        out[c["task"]][c["budget"]][c["entry"]][c["seed"]] = c
    return out


def seed_differences(a: dict[int, dict], b: dict[int, dict], metric: str = "psnr") -> list[float]:
    """Per common seed: the mean over common images of ``a − b``."""
    diffs = []
    for seed in sorted(set(a) & set(b)):
        pa = {r["name"]: r[metric] for r in a[seed]["per_image"]}
        pb = {r["name"]: r[metric] for r in b[seed]["per_image"]}
        d = [pa[k] - pb[k] for k in pa if k in pb and math.isfinite(pa[k] - pb[k])]
        if d:
            diffs.append(statistics.fmean(d))
    return diffs


def validation_differences(a: dict[int, dict], b: dict[int, dict]) -> list[float]:
    """Per common seed recorded on both sides: ``a − b`` of the scored weights' PSNR on the
    development-validation pairs (``validation_psnr``; the same pairs for every entry of a task), a
    second look at the comparison that never reads the held-out pairs. Cells from before the ledger
    kept it have none."""
    return [
        a[s]["validation_psnr"] - b[s]["validation_psnr"]
        for s in sorted(set(a) & set(b))
        if a[s].get("validation_psnr") is not None and b[s].get("validation_psnr") is not None
    ]


def verdict(diffs: list[float]) -> tuple[float, float, str]:
    """``(mean, standard error, plain word)`` of per-seed differences (see the module docstring)."""
    mean = statistics.fmean(diffs)
    if len(diffs) < 2:
        return mean, float("nan"), ("is ahead of" if mean > 0 else "is behind")
    se = statistics.stdev(diffs) / math.sqrt(len(diffs))
    if mean > 2 * se:
        return mean, se, "beats"
    if mean < -2 * se:
        return mean, se, "loses to"
    return mean, se, "is within 2 s.e. of"


def _spread(values: list[float], digits: int) -> str:
    if len(values) < 2:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def budget_table(by_entry: dict[str, dict[int, dict]]) -> str:
    rows = []
    for key in [k for k in ORDER if k in by_entry]:
        runs = list(by_entry[key].values())
        vals = {m: [r["mean"][m] for r in runs] for m in ("psnr", "ssim", "lpips")}
        dev = [r["validation_psnr"] for r in runs if r.get("validation_psnr") is not None]
        rows.append(
            [
                LABELS.get(key, key),
                len(runs),
                _spread(vals["psnr"], 2),
                _spread(vals["ssim"], 4),
                _spread(vals["lpips"], 4),
                _spread(dev, 2) if len(dev) == len(runs) else "n/a",
                f"{statistics.fmean(r['wall_s'] for r in runs):.0f}",
            ]
        )
    head = ["entry", "seeds", "PSNR dB ↑", "SSIM ↑", "LPIPS ↓", "dev-val PSNR dB", "wall s / cell"]
    return markdown_table(head, rows)


def pairs(keys) -> list[tuple[str, str]]:
    """The (searched entry, baseline) pairs among ``keys`` in report order: each searched entry against
    every baseline and every searched entry listed before it (the best variant also against the paper's)."""
    out = []
    for s in [k for k in SEARCHED if k in keys]:
        out += [(s, b) for b in BASELINES + SEARCHED[: SEARCHED.index(s)] if b in keys]
    return out


def comparisons(by_entry: dict[str, dict[int, dict]]) -> tuple[str, list[str]]:
    """The paired-difference table and one plain sentence per (searched entry, baseline)."""
    rows, sentences = [], []
    for s, b in pairs(by_entry):
        diffs = seed_differences(by_entry[s], by_entry[b])
        if not diffs:
            continue
        mean, se, word = verdict(diffs)
        dev = validation_differences(by_entry[s], by_entry[b])
        dev_cell = "n/a" if not dev else f"{statistics.fmean(dev):+.2f} ± {_se(verdict(dev)[1])} ({len(dev)})"
        rows.append([s, b, len(diffs), f"{mean:+.2f}", _se(se), word, dev_cell])
        sentences.append(
            f"{s} {word} {b}: {mean:+.2f} dB"
            + (f" ± {se:.2f} (s.e., {len(diffs)} seeds)" if math.isfinite(se) else " (one seed, no s.e.)")
        )
    head = ["searched", "baseline", "seeds", "Δ PSNR dB (mean)", "s.e.", "statement", "Δ dev-val dB ± s.e. (seeds)"]
    table = markdown_table(head, rows)
    return (table if rows else "(no pair of entries with a common seed yet)"), sentences


def _se(se: float) -> str:
    return f"{se:.2f}" if math.isfinite(se) else "n/a"


def _comparable(a: dict[int, dict], b: dict[int, dict]) -> tuple[dict[int, dict], dict[int, dict]]:
    """The seeds both sides ran with the same training settings (``settings_key``)."""
    seeds = [k for k in sorted(set(a) & set(b)) if a[k].get("settings_key") == b[k].get("settings_key")]
    return {k: a[k] for k in seeds}, {k: b[k] for k in seeds}


def machine_lines(mine: dict, theirs: dict, tag: str, other: str) -> list[str]:
    """Two machines' cells of one task and budget (``{entry: {seed: cell}}`` each): first the entries
    both ran (this − other, same seeds and settings: how far apart the machines land), then each pair of
    the comparison that only a mix of the two machines can make (an entry here against an entry only
    there), each side labelled with its machine: they are as good as the first table says the machines
    agree (float32 cells of one seed have landed within 0.03 dB for all-3c and 0.35 dB for the
    global space; bf16 against float32 did not).
    An entry whose search each machine ran itself (other ``search_artifacts``) trained another network
    there: it is named below the first table, not compared as one entry on two machines."""
    rows, redrawn = [], []
    for key in [k for k in ORDER if k in mine and k in theirs]:
        here, there = _comparable(mine[key], theirs[key])
        same = [k for k in here if here[k].get("search_artifacts") == there[k].get("search_artifacts")]
        if len(same) < len(here):
            redrawn.append(LABELS.get(key, key))
        diffs = seed_differences({k: here[k] for k in same}, {k: there[k] for k in same})
        if diffs:
            mean, se, word = verdict(diffs)
            per_seed = ", ".join(f"{d:+.2f}" for d in diffs)
            rows.append([LABELS.get(key, key), len(diffs), f"{mean:+.2f}", _se(se), word, per_seed])
    mixed = []
    merged = {**theirs, **mine}
    for s, b in pairs(merged):
        if (s in mine) == (b in mine):
            continue  # both sides from one machine: the machine's own table has the pair
        diffs = seed_differences(*_comparable(merged[s], merged[b]))
        if diffs:
            mean, se, word = verdict(diffs)
            where = {k: tag if k in mine else other for k in (s, b)}
            mixed.append([f"{s} ({where[s]})", f"{b} ({where[b]})", len(diffs), f"{mean:+.2f}", _se(se), word])
    lines = []
    if rows:
        head = ["entry", "seeds", f"Δ PSNR dB ({tag} − {other})", "s.e.", "statement", "per seed"]
        lines += [markdown_table(head, rows), ""]
    if redrawn:
        lines += [
            "Searched separately on each machine (other search artifacts, so another network; not compared "
            f"as one entry): {', '.join(redrawn)}.",
            "",
        ]
    if mixed:
        head = ["searched", "baseline", "seeds", "Δ PSNR dB (mean)", "s.e.", "statement (across machines)"]
        lines += [markdown_table(head, mixed), ""]
    return lines


def plot(grid: dict, inputs: dict[str, float], path: Path) -> Path:
    """PSNR against training steps per entry, one panel per task (mean ± std over seeds)."""
    import io

    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from hadamard_restore.artifacts import atomic_write_bytes

    tasks = sorted(grid)
    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4.2), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        budgets = sorted(grid[task])
        for key in ORDER:
            pts = [
                (b, [c["mean"]["psnr"] for c in grid[task][b][key].values()]) for b in budgets if grid[task][b].get(key)
            ]
            if pts:
                xs = [b for b, _ in pts]
                ys = [statistics.fmean(v) for _, v in pts]
                es = [statistics.stdev(v) if len(v) > 1 else 0.0 for _, v in pts]
                ax.errorbar(
                    xs, ys, yerr=es, marker="o", capsize=3, label=key, linewidth=2.2 if key in SEARCHED else 1.0
                )
        lo, hi = ax.get_ylim()
        if task in inputs and inputs[task] >= lo - 0.5 * (hi - lo):
            ax.axhline(inputs[task], color="grey", linestyle="--", label="input")
        elif task in inputs:  # far below: a line would squash the differences between entries
            ax.set_title(f"{task} (input vs reference: {inputs[task]:.2f} dB, below the axis)", fontsize=9)
        ax.set_xscale("log")
        ax.set_xlabel("training steps")
        ax.set_ylabel("held-out PSNR (dB)")
        if not ax.get_title():
            ax.set_title(task)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def _inputs(ledger: Path, tag: str, tasks) -> dict[str, float]:
    from hadamard_restore.artifacts import read_json

    out = {}
    for t in tasks:
        p = task_dir(ledger, tag, t) / "input.json"
        if p.is_file():
            out[t] = read_json(p)["mean"]["psnr"]
    return out


def search_lines(tdir: Path) -> list[str]:
    """One line per search variant of a task: its β (or why it failed) and its judge's accuracy."""
    from hadamard_restore.artifacts import read_json

    lines = []
    for sdir in sorted(p for p in (tdir / "searches").glob("*") if p.is_dir()):
        if (sdir / "failed.json").is_file():
            lines.append(f"- search `{sdir.name}` **failed**: {read_json(sdir / 'failed.json')['error']}")
            continue
        if not (sdir / "loss_weights.json").is_file():
            continue
        lw = read_json(sdir / "loss_weights.json")
        beta = ", ".join(f"{k} {v:.2f}" for k, v in lw["weights"].items())
        judge = (lw.get("extra") or {}).get("classifier") or {}
        acc = judge.get("accuracy")
        lines.append(
            f"- search `{sdir.name}` ({lw.get('beta_param') or 'projected'} β, upper "
            f"{(lw.get('extra') or {}).get('upper', 'classifier')}"
            + (f", judge accuracy {acc:.3f}" if isinstance(acc, float) else "")
            + f"): β = {beta}"
        )
    return lines


def _header(cells: list[dict], tag: str) -> list[str]:
    m = cells[0]["machine"]
    commits = sorted({c["commit"] for c in cells})
    return [
        f"# Budget curves: does the search pay off? ({tag})",
        "",
        f"Updated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}. Machine: {m['gpu'] or m['cpu']}, "
        f"{m['cores']} cores, torch {m['torch']}. {len(cells)} cells; code commit(s): {', '.join(commits)}.",
        "",
        "Every entry trains from scratch with the same budget and is scored on the held-out pairs, "
        "which nothing else reads (training, searches and the classifier use a development split of "
        "the training part). The scored network is the run's model.pt: the final weights, or with "
        "train.ema_decay the better of the final raw and averaged weights on the development split's "
        "validation pairs. Δ is the paired per-image PSNR difference searched − baseline, averaged per "
        "seed; s.e. across seeds. Dev-val is the scored weights' PSNR on the development-validation "
        "pairs (a second look that never reads the held-out ones; n/a for cells from before the ledger "
        "kept it). The entry tables give mean ± standard deviation across seeds. "
        "See benchmarks/studies/budget_report.py.",
        "",
        *_recipe(cells),
        "",
    ]


def _recipe(cells: list[dict]) -> list[str]:
    """The training overrides every cell shares, which weights were scored, load and wall time."""
    train = [f"{k}={v}" for k, v in dict(o.split("=", 1) for o in cells[0]["settings"]["train"]).items()]  # last wins
    kinds = Counter(c.get("weights", "raw") for c in cells)
    loads = [c["load_average"]["before"][0] for c in cells]
    walls = [c["wall_s"] / 60 for c in cells]
    return [
        "Training settings of every cell: " + ", ".join(f"`{s}`" for s in train) + ".",
        "",
        "Scored weights: " + ", ".join(f"{kinds[k]} cells {k}" for k in sorted(kinds)) + ". "
        f"Load average (1 min) at cell start: {min(loads):.2f}–{max(loads):.2f}; "
        f"wall per cell {min(walls):.0f}–{max(walls):.0f} min.",
    ]


def write_report(ledger: Path, tag: str, out_dir: Path) -> Path | None:
    """Render ``budget-curves-<tag>.md`` and ``.png`` into ``out_dir``; None without cells."""
    from hadamard_restore.artifacts import atomic_write_text

    cells = load_cells(ledger, tag)
    if not cells:
        return None
    grid = _grid(cells)
    inputs = _inputs(ledger, tag, grid)
    png = plot(grid, inputs, Path(out_dir) / f"budget-curves-{tag}.png")
    summary, body = ["## Does the search pay off?", ""], []
    for task in sorted(grid):
        body += [f"## {task}", ""]
        if task in inputs:
            body += [f"Input vs reference (no network): PSNR {inputs[task]:.2f} dB.", ""]
        body += search_lines(task_dir(ledger, tag, task)) + [""]
        for budget in sorted(grid[task]):
            table, sentences = comparisons(grid[task][budget])
            summary += [f"- **{task}, {budget} steps**: " + ("; ".join(sentences) or "no comparison yet")]
            body += [f"### {budget} steps", "", budget_table(grid[task][budget]), "", table, ""]
    for other in [t for t in machine_tags(ledger) if t != tag]:
        theirs = _grid(load_cells(ledger, other))
        for task in sorted(grid):
            for budget in sorted(grid[task]):
                lines = machine_lines(grid[task][budget], theirs[task][budget], tag, other)
                if lines:
                    body += [f"## Across machines: {task}, {budget} steps, {tag} and {other}", "", ACROSS, "", *lines]
    text = _header(cells, tag) + summary + ["", f"![PSNR against steps]({png.name})", ""] + body
    return atomic_write_text(Path(out_dir) / f"budget-curves-{tag}.md", "\n".join(text))
