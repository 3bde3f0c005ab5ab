"""Classifier training and the two bilevel search stages."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hadamard_restore.cli.app import OutOption, SetOption, app, config_or_fail, guarded, not_built


@app.command("classifier")
def classifier(config: Path = typer.Argument(..., help="task YAML"),
               set_: Optional[list[str]] = SetOption, out: Optional[Path] = OutOption) -> None:
    """Train the clear-vs-degraded classifier that judges the loss search."""
    cfg = config_or_fail(config, set_)

    def run() -> Path:
        from hadamard_restore.artifacts import new_run_dir
        from hadamard_restore.losses.classifier_train import train_classifier

        return train_classifier(cfg, new_run_dir(cfg, out, stage="classifier"))

    path = guarded(run)
    typer.echo(str(path))


@app.command("search-loss")
def search_loss(config: Path = typer.Argument(...), set_: Optional[list[str]] = SetOption,
                out: Optional[Path] = OutOption, resume: bool = typer.Option(False, "--resume")) -> None:
    """Stage 1: search the loss weights and VGG layers against the classifier."""
    not_built("search-loss", 5)


@app.command("search-arch")
def search_arch(config: Path = typer.Argument(...), set_: Optional[list[str]] = SetOption,
                out: Optional[Path] = OutOption,
                loss_weights: Optional[str] = typer.Option(None, "--loss-weights"),
                resume: bool = typer.Option(False, "--resume")) -> None:
    """Stage 2: search the architecture with the searched loss."""
    not_built("search-arch", 5)


@app.command("search")
def search(config: Path = typer.Argument(...), set_: Optional[list[str]] = SetOption,
           out: Optional[Path] = OutOption, resume: bool = typer.Option(False, "--resume")) -> None:
    """Stage 1 then stage 2, alternated t times (or the joint mode)."""
    not_built("search", 5)
