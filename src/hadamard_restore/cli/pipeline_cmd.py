"""Train, evaluate, the whole run, and the demo."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hadamard_restore.cli.app import OutOption, SetOption, app, not_built


@app.command("train")
def train(config: Path = typer.Argument(...), set_: Optional[list[str]] = SetOption,
          out: Optional[Path] = OutOption,
          genotype: Optional[str] = typer.Option(None, "--genotype"),
          loss_weights: Optional[str] = typer.Option(None, "--loss-weights"),
          resume: bool = typer.Option(False, "--resume")) -> None:
    """Train the derived network from scratch with the searched loss."""
    not_built("train", 6)


@app.command("evaluate")
def evaluate(checkpoint: Path = typer.Argument(...), data: Path = typer.Option(..., "--data"),
             layout: Optional[str] = typer.Option(None), split: Optional[Path] = typer.Option(None)) -> None:
    """Full-resolution PSNR / SSIM / LPIPS per image and mean, written to metrics.json."""
    not_built("evaluate", 6)


@app.command("run")
def run(config: Path = typer.Argument(...), set_: Optional[list[str]] = SetOption,
        out: Optional[Path] = OutOption) -> None:
    """The whole method: classifier, loss search, architecture search, training, evaluation."""
    not_built("run", 6)


@app.command("demo")
def demo(out: Optional[Path] = OutOption) -> None:
    """Run the whole method on built-in synthetic low-light data (CPU, under 10 minutes)."""
    not_built("demo", 6)
