"""Classifier training and the two bilevel search stages."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hadamard_restore.cli.app import OutOption, SetOption, app, config_or_fail, guarded

if TYPE_CHECKING:
    from hadamard_restore.config import RunConfig
    from hadamard_restore.runtime.process import Dist


@app.command("classifier")
def classifier(
    config: Path = typer.Argument(..., help="task YAML"),
    set_: list[str] | None = SetOption,
    out: Path | None = OutOption,
) -> None:
    """Train the clear-vs-degraded classifier that judges the loss search."""
    cfg = config_or_fail(config, set_)

    def run() -> Path:
        from hadamard_restore.classifier.provide import MARKER, provide_classifier
        from hadamard_restore.config import dump_config
        from hadamard_restore.jobs import classifier_job
        from hadamard_restore.runtime.output_guard import refuse_earlier_run
        from hadamard_restore.runtime.rundir import new_run_dir

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


def prepare_run_dir(
    cfg: RunConfig, out: Path | None, stage: str, resume: bool, dist_ctx: Dist, allow_changes: bool = False
) -> Path:
    """The run directory: ``out``, or a new ``<out_dir>/<name>-<stage>-<UTC time>``.

    With ``resume`` and no ``out``, the newest existing ``<name>-<stage>-*`` directory is used. A
    resume is checked before anything is written (:func:`~hadamard_restore.search.resume_check.
    check_search_resume`: only this command's unfinished run, its settings unless ``allow_changes``).
    Rank 0 decides and every rank receives its choice; only rank 0 writes ``config.yaml``.
    """
    from hadamard_restore.artifacts import atomic_write_text
    from hadamard_restore.config import dump_config
    from hadamard_restore.errors import CheckpointError
    from hadamard_restore.search import ddp
    from hadamard_restore.search.resume_check import mark_run

    choice: str | None = None
    changes: list[dict] = []
    if dist_ctx.is_main:
        if out is None and resume:
            found = sorted(Path(cfg.out_dir).glob(f"{cfg.name}-{stage}-*"))
            choice = (
                str(found[-1])
                if found
                else (
                    f"ERROR:--resume found no earlier run {cfg.out_dir}/{cfg.name}-{stage}-*; "
                    "pass --out RUN_DIR or start without --resume"
                )
            )
        elif out is None:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
            choice = str(Path(cfg.out_dir) / f"{cfg.name}-{stage}-{stamp}")
        else:
            choice = str(out)
        choice = _claim(choice)
        choice, changes = _check_resume(choice, cfg, stage, allow_changes) if resume else (choice, [])
    chosen = ddp.gather_objects(choice, dist_ctx)[0]
    if chosen.startswith("ERROR:"):
        raise CheckpointError(chosen[len("ERROR:") :])
    run_dir = Path(chosen)
    if dist_ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        mark_run(run_dir, stage, changes)  # first: a folder with config.yaml alone is never taken for ours
        atomic_write_text(run_dir / "config.yaml", dump_config(cfg))
    ddp.barrier(dist_ctx)
    return run_dir


def _check_resume(choice: str, cfg: RunConfig, stage: str, allow_changes: bool) -> tuple[str, list[dict]]:
    """``(choice, allowed changes)``; a refused resume travels to every rank as ``ERROR:<message>``."""
    from hadamard_restore.config import dump_config
    from hadamard_restore.errors import HadamardRestoreError
    from hadamard_restore.search.resume_check import check_search_resume

    if choice.startswith("ERROR:"):
        return choice, []
    try:
        return choice, check_search_resume(choice, stage, dump_config(cfg), allow_changes)
    except HadamardRestoreError as exc:
        return f"ERROR:{exc}", []


def _claim(choice: str) -> str:
    """Lock the chosen run directory for this command (``runtime.run_session``); an error travels
    to every rank as ``ERROR:<message>``."""
    from hadamard_restore.errors import HadamardRestoreError
    from hadamard_restore.runtime.run_session import claim_run_dir

    if choice.startswith("ERROR:"):
        return choice
    try:
        claim_run_dir(choice)
    except HadamardRestoreError as exc:
        return f"ERROR:{exc}"
    return choice


def _run_stage(config: Path, set_, out, resume: bool, stage: str, call, allow_changes: bool = False) -> None:
    """Load the config, set up the process and the run directory, make one library call, draw the
    figures of the finished stages from what they saved."""
    from hadamard_restore.jobs import search_job
    from hadamard_restore.reporting.plots import plot_search
    from hadamard_restore.runtime.process import setup_process

    cfg = config_or_fail(config, set_)

    def go():
        from hadamard_restore.runtime.output_guard import refuse_earlier_run

        if not resume:
            refuse_earlier_run(out, resumable=True)
        job = search_job(cfg)
        env = setup_process(job.device, job.seed)
        run_dir = prepare_run_dir(cfg, out, stage, resume, env[1], allow_changes)
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
    from hadamard_restore.search.loss_stage import search_loss as run

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
    from hadamard_restore.losses.loss_weights import load_loss_weights
    from hadamard_restore.search.arch_stage import search_arch as run

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
    from hadamard_restore.search.hierarchy import search as run

    _run_stage(
        config,
        set_,
        out,
        resume,
        "search",
        lambda job, run_dir, env: run(job, run_dir, resume=resume, env=env),
        allow_changes,
    )
