"""Statistics and the Markdown of :mod:`benchmarks.studies.judge_correlation` (no torch needed here)."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.timing import markdown_table


def ranks(values: list[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rank correlation (Pearson on average ranks); NaN when undefined."""
    if len(x) != len(y):
        raise ValueError(f"spearman: {len(x)} vs {len(y)} values")
    if len(x) < 3:
        return float("nan")
    rx, ry = ranks(x), ranks(y)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx, syy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else float("nan")


def by_source(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per output set (source, step): the means over its images."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[f"{r['source']}@{r['step']}"].append(r)
    return {
        k: {m: statistics.fmean(r[m] for r in g) for m in ("clear", "psnr", "ssim", "lpips")} for k, g in groups.items()
    }


def correlations(rows: list[dict]) -> dict[str, float]:
    """ρ(clear, PSNR) and ρ(clear, LPIPS), pooled over images and over output-set means."""
    sets = list(by_source(rows).values())
    return {
        "images": len(rows),
        "sets": len(sets),
        "rho_psnr_images": spearman([r["clear"] for r in rows], [r["psnr"] for r in rows]),
        "rho_lpips_images": spearman([r["clear"] for r in rows], [r["lpips"] for r in rows]),
        "rho_psnr_sets": spearman([s["clear"] for s in sets], [s["psnr"] for s in sets]),
        "rho_lpips_sets": spearman([s["clear"] for s in sets], [s["lpips"] for s in sets]),
    }


def judgement(c: dict[str, float]) -> str:
    """A plain sentence from the output-set correlations (what stage 1's judge averages over)."""
    p, lp = c["rho_psnr_sets"], c["rho_lpips_sets"]
    if not (math.isfinite(p) and math.isfinite(lp)):
        return "too few output sets to say"
    if p >= 0.5 and lp <= -0.5:
        return "the judge **tracks** restoration quality (higher 'clear' score, higher PSNR and lower LPIPS)"
    if abs(p) < 0.3 and abs(lp) < 0.3:
        return "the judge **does not track** restoration quality: its 'clear' score is unrelated to PSNR and LPIPS"
    if p < 0 or lp > 0:
        return (
            "the judge **prefers worse outputs** on at least one measure: stage 1 is steered away from the references"
        )
    return "the judge tracks restoration quality **only weakly**"


def summary_table(results: list[dict]) -> str:
    """One row per task and machine: the judge's accuracy and the rank correlations."""
    rows = []
    for r in results:
        c = correlations(r["rows"])
        rows.append(
            [
                r["task"],
                r["machine"],
                f"{r['classifier'].get('accuracy') or float('nan'):.3f}",
                c["sets"],
                c["images"],
                f"{c['rho_psnr_sets']:+.2f}",
                f"{c['rho_lpips_sets']:+.2f}",
                f"{c['rho_psnr_images']:+.2f}",
                f"{c['rho_lpips_images']:+.2f}",
            ]
        )
    return markdown_table(
        [
            "task",
            "machine",
            "judge accuracy",
            "output sets",
            "outputs",
            "ρ(clear, PSNR) sets",
            "ρ(clear, LPIPS) sets",
            "ρ(clear, PSNR) images",
            "ρ(clear, LPIPS) images",
        ],
        rows,
    )


def task_section(r: dict) -> list[str]:
    """One task on one machine: the verdict, the judge, and every output set's scores."""
    c = correlations(r["rows"])
    caveat = f" (only {c['sets']} output sets: indicative at best)" if c["sets"] < 6 else ""
    lines = [
        f"## {r['task']} ({r['machine']})",
        "",
        f"- {judgement(c)}{caveat}.",
        f"- judge: `{Path(str(r['classifier'].get('checkpoint'))).name}` (accuracy "
        f"{r['classifier'].get('accuracy')}), {r['crop']} px windows; mean P(clear) on the references "
        f"{r['reference_clear']:.3f}, on the degraded inputs {r['input_clear']:.3f}.",
    ]
    if r["reference_clear"] <= r["input_clear"]:
        lines.append(
            "- the judge rates the clean references **no clearer** than the degraded inputs: it cannot "
            "steer stage 1 towards the references at all"
        )
    lines.append("")
    sets = by_source(r["rows"])
    lines += [
        markdown_table(
            ["output set", "P(clear)", "PSNR dB", "SSIM", "LPIPS"],
            [
                [k, f"{v['clear']:.3f}", f"{v['psnr']:.2f}", f"{v['ssim']:.4f}", f"{v['lpips']:.4f}"]
                for k, v in sets.items()
            ],
        ),
        "",
    ]
    return lines


def render(results: list[dict], out: Path) -> Path:
    """``judge-correlation.md`` from the per-task result records (atomic)."""
    from hadamard_restore.artifacts import atomic_write_text

    lines = [
        "# Does the stage-1 judge measure what we care about?",
        "",
        f"Updated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}. For outputs of different quality (the "
        "degraded input, and networks at several points of their training), the classifier's mean P(clear) over "
        "windows of the size stage 1 judges, against PSNR and LPIPS to the references, on development-validation "
        "pairs (never the held-out test pairs). Spearman ρ pooled over every (output, image) and over the "
        "output sets' means; for a useful judge ρ(clear, PSNR) > 0 and ρ(clear, LPIPS) < 0.",
        "",
    ]
    ordered = sorted(results, key=lambda r: (r["machine"], r["task"]))
    lines += [summary_table(ordered), ""]
    for r in ordered:
        lines += task_section(r)
    return atomic_write_text(out, "\n".join(lines))
