"""Run directories: ``<out_dir>/<name>[-<stage>]-<UTC time>``, holding the resolved config.

Everything a run produces (resolved config, genotype.json, loss_weights.json, checkpoints,
metrics.json, plots, report.md) lives in one run directory. Inside a CLI command the directory
is claimed (:func:`.run_session.claim_run_dir`: locked for this command) before anything is
written into it. :func:`new_run_dir` makes the directory of a run that starts afresh in one
process; :func:`open_run_dir` also resumes (the newest earlier run of the stage, or ``out``)
and runs under torchrun, where rank 0 decides and every rank receives its choice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from hadamard_restore.artifacts import atomic_write_text
from hadamard_restore.errors import CheckpointError, HadamardRestoreError
from hadamard_restore.runtime.process import Dist, barrier, gather_objects
from hadamard_restore.runtime.run_session import claim_run_dir

#: ``check_resume(run_dir) -> changes``: whether a resume may continue the run in ``run_dir``
#: (reads only; raises a :class:`HadamardRestoreError` to refuse), returning the allowed changes
ResumeCheck = Callable[[Path], list[dict]]
#: ``mark(run_dir, changes)``: written into the directory first, before ``config.yaml``
RunMark = Callable[[Path, list[dict]], None]

_ERROR = "ERROR:"  # prefix of a refusal that travels from rank 0 to every rank


def stamped_dir(out_dir: str | Path, name: str, stage: str | None = None) -> Path:
    """``out_dir/<name>[-<stage>]-<YYYYmmdd-HHMMSS UTC>`` (not created)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(out_dir) / f"{name}{'-' + stage if stage else ''}-{stamp}"


def new_run_dir(
    out_dir: str | Path, name: str, config_yaml: str, out: str | Path | None = None, stage: str | None = None
) -> Path:
    """Create (or reuse) a run directory and write the resolved config into it.

    The directory is claimed for this command (locked while it writes, see :mod:`.run_session`)
    before it is created.

    Args:
        out_dir: the config's ``out_dir``: parent of the default directory.
        name: the config's ``name``: prefix of the default directory.
        config_yaml: the resolved configuration (``config.dump_config``); written as ``config.yaml``.
        out: explicit directory; default :func:`stamped_dir` under ``out_dir``.
        stage: optional sub-name appended to the default directory name.
    """
    run_dir = claim_run_dir(Path(stamped_dir(out_dir, name, stage) if out is None else out))
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", config_yaml)
    return run_dir


def open_run_dir(
    out_dir: str | Path,
    name: str,
    stage: str,
    config_yaml: str,
    dist_ctx: Dist,
    *,
    out: str | Path | None = None,
    resume: bool = False,
    check_resume: ResumeCheck | None = None,
    mark: RunMark | None = None,
) -> Path:
    """The run directory of a command that may resume: ``out``, or a new ``<out_dir>/<name>-<stage>-<UTC time>``.

    With ``resume`` and no ``out``, the newest existing ``<name>-<stage>-*`` directory is used. The
    directory is claimed, and a resume is checked by ``check_resume`` before anything is written.
    Rank 0 decides and every rank receives its choice (a refusal is raised on every rank); only
    rank 0 creates the directory, calls ``mark`` and writes ``config.yaml``; all ranks wait for it.

    Raises:
        CheckpointError: no earlier run to resume, the directory is held by another command, or
            ``check_resume`` refused (its message).
    """
    choice: str | None = None
    changes: list[dict] = []
    if dist_ctx.is_main:
        choice = _claim(_choose(out_dir, name, stage, out, resume))
        if resume and check_resume is not None:
            choice, changes = _check_resume(choice, check_resume)
    chosen = gather_objects(choice, dist_ctx)[0]
    if chosen.startswith(_ERROR):
        raise CheckpointError(chosen[len(_ERROR) :])
    run_dir = Path(chosen)
    if dist_ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        if mark is not None:
            mark(run_dir, changes)  # first: a folder with config.yaml alone is never taken for ours
        atomic_write_text(run_dir / "config.yaml", config_yaml)
    barrier(dist_ctx)
    return run_dir


def _choose(out_dir: str | Path, name: str, stage: str, out: str | Path | None, resume: bool) -> str:
    """``out``, the newest earlier run (``resume``) or a new stamped directory; or ``ERROR:<message>``."""
    if out is not None:
        return str(out)
    if not resume:
        return str(stamped_dir(out_dir, name, stage))
    found = sorted(Path(out_dir).glob(f"{name}-{stage}-*"))
    if found:
        return str(found[-1])
    return (
        f"{_ERROR}--resume found no earlier run {out_dir}/{name}-{stage}-*; "
        "pass --out RUN_DIR or start without --resume"
    )


def _claim(choice: str) -> str:
    """Lock the chosen run directory for this command; an error travels as ``ERROR:<message>``."""
    if choice.startswith(_ERROR):
        return choice
    try:
        claim_run_dir(choice)
    except HadamardRestoreError as exc:
        return f"{_ERROR}{exc}"
    return choice


def _check_resume(choice: str, check_resume: ResumeCheck) -> tuple[str, list[dict]]:
    """``(choice, allowed changes)``; a refused resume travels as ``ERROR:<message>``."""
    if choice.startswith(_ERROR):
        return choice, []
    try:
        return choice, check_resume(Path(choice))
    except HadamardRestoreError as exc:
        return f"{_ERROR}{exc}", []
