"""``search-loss`` / ``search-arch`` / ``search --resume``: checked before anything is written.

The search analogue of :mod:`hadamard_restore.training.resume_check`. A resume continues only a
run that this same command started, with its own settings:

* **whose run**: a search run directory holds :data:`MARKER` (the command that made it). A
  folder with another command's marker, or (runs made before the marker) one without any of
  this command's files, or holding a training run's ``model.pt``/``last.pt``, is refused, so a
  resume can never rewrite another run's config.yaml, split.json, genotype.json or
  loss_weights.json;
* **finished**: a search whose results are written is not reopened;
* **settings**: the saved ``config.yaml`` is compared with this command's (sections
  :data:`SECTIONS`, except :data:`FREE_KEYS`). Keys in :data:`FIXED` can never change (the saved
  state could not follow them); other changes need ``--allow-changes`` and are appended to
  ``resume_changes.json``. Allowed changes are applied: the data is read again and the
  optimisers take this config's settings over the checkpoint's (``search.loop``).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hadamard_restore.artifacts import read_json, write_json
from hadamard_restore.config import config_changes as shared_changes
from hadamard_restore.errors import CheckpointError

MARKER = "search_run.json"
CHANGES_FILE = "resume_changes.json"
LOCK = ".hadamard-restore.lock"
SECTIONS = ("task", "seed", "data", "net", "loss", "classifier", "search")
FREE_KEYS = frozenset({"search.loss_steps", "search.arch_steps", "search.checkpoint_every", "search.log_every"})
#: sections and keys the saved state (network, β, classifier, random streams) is bound to
FIXED_SECTIONS = ("task", "seed", "net", "loss", "classifier")
FIXED = frozenset(
    {
        "search.mode",
        "search.loss_model",
        "search.beta_param",
        "search.upper",
        "search.alternations",
        "search.architecture",
    }
)
#: the files of a run of each command (runs made before MARKER existed are recognised by them)
OWN_FILES = {
    "search-loss": ("checkpoint.pt", "search_loss.json", "search_split.json", "classifier"),
    "search-arch": ("checkpoint.pt", "search_arch.json", "search_split.json"),
    "search": ("loss", "arch", "round1", "checkpoint.pt", "search_joint.json", "search_split.json", "classifier"),
}
#: what a finished run holds
FINISHED = {
    "search-loss": ("search_loss.json",),
    "search-arch": ("search_arch.json",),
    "search": ("search_joint.json", "genotype.json"),
}
FOREIGN = ("model.pt", "last.pt")


class SearchResumeError(CheckpointError):
    """``--resume`` was pointed at a run it must not continue, or with settings it cannot take."""


def search_changes(old_yaml: str, new_yaml: str) -> list[dict]:
    """``[{key, checkpoint, now}]`` for every compared key that differs between two dumped configs."""
    return shared_changes(old_yaml, new_yaml, SECTIONS, FREE_KEYS)


def _fixed(key: str) -> bool:
    return key in FIXED or key.split(".")[0] in FIXED_SECTIONS


def _owner(run_dir: Path) -> str | None:
    marker = run_dir / MARKER
    try:
        return str(read_json(marker).get("command")) if marker.is_file() else None
    except (ValueError, AttributeError):
        return "unknown"


def check_ownership(run_dir: Path, command: str) -> bool:
    """Whether ``run_dir`` holds a run to continue (False: empty or new, start it afresh).

    Raises:
        SearchResumeError: another command's run, or a finished one.
    """
    entries = [p.name for p in run_dir.iterdir() if p.name != LOCK] if run_dir.is_dir() else []
    if not entries:
        return False
    owner, foreign = _owner(run_dir), [n for n in FOREIGN if n in entries]
    own = any(name in entries for name in OWN_FILES[command])
    if (owner is not None and owner != command) or foreign or (owner is None and not own):
        made_by = f"a run of `{owner}`" if owner and owner != command else "not a run of this command"
        held = ", ".join(foreign or sorted(entries)[:4])
        raise SearchResumeError(
            f"--resume: {run_dir} is {made_by} (it holds {held}); `{command} --resume` continues only "
            "a run that it started itself and never rewrites another command's files. Nothing was "
            "written. Choose another --out (or the --out of the search to continue)"
        )
    done = [name for name in FINISHED[command] if name in entries]
    if done:
        raise SearchResumeError(
            f"--resume: the search in {run_dir} is finished ({done[0]} is written); there is nothing to "
            "continue and it is not reopened. To search again (e.g. with more steps) choose another --out"
        )
    return True


def check_search_resume(run_dir: str | Path, command: str, config_yaml: str, allow_changes: bool) -> list[dict]:
    """Check a resume of ``command`` into ``run_dir`` (reads only); returns the allowed changes.

    Raises:
        SearchResumeError: another command's or a finished run; a fixed setting changed; other
            changes without ``allow_changes``.
    """
    run_dir = Path(run_dir)
    if not check_ownership(run_dir, command) or not (run_dir / "config.yaml").is_file():
        return []
    changes = search_changes((run_dir / "config.yaml").read_text(), config_yaml)
    fixed = [c for c in changes if _fixed(c["key"])]
    if fixed:
        raise SearchResumeError(
            f"--resume: the search in {run_dir} was started with {_format(fixed, 'checkpoint')}, this "
            f"command asks for {_format(fixed, 'now')}; its saved state cannot follow that change, even "
            "with --allow-changes. Resume with the run's own config.yaml, or search into another --out"
        )
    if changes and not allow_changes:
        raise SearchResumeError(
            f"--resume would change the search in {run_dir}: {_format(changes, 'checkpoint')} -> "
            f"{_format(changes, 'now')}. Nothing was written. Resume with the run's own settings (its "
            f"config.yaml), or pass --allow-changes to continue with them, recorded in {CHANGES_FILE}"
        )
    return changes


def _short(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (dict, list)) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _format(changes: list[dict], side: str) -> str:
    return ", ".join(f"{c['key']}={_short(c[side])}" for c in changes)


def mark_run(run_dir: Path, command: str, changes: list[dict]) -> None:
    """Write :data:`MARKER` for a new run, and append allowed changes to :data:`CHANGES_FILE`."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if not (run_dir / MARKER).is_file():
        write_json(run_dir / MARKER, {"command": command, "started": now})
    if changes:
        path = run_dir / CHANGES_FILE
        history = read_json(path) if path.is_file() else []
        history.append({"time": now, "command": command, "changes": changes})
        write_json(path, history)
