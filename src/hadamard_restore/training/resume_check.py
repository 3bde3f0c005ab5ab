"""``train --resume``: check everything against the checkpoint before anything is written.

A resumed run must be the run that was started. :func:`check_resume` reads ``last.pt`` and
compares it with what this command would train:

* the **network** (genotype and ``net`` settings): a change can never be resumed (the weights
  would not fit), so it is refused, naming the genotype the checkpoint holds;
* the **loss weights** and the **run-defining config** (``seed``, ``task``, ``data``, ``net``,
  ``loss`` and ``train`` except the keys in :data:`FREE_KEYS`, which only extend or observe the
  run): a change is refused unless the user asks for it (``--allow-changes``); then every
  change is returned so that :func:`record_changes` writes it to ``resume_changes.json``.

When no genotype or loss weights are passed to a resume, the checkpoint's own are used.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hadamard_restore.artifacts import read_json, write_json
from hadamard_restore.config import config_changes as shared_changes
from hadamard_restore.errors import CheckpointError
from hadamard_restore.losses.loss_weights import LossWeights
from hadamard_restore.net.genotype import Genotype
from hadamard_restore.net.model_file import genotype_to_dict, loss_weights_to_dict
from hadamard_restore.training.state import load_training_state

RUN_SECTIONS = ("task", "seed", "data", "net", "loss", "train")
FREE_KEYS = frozenset(
    {"train.steps", "train.val_every", "train.checkpoint_every", "train.log_every", "net.genotype", "loss.weights"}
)  # the last two are compared by content
CHANGES_FILE = "resume_changes.json"
#: settings whose saved state a resume cannot carry over to another value (refused even with
#: --allow-changes); every other allowed change is applied (``trainer.apply_settings``)
FIXED_KEYS = frozenset({"train.optimizer"})


class ResumeMismatchError(CheckpointError):
    """``--resume`` was asked to continue a run with other settings than it was started with."""


def config_changes(old_yaml: str, new_yaml: str) -> list[dict]:
    """``[{key, checkpoint, now}]`` for every run-defining config key that differs between two
    dumped configs (``config.dump_config`` text)."""
    return shared_changes(old_yaml, new_yaml, RUN_SECTIONS, FREE_KEYS)


def _describe_genotype(geno: dict) -> str:
    name = geno.get("name") or "unnamed"
    return f"'{name}' ({geno.get('num_hnu', '?')} HNUs)"


def stored_choices(run_dir: str | Path) -> tuple[dict, dict]:
    """``(genotype, loss_weights)`` dicts stored in ``run_dir/last.pt`` (for a resume that names neither)."""
    meta = load_training_state(_last(run_dir))["meta"]
    return meta["genotype"], meta["loss_weights"]


def _last(run_dir: str | Path) -> Path:
    last = Path(run_dir) / "last.pt"
    if not last.is_file():
        raise CheckpointError(
            f"--resume: {last} does not exist; nothing to resume in {run_dir} "
            "(start without --resume, or pass the --out of the run to continue)"
        )
    return last


def check_resume(
    run_dir: str | Path, genotype: Genotype, loss_weights: LossWeights, config_yaml: str, allow_changes: bool = False
) -> list[dict]:
    """Compare this command with ``run_dir/last.pt``; reads only, writes nothing.

    ``config_yaml`` is this command's resolved config as ``config.dump_config`` writes it.

    Returns:
        The changes the user allowed (empty when nothing changed).

    Raises:
        ResumeMismatchError: another network (always), or other loss weights / config without
            ``allow_changes``. The message names what the checkpoint holds.
    """
    last = _last(run_dir)
    blob = load_training_state(last)
    meta, step = blob["meta"], blob["training"].get("step")
    geno_now = genotype_to_dict(genotype)
    if meta["genotype"].get("layers") != geno_now.get("layers") or meta["genotype"].get("num_hnu") != geno_now.get(
        "num_hnu"
    ):
        raise ResumeMismatchError(
            f"--resume: {last} holds genotype {_describe_genotype(meta['genotype'])}, but this command asks "
            f"for genotype {_describe_genotype(geno_now)}; a run's network cannot change. Resume without "
            "--genotype to continue it with its own, or train the new genotype into another --out"
        )
    changes = config_changes(meta.get("config", ""), config_yaml)
    lw_now = loss_weights_to_dict(loss_weights)
    lw_was, lw_now = _weights_only(meta["loss_weights"]), _weights_only(lw_now)
    if json.dumps(lw_was, sort_keys=True) != json.dumps(lw_now, sort_keys=True):
        changes.insert(0, {"key": "loss_weights", "checkpoint": lw_was, "now": lw_now})
    net_changes = [c for c in changes if c["key"].startswith("net.")]
    if net_changes:
        raise ResumeMismatchError(
            f"--resume: {last} was trained with {_format(net_changes, 'checkpoint')}, "
            f"this command asks for {_format(net_changes, 'now')}; a run's network "
            "cannot change. Use the run's own config, or train into another --out"
        )
    fixed = [c for c in changes if c["key"] in FIXED_KEYS]
    if fixed:
        raise ResumeMismatchError(
            f"--resume: {last} holds the state of {_format(fixed, 'checkpoint')}, this command asks for "
            f"{_format(fixed, 'now')}; that state cannot continue under another setting, even with "
            "--allow-changes. Resume with the run's own setting, or train into another --out"
        )
    if changes and not allow_changes:
        raise ResumeMismatchError(
            f"--resume would change the run in {run_dir} (at step {step}): "
            + "; ".join(f"{c['key']}: {_short(c['checkpoint'])} -> {_short(c['now'])}" for c in changes)
            + ". Nothing was written. Resume with the run's own settings (its config.yaml), or pass "
            "--allow-changes to continue with these changes recorded in " + CHANGES_FILE
        )
    return changes


def _weights_only(lw: dict) -> dict:
    """The part of a loss_weights.json that defines the loss: β per term, the VGG and LPIPS choices."""
    return {k: lw[k] for k in ("weights", "vgg", "lpips") if k in lw} or lw


def _short(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (dict, list)) else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _format(changes: list[dict], side: str) -> str:
    return ", ".join(f"{c['key']}={_short(c[side])}" for c in changes)


def record_changes(run_dir: str | Path, changes: list[dict]) -> Path | None:
    """Append the allowed changes to ``run_dir/resume_changes.json`` (nothing when there are none)."""
    if not changes:
        return None
    step = load_training_state(_last(run_dir))["training"].get("step")
    path = Path(run_dir) / CHANGES_FILE
    history = read_json(path) if path.is_file() else []
    history.append(
        {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "resumed_at_step": step, "changes": changes}
    )
    return write_json(path, history)
