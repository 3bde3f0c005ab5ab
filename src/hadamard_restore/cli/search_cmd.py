"""Classifier training and the two bilevel search stages."""

from __future__ import annotations

from pathlib import Path

import typer

from hadamard_restore.cli.app import OutOption, SetOption, app, config_or_fail, guarded
from hadamard_restore.config import dump_config
from hadamard_restore.runtime.output_guard import refuse_earlier_run
from hadamard_restore.search.resume_check import check_search_resume, mark_run


@app.command("classifier")
def classifier(
    config: Path = typer.Argument(..., help="task YAML"),
    set_: list[str] | None = SetOption,
    out: Path | None = OutOption,
) -> None:
    """Train the clear-vs-degraded classifier that judges the loss search."""
    cfg = config_or_fail(config, set_)

    def run() -> Path:
        from hadamard_restore.classifier.provide import MARKER, provide_classifier  # lazy: start-up cost (torch, 4-5 s)
        from hadamard_restore.jobs import classifier_job  # lazy: start-up cost (torch, 4-5 s)
        from hadamard_restore.runtime.rundir import new_run_dir  # lazy: start-up cost (torch via runtime.process)

        if out is None or not (Path(out) / MARKER).is_file():  # with path.txt the earlier one is reused
            refuse_earlier_run(out, resumable=False)
        return provide_classifier(
            classifier_job(cfg), new_run_dir(cfg.out_dir, cfg.name, dump_config(cfg), out, stage="classifier")
        )

    path = guarded(run)
    typer.echo(str(path))


ResumeOption = typer.Option(
    False,
    "--resume",
    help="continue from the last checkpoint in the run directory "
    "(--out, else the newest <out_dir>/<name>-<command>-* run); finished stages are skipped",
)


AllowChangesOption = typer.Option(
    False,
    "--allow-changes",
    help="with --resume: continue although settings differ from the run's config.yaml (recorded in "
    "resume_changes.json); the network, loss, classifier, seed and search structure can never change",
)


def _run_stage(config: Path, set_, out, resume: bool, stage: str, call, allow_changes: bool = False) -> None:
    """Load the config, set up the process and the run directory, make one library call, draw the
    figures of the finished stages from what they saved."""
    from hadamard_restore.jobs import search_job  # lazy: start-up cost (torch, 4-5 s)
    from hadamard_restore.reporting.plots import plot_search  # lazy: start-up cost (torch, 4-5 s)
    from hadamard_restore.runtime.process import setup_process  # lazy: start-up cost (torch, 4-5 s)
    from hadamard_restore.runtime.rundir import open_run_dir  # lazy: start-up cost (torch via runtime.process)

    cfg = config_or_fail(config, set_)

    def go():

        if not resume:
            refuse_earlier_run(out, resumable=True)
        job = search_job(cfg)
        env = setup_process(job.device, job.seed)
        config_yaml = dump_config(cfg)
        run_dir = open_run_dir(
            cfg.out_dir,
            cfg.name,
            stage,
            config_yaml,
            env[1],
            out=out,
            resume=resume,
            check_resume=lambda d: check_search_resume(d, stage, config_yaml, allow_changes),
            mark=lambda d, changes: mark_run(d, stage, changes),
        )
        result = call(job, run_dir, env)
        if env[1].is_main:
            plot_search(run_dir)
            typer.echo(f"{stage}: {result}")

    guarded(go)


@app.command("search-loss")
def search_loss(
    config: Path = typer.Argument(...),
    set_: list[str] | None = SetOption,
    out: Path | None = OutOption,
    resume: bool = ResumeOption,
    allow_changes: bool = AllowChangesOption,
) -> None:
    """Stage 1: search the loss weights and VGG layers against the classifier."""
    from hadamard_restore.search.loss_stage import search_loss as run  # lazy: start-up cost (torch, 4-5 s)

    _run_stage(
        config,
        set_,
        out,
        resume,
        "search-loss",
        lambda job, run_dir, env: run(job, run_dir, resume=resume, env=env),
        allow_changes,
    )


@app.command("search-arch")
def search_arch(
    config: Path = typer.Argument(...),
    set_: list[str] | None = SetOption,
    out: Path | None = OutOption,
    loss_weights: str | None = typer.Option(
        None, "--loss-weights", help="loss_weights.json or bundled name (default: loss.weights)"
    ),
    resume: bool = ResumeOption,
    allow_changes: bool = AllowChangesOption,
) -> None:
    """Stage 2: search the architecture with the searched loss."""
    from hadamard_restore.losses.loss_weights import load_loss_weights  # lazy: start-up cost (torch, 4-5 s)
    from hadamard_restore.search.arch_stage import search_arch as run  # lazy: start-up cost (torch, 4-5 s)

    _run_stage(
        config,
        set_,
        out,
        resume,
        "search-arch",
        lambda job, run_dir, env: run(
            job, run_dir, None if loss_weights is None else load_loss_weights(loss_weights), resume=resume, env=env
        ),
        allow_changes,
    )


@app.command("search")
def search(
    config: Path = typer.Argument(...),
    out: Path | None = OutOption,
    set_: list[str] | None = SetOption,
    resume: bool = ResumeOption,
    allow_changes: bool = AllowChangesOption,
) -> None:
    """Stage 1 then stage 2, alternated t times (or the joint mode)."""
    from hadamard_restore.search.hierarchy import search as run  # lazy: start-up cost (torch, 4-5 s)

    _run_stage(
        config,
        set_,
        out,
        resume,
        "search",
        lambda job, run_dir, env: run(job, run_dir, resume=resume, env=env),
        allow_changes,
    )
