"""The report's first section: the bundled pretrained models on photos (``workflows.showcase``).

Present only when the run directory holds ``showcase/showcase.json`` (the demo writes it);
one sub-section per model with its card summary, a metrics table (input and output against
the clean photo or the reference) and the before/after grid.
"""

from __future__ import annotations

from pathlib import Path

from hadamard_restore.artifacts import read_json

HEADING = "## Pretrained models"
FOLDER = "showcase"
INTRO = (
    "The bundled models, no training: each enhances photos of its task. Built-in photos are "
    "scikit-image / matplotlib samples degraded with the task's synthetic formula and scored "
    "against the clean photo; held-out pairs are real pairs the model never saw. Scores: 8-bit "
    "outputs, RGB PSNR and SSIM."
)


def _row(r: dict) -> str:
    source = "built-in photo, synthetic degradation" if r["kind"] == "built-in" else "held-out pair"
    i, o = r["input"], r["output"]
    return (
        f"| {r['image']} | {source} | {r['width']}x{r['height']} | {i['psnr']:.2f} | **{o['psnr']:.2f}** | "
        f"{i['ssim']:.3f} | **{o['ssim']:.3f}** | {r['seconds']:.2f} |"
    )


def _model_lines(entry: dict) -> list[str]:
    lines = [f"### {entry['name']}" + (f" ({entry['task']})" if entry.get("task") else ""), ""]
    if entry.get("summary"):
        lines += [f"Card: {entry['summary']}.", ""]
    if entry["rows"]:
        lines += [
            ("| image | source | size | input PSNR (dB) | output PSNR (dB) | input SSIM | output SSIM | time (s) |"),
            "|---|---|---|---:|---:|---:|---:|---:|",
        ]
        lines += [_row(r) for r in entry["rows"]] + [""]
    if entry.get("grid"):
        lines += [
            "Columns: input | output | clean photo (or reference).",
            "",
            f"![{entry['name']}]({FOLDER}/{entry['grid']})",
            "",
        ]
    lines += [f"_{note}_" for note in entry.get("notes", [])]
    return lines + ([""] if entry.get("notes") else [])


def showcase_section(run_dir: Path) -> list[str]:
    """The section's lines, or ``[]`` when the run has no showcase."""
    path = Path(run_dir) / FOLDER / "showcase.json"
    if not path.is_file():
        return []
    data = read_json(path)
    lines = [HEADING, ""]
    if not data.get("models"):
        return lines + [f"_{data.get('note') or 'no pretrained model was shown'}_", ""]
    lines += [INTRO, ""]
    for entry in data["models"]:
        lines += _model_lines(entry)
    return lines
