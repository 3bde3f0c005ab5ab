"""``report.md``: one page that shows what a run found and how well it works.

Sections (always present; a section whose artifact is missing says so):

1. **Searched loss weights**: a table of beta per loss, softmax(beta) as the paper's Fig. 7a
   shows it, the chosen VGG layers, and a heatmap PNG (plus the search stage's own plots).
2. **Architecture**: the op chosen at every searched layer, one row per group (encoder, each
   HNU with its Ru | Rv branches, decoder), and the full per-layer table with probabilities.
3. **Training curves**: training loss (total and each term) and validation PSNR per step.
4. **Metrics**: mean PSNR / SSIM / LPIPS of the output and of the input against the
   reference, with the protocol flags, and the first images' rows.
5. **Sample images**: the input | output | reference grid (of ``train`` alone: held-out
   validation pairs, ``val_grid.png``).

Before them, a **Warnings** section (:mod:`.caveats`) when the classifier judging stage 1 was
untrustworthy or the searched architecture weights stayed near uniform.

A run that holds ``showcase/showcase.json`` (the demo) starts with a **Pretrained models**
section (:mod:`.showcase`): the bundled models' before/after grids and their metrics.

Artifacts are looked up in the run directory's stage folders (``search/``, ``train/``,
``eval/``), falling back to the run directory itself, so the report also works for a folder
made by ``train --out DIR`` followed by ``evaluate``.
"""

from __future__ import annotations

import os
from pathlib import Path

from hadamard_restore.artifacts import atomic_write_text, read_json
from hadamard_restore.net.primitives import ABBREVIATIONS
from hadamard_restore.reporting import plots
from hadamard_restore.reporting.caveats import caveats_section
from hadamard_restore.reporting.showcase import showcase_section

#: code name -> the paper's abbreviation (the inverse of net.primitives.ABBREVIATIONS)
SHORT = {name: short for short, name in ABBREVIATIONS.items()}
SECTIONS = ("## Searched loss weights", "## Architecture", "## Training curves", "## Metrics", "## Sample images")


def _find(run_dir: Path, name: str, stages: tuple[str, ...]) -> Path | None:
    for stage in stages:
        path = run_dir / stage / name if stage else run_dir / name
        if path.is_file():
            return path
    return None


def _rel(path: Path, run_dir: Path) -> str:
    return Path(os.path.relpath(path, run_dir)).as_posix()


def _fmt(value, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def loss_section(run_dir: Path, plots_dir: Path) -> list[str]:
    lines = [SECTIONS[0], ""]
    path = _find(run_dir, "loss_weights.json", ("train", "search", ""))
    if path is None:
        return lines + ["_No loss_weights.json in this run._", ""]
    lw = read_json(path)
    weights = {k: float(v) for k, v in lw["weights"].items()}
    share = plots.softmax(list(weights.values()))
    lines += [
        f"From `{_rel(path, run_dir)}`" + (f" (name `{lw['name']}`)" if lw.get("name") else "") + ".",
        "",
        "| loss | beta | softmax(beta) |",
        "|---|---:|---:|",
    ]
    lines += [f"| {k} | {v:.4f} | {s:.3f} |" for (k, v), s in zip(weights.items(), share)]
    vgg = lw.get("vgg") or {}
    if vgg.get("layers"):
        lines += ["", f"VGG layers ({vgg.get('backbone', '?')}): " + ", ".join(f"`{x}`" for x in vgg["layers"])]
    elif vgg.get("softmax"):
        lines += ["", "VGG layers: still relaxed (softmax per group recorded in the file)."]
    heat = plots.plot_beta_softmax(
        list(weights.values()),
        list(weights),
        plots_dir / "loss_weights.png",
        title="searched loss weights (colour: softmax(β))",
    )
    lines += ["", f"![loss weights]({_rel(heat, run_dir)})"]
    for traj in beta_trajectory_plots(run_dir):
        where = _rel(traj.parent, run_dir)
        lines += ["", f"β over the loss-search steps ({where}):", f"![β trajectory]({_rel(traj, run_dir)})"]
    search_dir = run_dir / "search"
    extra = (
        sorted(p for pattern in ("*.png", "*/*.png", "round*/*/*.png") for p in search_dir.glob(pattern))
        if search_dir.is_dir()
        else []
    )
    if extra:
        lines += ["", "Search-stage plots: " + ", ".join(f"[{p.stem}]({_rel(p, run_dir)})" for p in extra)]
    return lines + [""]


def beta_trajectory_plots(run_dir: Path) -> list[Path]:
    """The stage-1 β trajectory plots of a run: a stage directory, a search, or a whole run."""
    patterns = ("beta_over_steps.png", "loss/beta_over_steps.png", "search/loss/beta_over_steps.png")
    found = [run_dir / p for p in patterns if (run_dir / p).is_file()]
    return found + sorted(p for g in ("round*", "search/round*") for p in run_dir.glob(f"{g}/loss/beta_over_steps.png"))


def _group_rows(layers: dict[str, str]) -> list[tuple[str, str]]:
    groups: dict[str, list[tuple[str, str]]] = {}
    for label, op in layers.items():
        group, _, pos = label.partition(".")
        groups.setdefault(group, []).append((pos, SHORT.get(op, op)))
    rows = []
    for group, items in groups.items():
        if group.startswith("hnu"):
            ru = [o for p, o in items if p.startswith("ru")]
            rv = [o for p, o in items if p.startswith("rv")]
            rows.append((group, f"Ru: {', '.join(ru)} &#124; Rv: {', '.join(rv)}"))
        else:
            rows.append((group, ", ".join(f"{p}={o}" for p, o in items)))
    return rows


def architecture_section(run_dir: Path) -> list[str]:
    lines = [SECTIONS[1], ""]
    path = _find(run_dir, "genotype.json", ("train", "search", ""))
    if path is None:
        return lines + ["_No genotype.json in this run._", ""]
    geno = read_json(path)
    layers, probs = geno["layers"], geno.get("probabilities") or {}
    lines += [
        f"From `{_rel(path, run_dir)}`"
        + (f" (name `{geno['name']}`)" if geno.get("name") else "")
        + f": {geno.get('num_hnu', '?')} HNUs. Abbreviations: "
        + ", ".join(f"{v}={k}" for k, v in SHORT.items()),
        "",
        "| group | chosen ops |",
        "|---|---|",
    ]
    lines += [f"| {g} | {ops} |" for g, ops in _group_rows(layers)]
    prim = geno.get("primitives") or {}
    lines += ["", "<details><summary>every layer</summary>", "", "| layer | op | p(op) |", "|---|---|---:|"]
    for label, op in layers.items():
        row, p = probs.get(label), "n/a"
        cands = prim.get("hnu" if label.startswith("hnu") else "fcm") or []
        if row and op in cands and len(row) == len(cands):
            p = f"{row[cands.index(op)]:.3f}"
        lines.append(f"| {label} | {op} | {p} |")
    return lines + ["", "</details>", ""]


def curves_section(run_dir: Path, plots_dir: Path) -> list[str]:
    lines = [SECTIONS[2], ""]
    path = _find(run_dir, "history.json", ("train", ""))
    if path is None:
        return lines + ["_No history.json (training has not run here)._", ""]
    history = read_json(path)
    png = plots.plot_training_curves(history, plots_dir / "training.png")
    summary = _find(run_dir, "train_summary.json", ("train", ""))
    if summary is not None:
        s = read_json(summary)
        lines += [
            f"{s['steps']} steps; best validation PSNR {s['best_val_psnr']:.3f} dB at step {s['best_step']} "
            "(held-out split of the training pairs; the kept model.pt"
            + {"ema": ", the weight average", "raw": ", the raw weights"}.get(s.get("best_weights") or "", "")
            + ").",
            "",
        ]
    return lines + [f"![training curves]({_rel(png, run_dir)})", ""]


def metrics_section(run_dir: Path, max_rows: int = 10) -> list[str]:
    lines = [SECTIONS[3], ""]
    path = _find(run_dir, "metrics.json", ("eval", ""))
    if path is None:
        return lines + ["_No metrics.json (evaluation has not run here)._", ""]
    m = read_json(path)
    out, inp = m["mean"], m["input_mean"]
    lines += [
        f"{m['count']} images from `{m['data']}`"
        + (f", split `{m['split']}`" if m.get("split") else "")
        + f". Protocol: {m['protocol']['computed_on']}; {m['protocol']['color_space']}, crop border "
        f"{m['protocol']['crop_border']}, LPIPS {m['protocol']['lpips_net']} v0.1 on [-1, 1].",
        "",
        "| | PSNR (dB) | SSIM | LPIPS |",
        "|---|---:|---:|---:|",
        f"| input vs reference | {_fmt(inp['psnr'], 3)} | {_fmt(inp['ssim'])} | {_fmt(inp['lpips'])} |",
        f"| **output vs reference** | **{_fmt(out['psnr'], 3)}** | **{_fmt(out['ssim'])}** | "
        f"**{_fmt(out['lpips'])}** |",
    ]
    if m["protocol"].get("lpips_skipped"):
        lines += ["", f"LPIPS skipped: {m['protocol']['lpips_skipped']}"]
    lines += ["", "| image | PSNR | SSIM | LPIPS | input PSNR |", "|---|---:|---:|---:|---:|"]
    for r in m["per_image"][:max_rows]:
        lines.append(
            f"| {r['name']} | {_fmt(r['psnr'], 3)} | {_fmt(r['ssim'])} | {_fmt(r['lpips'])} | "
            f"{_fmt(r['input_psnr'], 3)} |"
        )
    if m["count"] > max_rows:
        lines.append(f"| ... {m['count'] - max_rows} more in `{_rel(path, run_dir)}` | | | | |")
    return lines + [""]


def images_section(run_dir: Path) -> list[str]:
    lines = [SECTIONS[4], ""]
    path = _find(run_dir, "grid.png", ("eval", ""))
    if path is not None:
        return lines + ["Columns: input | output | reference.", "", f"![samples]({_rel(path, run_dir)})", ""]
    path = _find(run_dir, "val_grid.png", ("train", ""))  # train alone: its held-out validation pairs
    if path is None:
        return lines + ["_No comparison grid (evaluation has not run here)._", ""]
    return lines + [
        "Held-out validation pairs through the kept model.pt (no evaluation has run here); "
        "columns: input | output | reference.",
        "",
        f"![validation samples]({_rel(path, run_dir)})",
        "",
    ]


def write_report(run_dir: str | Path, title: str | None = None) -> Path:
    """Write ``run_dir/report.md`` (and its PNGs under ``run_dir/plots``); returns its path."""
    run_dir = Path(run_dir)
    plots_dir = run_dir / "plots"
    lines = [f"# {title or 'hadamard-restore run'}", "", f"Run directory: `{run_dir.resolve()}`", ""]
    lines += caveats_section(run_dir)
    lines += showcase_section(run_dir)
    summary = _find(run_dir, "run_summary.json", ("",))
    if summary is not None:
        s = read_json(summary)
        lines += ["| stage | wall time (s) |", "|---|---:|"]
        lines += [f"| {k} | {v:.1f} |" for k, v in s.get("wall_s", {}).items()] + [""]
    lines += loss_section(run_dir, plots_dir) + architecture_section(run_dir)
    lines += curves_section(run_dir, plots_dir) + metrics_section(run_dir) + images_section(run_dir)
    return atomic_write_text(run_dir / "report.md", "\n".join(lines))
