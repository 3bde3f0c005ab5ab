"""Deployment: enhance photos of any size, export to ONNX."""

from __future__ import annotations

from pathlib import Path

import typer

from hadamard_restore.cli.app import app, not_built


@app.command("enhance")
def enhance(checkpoint: Path = typer.Argument(...), inputs: list[Path] = typer.Argument(...),
            out: Path = typer.Option(..., "--out")) -> None:
    """Enhance files or folders of photos of any size."""
    not_built("enhance", 6)


@app.command("export")
def export(checkpoint: Path = typer.Argument(...), onnx: Path = typer.Option(..., "--onnx")) -> None:
    """Export to ONNX with dynamic height and width and check parity with PyTorch."""
    not_built("export", 6)
