"""``hadamard-restore appearance``: black level, contrast, saturation, checkerboard and border frame
of restored images against their references (any restorer's outputs; ``evaluate`` writes the same
numbers into its metrics.json)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from hadamard_restore.artifacts import write_json
from hadamard_restore.cli.app import UserError, app, guarded


@app.command("appearance")
def appearance(
    outputs: Path = typer.Argument(..., help="folder of restored images"),
    references: Path = typer.Argument(..., help="folder of reference images (paired by name)"),
    inputs: Path | None = typer.Option(None, "--inputs", help="folder of the degraded inputs (same names)"),
    out: Path | None = typer.Option(None, "--out", "-o", help="write the numbers to this JSON file (a new file)"),
) -> None:
    """Measure what PSNR hides: grey veil, contrast, saturation, pixel-grid checkerboard, border frame."""
    from hadamard_restore.evaluation.appearance import (  # lazy: start-up cost (torch, 4-5 s)
        format_summary,
        measure_folders,
    )

    def go():
        if out is not None and out.exists():
            raise UserError(f"--out {out} already exists; pass a new file name (nothing is overwritten)")
        result = measure_folders(outputs, references, inputs)
        if out is not None:
            write_json(out, result)
        return result

    result = guarded(go)
    typer.echo(format_summary(result["appearance"]))
    typer.echo(str(out) if out is not None else json.dumps(result["appearance"], indent=2))
