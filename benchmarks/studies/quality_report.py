"""Tables and the plain statement of :mod:`benchmarks.studies.quality`, from the per-entry result files."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict

from benchmarks.studies.quality_entries import ENTRIES, HAND_DESIGNED
from benchmarks.timing import markdown_table

METRICS = (("psnr", "PSNR dB", True), ("ssim", "SSIM", True), ("lpips", "LPIPS", False))


def _spread(values: list[float], digits: int) -> str:
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def by_entry(results: list[dict]) -> dict[str, list[dict]]:
    """Results grouped by entry key, in the canonical entry order, seeds sorted."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        groups[r["entry"]].append(r)
    order = [e.key for e in ENTRIES]
    return {k: sorted(groups[k], key=lambda r: r["seed"]) for k in order if k in groups}


def per_image_mean(runs: list[dict], metric: str) -> dict[str, float]:
    """Per held-out image, the metric averaged over the seeds."""
    acc: dict[str, list[float]] = defaultdict(list)
    for r in runs:
        for row in r["per_image"]:
            acc[row["name"]].append(row[metric])
    return {k: statistics.fmean(v) for k, v in acc.items()}


def paired_difference(a: list[dict], b: list[dict], metric: str) -> tuple[float, float, int]:
    """Mean and standard error of the per-image difference ``a - b`` (seed-averaged), and n."""
    pa, pb = per_image_mean(a, metric), per_image_mean(b, metric)
    d = [pa[k] - pb[k] for k in pa if k in pb and math.isfinite(pa[k] - pb[k])]
    if not d:
        return float("nan"), float("nan"), 0
    se = statistics.stdev(d) / math.sqrt(len(d)) if len(d) > 1 else float("nan")
    return statistics.fmean(d), se, len(d)


def task_table(results: list[dict], inputs: dict | None = None) -> str:
    """One row per entry: metrics mean ± std over seeds, parameters, seeds; plus the input row."""
    groups = by_entry(results)
    rows = []
    if inputs is not None:
        inp = inputs["mean"]
        rows.append(
            [
                "input vs reference (no network)",
                "baseline",
                f"{inp['psnr']:.2f}",
                f"{inp['ssim']:.4f}",
                f"{inp['lpips']:.4f}",
                "0",
                "-",
            ]
        )
    for _key, runs in groups.items():
        vals = {m: [r["mean"][m] for r in runs] for m, _, _ in METRICS}
        rows.append(
            [
                runs[0]["name"],
                runs[0]["group"],
                _spread(vals["psnr"], 2),
                _spread(vals["ssim"], 4),
                _spread(vals["lpips"], 4),
                f"{runs[0]['parameters']:,}",
                str(len(runs)),
            ]
        )
    return markdown_table(["entry", "group", "PSNR dB ↑", "SSIM ↑", "LPIPS ↓", "parameters", "seeds"], rows)


def metric_verdict(metric: str, label: str, higher: bool, ours: list[dict], groups: dict) -> tuple[bool, str]:
    """Whether the searched entry beats every hand-designed baseline on ``metric``, and the line that says
    by how much (margins of the seed means, the paired per-image difference vs the strongest baseline)."""
    o = statistics.fmean(r["mean"][metric] for r in ours)
    margins: dict[str, float] = {}
    for b in HAND_DESIGNED:
        v = statistics.fmean(r["mean"][metric] for r in groups[b])
        margins[b] = (o - v) if higher else (v - o)
    wins = all(m > 0 for m in margins.values())
    worst = min(margins, key=margins.__getitem__)
    best_base = worst
    d, se, n = paired_difference(ours, groups[best_base], metric)
    d = d if higher else -d
    unit = " dB" if metric == "psnr" else ""
    digits = 2 if metric == "psnr" else 4
    detail = ", ".join(f"{b} {margins[b]:+.{digits}f}" for b in HAND_DESIGNED)
    if wins:
        text = (
            f"{label}: **beats all four** hand-designed baselines; smallest margin "
            f"{margins[worst]:+.{digits}f}{unit} (vs {worst})"
        )
    else:
        losers = [b for b in HAND_DESIGNED if margins[b] <= 0]
        text = (
            f"{label}: **does not beat** {', '.join(losers)}; margin vs the strongest baseline "
            f"({worst}) {margins[worst]:+.{digits}f}{unit}"
        )
    se_text = f" ± {se:.{digits}f} (s.e.)" if math.isfinite(se) else ""
    text += (
        f"; per-image paired difference vs {best_base}: {d:+.{digits}f}{se_text} over n={n} images"
        f"; all margins (positive = ours better): {detail}"
    )
    return wins, text


def input_caveat(floor: float, groups: dict) -> list[str]:
    """A line naming the entries that do not reach the unprocessed input's PSNR ``floor`` (none: none)."""
    below = [k for k, runs in groups.items() if statistics.fmean(r["mean"]["psnr"] for r in runs) <= floor]
    if len(below) == len(groups):
        return [
            f"  - caveat: at this budget **no entry reaches the unprocessed input's PSNR** "
            f"({floor:.2f} dB); the networks are under-trained, so these margins compare "
            "under-trained networks"
        ]
    if below:
        return [
            f"  - caveat: {len(below)} of {len(groups)} entries do not reach the unprocessed "
            f"input's PSNR ({floor:.2f} dB): {', '.join(below)}"
        ]
    return []


def statement(task: str, results: list[dict], inputs: dict | None = None) -> str:
    """Whether the searched entry beats every hand-designed baseline, and by how much.

    With ``inputs`` (the input-vs-reference record) it also says which entries, if any, do not
    even reach the score of the unprocessed input, which bounds what a comparison can show.
    """
    groups = by_entry(results)
    if "searched" not in groups:
        return f"**{task}**: the searched entry has not finished yet; no comparison."
    missing = [b for b in HAND_DESIGNED if b not in groups]
    if missing:
        return f"**{task}**: baselines {', '.join(missing)} have not finished yet; no comparison."
    ours = groups["searched"]
    lines = []
    verdicts = []
    for metric, label, higher in METRICS:
        wins, text = metric_verdict(metric, label, higher, ours, groups)
        verdicts.append(wins)
        lines.append("  - " + text)
    head = (
        "beats every hand-designed baseline on all three metrics"
        if all(verdicts)
        else "does **not** beat every hand-designed baseline on every metric"
    )
    if inputs is not None:
        lines += input_caveat(inputs["mean"]["psnr"], groups)
    return f"- **{task}**: the searched entry {head}.\n" + "\n".join(lines)
