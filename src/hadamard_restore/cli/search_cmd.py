"""Classifier training and the two bilevel search stages."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hadamard_restore.cli.app import OutOption, SetOption, app, config_or_fail, guarded


@app.command("classifier")
def classifier(config: Path = typer.Argument(..., help="task YAML"),
               set_: Optional[list[str]] = SetOption, out: Optional[Path] = OutOption) -> None:
    """Train the clear-vs-degraded classifier that judges the loss search."""
    cfg = config_or_fail(config, set_)

    def run() -> Path:
        from hadamard_restore.runtime.rundir import new_run_dir
        from hadamard_restore.losses.classifier_train import train_classifier

        return train_classifier(cfg, new_run_dir(cfg, out, stage="classifier"))

    path = guarded(run)
    typer.echo(str(path))


ResumeOption = typer.Option(False, "--resume", help="continue from the last checkpoint in the run directory "
                            "(--out, else the newest <out_dir>/<name>-<command>-* run); finished stages are skipped")


def _run_stage(config: Path, set_, out, resume: bool, stage: str, call) -> None:
    """Load the config, set up the process and the run directory, make one library call."""
    from hadamard_restore.search.build import prepare_run_dir, setup

    cfg = config_or_fail(config, set_)

    def go():
        env = setup(cfg)
        run_dir = prepare_run_dir(cfg, out, stage, resume, env[1])
        result = call(cfg, run_dir, env)
        if env[1].is_main:
            typer.echo(f"{stage}: {result}")

    guarded(go)


@app.command("search-loss")
def search_loss(config: Path = typer.Argument(...), set_: Optional[list[str]] = SetOption,
                out: Optional[Path] = OutOption, resume: bool = ResumeOption) -> None:
    """Stage 1: search the loss weights and VGG layers against the classifier."""
    from hadamard_restore.search.loss_stage import search_loss as run

    _run_stage(config, set_, out, resume, "search-loss",
               lambda cfg, run_dir, env: run(cfg, run_dir, resume=resume, env=env))


@app.command("search-arch")
def search_arch(config: Path = typer.Argument(...), set_: Optional[list[str]] = SetOption,
                out: Optional[Path] = OutOption,
                loss_weights: Optional[str] = typer.Option(
                    None, "--loss-weights", help="loss_weights.json or bundled name (default: loss.weights)"),
                resume: bool = ResumeOption) -> None:
    """Stage 2: search the architecture with the searched loss."""
    from hadamard_restore.search.arch_stage import search_arch as run

    _run_stage(config, set_, out, resume, "search-arch",
               lambda cfg, run_dir, env: run(cfg, run_dir, loss_weights, resume=resume, env=env))


@app.command("search")
def search(config: Path = typer.Argument(...), set_: Optional[list[str]] = SetOption,
           out: Optional[Path] = OutOption, resume: bool = ResumeOption) -> None:
    """Stage 1 then stage 2, alternated t times (or the joint mode)."""
    from hadamard_restore.search.schedule import search as run

    _run_stage(config, set_, out, resume, "search",
               lambda cfg, run_dir, env: run(cfg, run_dir, resume=resume, env=env))
