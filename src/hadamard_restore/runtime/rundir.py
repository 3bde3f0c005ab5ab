"""Run directories: ``<out_dir>/<name>[-<stage>]-<UTC time>``, holding the resolved config.

Everything a run produces (resolved config, genotype.json, loss_weights.json, checkpoints,
metrics.json, plots, report.md) lives in one run directory. Inside a CLI command the directory
is claimed (:func:`.run_session.claim_run_dir`: locked for this command) before anything is
written into it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from hadamard_restore.artifacts import atomic_write_text
from hadamard_restore.runtime.run_session import claim_run_dir


def stamped_dir(out_dir: str | Path, name: str, stage: str | None = None) -> Path:
    """``out_dir/<name>[-<stage>]-<YYYYmmdd-HHMMSS UTC>`` (not created)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(out_dir) / f"{name}{'-' + stage if stage else ''}-{stamp}"


def write_run_config(run_dir: str | Path, config_yaml: str) -> Path:
    """Claim ``run_dir`` for this command (locked while it writes, see :mod:`.run_session`), create
    it and write the resolved config text into it as ``config.yaml``."""
    run_dir = claim_run_dir(Path(run_dir))
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", config_yaml)
    return run_dir


def new_run_dir(
    out_dir: str | Path, name: str, config_yaml: str, out: str | Path | None = None, stage: str | None = None
) -> Path:
    """Create (or reuse) a run directory and write the resolved config into it.

    Args:
        out_dir: the config's ``out_dir``: parent of the default directory.
        name: the config's ``name``: prefix of the default directory.
        config_yaml: the resolved configuration (``config.dump_config``); written as ``config.yaml``.
        out: explicit directory; default :func:`stamped_dir` under ``out_dir``.
        stage: optional sub-name appended to the default directory name.
    """
    return write_run_config(stamped_dir(out_dir, name, stage) if out is None else out, config_yaml)
