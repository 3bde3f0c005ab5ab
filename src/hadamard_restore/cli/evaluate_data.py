"""``evaluate``'s data options: ``--data/--layout/--degraded-dir/--reference-dir/--split``, or the same
keys of the config's data section with ``--set data.KEY=VALUE``; a bundled model's held-out split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hadamard_restore.cli.app import UserError
from hadamard_restore.config import RunConfig
from hadamard_restore.evaluation.selection import ModelSplit
from hadamard_restore.zoo.registry import heldout_split_path, read_card

#: data.KEY -> the evaluate option that sets the same thing
EVALUATE_DATA_KEYS = {
    "root": "--data",
    "layout": "--layout",
    "degraded_dir": "--degraded-dir",
    "reference_dir": "--reference-dir",
    "split_file": "--split",
}


def data_options(cfg: RunConfig, overrides: list[str] | None, given: dict[str, Any]) -> dict[str, Any]:
    """The data options of ``evaluate``: ``given`` (``{data key: command-line value or None}``)
    completed by the ``--set data.KEY=...`` overrides already applied to ``cfg``.

    Raises:
        UserError: a ``data.*`` key evaluate does not use, or a key given both ways.
    """
    keys = [item.split("=", 1)[0].strip() for item in overrides or []]
    set_keys = {k.split(".", 1)[1] for k in keys if k.startswith("data.")}
    known = ", ".join(f"data.{k} ({o})" for k, o in EVALUATE_DATA_KEYS.items())
    for key in sorted(set_keys):
        if key not in EVALUATE_DATA_KEYS:
            raise UserError(
                f"evaluate does not use --set data.{key}: it scores the pairs of one folder (all of them, the "
                f"validation part of a split, or a bundled model's held-out split); its data keys are {known}"
            )
    merged = {}
    for key, option in EVALUATE_DATA_KEYS.items():
        if key in set_keys and given[key] is not None:
            raise UserError(f"{option} and --set data.{key} both given; give one of them")
        merged[key] = getattr(cfg.data, key) if key in set_keys else given[key]
    if merged["root"] is None:
        raise UserError("give the folder of paired images: --data FOLDER (or --set data.root=FOLDER)")
    return merged


def model_split(model: str) -> ModelSplit:
    """A bundled model's held-out split and the name of its dataset (from its card)."""

    data = read_card(model).get("data") or {}
    where = f"{data.get('dataset', 'its dataset')}, {data['path']}" if data.get("path") else data.get("dataset")
    return ModelSplit(Path(heldout_split_path(model)), model, where or "its training data")
