"""The facts of a model card, read from a ``tools/make_pretrained.py`` run directory.

A run directory holds ``heldout.json`` (pinned split; its validation part is the held-out
test set), ``dev.json``, ``classifier/``, ``search/`` (``loss_weights.json``,
``genotype.json``), ``train/`` (``model.pt``, ``train_summary.json``, ``config.yaml``),
``eval/metrics.json``, ``commands.txt`` and ``timings.json``; a fine-tune's run (``make_pretrained
--init-from``) holds ``source/`` (the bundled model it started from: ``card.json``, ``model.pt``) in
place of ``classifier/`` and ``search/``. Every function here reads some
of them and returns JSON-ready values; :mod:`.package` assembles the card.

Paths are made portable: the run directory is written ``RUN_DIR``, the data folder
``${HADAMARD_RESTORE_DATA}`` and the repository's ``configs/`` relative, so a card never
names the machine it was made on.
"""

from __future__ import annotations

import json
import os
import platform
import re
from pathlib import Path
from typing import Any

from hadamard_restore.artifacts import sha256_file
from hadamard_restore.config_yaml import load_yaml
from hadamard_restore.errors import HadamardRestoreError

DATASETS = {
    "lol-v1": "LOL-v1",
    "lol-v2": "LOL-v2",
    "reside": "RESIDE SOTS-indoor",
    "lsui": "LSUI",
    "uieb": "UIEB",
    "euvp": "EUVP",
    "paired": "paired folders",
}
REQUIRED = (
    "heldout.json",
    "dev.json",
    "train/model.pt",
    "train/train_summary.json",
    "train/config.yaml",
    "commands.txt",
    "timings.json",
)
SEARCHED = ("classifier/classifier_metrics.json", "search/loss_weights.json", "search/genotype.json")
SOURCE_CARD = (
    "source/card.json"  # a fine-tune's run (make_pretrained --init-from): the card of the model it started from
)


class PackageError(HadamardRestoreError, ValueError):
    """A run directory cannot be packaged (a stage's artifact is missing or inconsistent)."""


def _json(run_dir: Path, rel: str) -> Any:
    try:
        return json.loads((run_dir / rel).read_text())
    except (OSError, ValueError) as exc:
        raise PackageError(f"{run_dir / rel} is unreadable ({exc}); finish or re-run that stage") from None


def check_run_dir(run_dir: Path) -> None:
    """Every artifact the card needs is present, or one error listing the missing ones."""
    stages = () if (run_dir / SOURCE_CARD).is_file() else SEARCHED
    missing = [rel for rel in (*REQUIRED, *stages) if not (run_dir / rel).is_file()]
    if missing:
        raise PackageError(
            f"{run_dir} is not a finished make_pretrained run: missing {', '.join(missing)}; "
            "run `python tools/make_pretrained.py TASK --out RUN_DIR` to finish it"
        )


def fine_tune_source(run_dir: Path) -> dict | None:
    """The card of the bundled model a fine-tune run started from (``source/card.json``), or None
    for a run that searched its own loss and network."""
    return _json(run_dir, SOURCE_CARD) if (run_dir / SOURCE_CARD).is_file() else None


def init_from_facts(source: dict | None) -> dict | None:
    """Where a fine-tune's weights started (``source``: :func:`fine_tune_source`): the source model's
    name, weights sha256, summary and reproducing command (its card stays in the new card's
    ``history`` when it is replaced)."""
    if source is None:
        return None
    return {
        "model": source["name"],
        "weights_sha256": source["weights"]["sha256"],
        "summary": source["summary"],
        "reproduce": source["commands"]["reproduce"],
    }


def train_config(run_dir: Path) -> dict:
    return load_yaml((run_dir / "train" / "config.yaml").read_text())


def portable(text: str, run_dir: Path, data_root: Path | None) -> str:
    """``text`` with the run directory, data folder and repository paths made portable."""
    text = text.replace(str(run_dir), "RUN_DIR")
    if data_root is not None:
        text = text.replace(str(data_root), "${HADAMARD_RESTORE_DATA}")
    return re.sub(r"(?<![\w$}])/\S*/(configs|tools)/", r"\1/", text)


def parse_commands(text: str) -> tuple[str, list[tuple[str | None, str]]]:
    """A ``commands.txt`` text (make_pretrained's record): its header comment lines (those before
    the first stage name, newline-terminated) and its ``(stage, command)`` pairs in order."""
    header, stages, name = "", [], None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("# ") and " " not in line[2:] and not line.endswith(":"):
            name = line[2:]
        elif line.startswith("#") and name is None:
            header += line + "\n"
        elif line and not line.startswith("#"):
            stages.append((name, line))
    return header, stages


def commands(run_dir: Path, task: str, data_root: Path | None) -> dict:
    """The one reproducing command and every stage command of ``commands.txt``, in order.

    The reproducing command is ``reproduce.txt`` (make_pretrained's own invocation, with its
    ``--train-set`` overrides) when the run has one, else the plain ``make_pretrained`` call.
    The run directory is recognised where it was when the commands ran (the ``# held-out
    split:`` header line names it), so a moved run directory is made portable too.
    """
    text = (run_dir / "commands.txt").read_text()
    original = re.search(r"^# held-out split: (\S+)/heldout\.json", text, re.MULTILINE)
    if original and original.group(1) != str(run_dir):
        text = text.replace(original.group(1), str(run_dir))
    stages = [
        {"stage": name, "command": portable(command, run_dir, data_root)} for name, command in parse_commands(text)[1]
    ]
    invocation = run_dir / "reproduce.txt"
    reproduce = (
        invocation.read_text().strip()
        if invocation.is_file()
        else f"python tools/make_pretrained.py {task} --out RUN_DIR"
    )
    return {"reproduce": reproduce, "stages": stages}


def split_facts(run_dir: Path, data_root: Path | None) -> dict:
    """The pinned split: sha256, how it was made, counts and the held-out pair names."""
    held, dev = _json(run_dir, "heldout.json"), _json(run_dir, "dev.json")
    root = Path(held.get("root", ""))
    try:
        rel = root.relative_to(data_root).as_posix() if data_root is not None else root.name
    except ValueError:
        rel = root.name
    return {
        "dataset": DATASETS.get(held.get("layout"), held.get("layout")),
        "layout": held.get("layout"),
        "path": f"${{HADAMARD_RESTORE_DATA}}/{rel}",
        "split": {
            "file": "heldout.json",
            "sha256": sha256_file(run_dir / "heldout.json"),
            "seed": held.get("seed"),
            "val_ratio": held.get("val_ratio"),
            "group_key": held.get("group_key"),
            "train_pairs": len(held["train"]),
            "heldout_pairs": len(held["val"]),
            "heldout": [{"degraded": e["degraded"], "reference": e["reference"]} for e in held["val"]],
        },
        "development_split": {
            "sha256": sha256_file(run_dir / "dev.json"),
            "seed": dev.get("seed"),
            "train_pairs": len(dev["train"]),
            "validation_pairs": len(dev["val"]),
            "note": "the training part of heldout.json split again by groups; its validation "
            "part picks the best checkpoint, the held-out pairs are never seen",
        },
    }


def loss_facts(run_dir: Path, source: dict | None) -> dict:
    """The loss weights the training used (its own copy, ``train/loss_weights.json``; runs from
    before it kept one trained with the search's), and the searched ones where they differ
    (``tools/make_pretrained.py`` trains with the searched TV and Laplacian set to 0). A fine-tune
    searched nothing: its source's (``source``: :func:`fine_tune_source`) searched weights are given
    where they differ."""
    if source is not None:
        searched = {"weights": source["loss"].get("searched_weights") or source["loss"]["weights"]}
    else:
        searched = _json(run_dir, "search/loss_weights.json")
    trained = _json(run_dir, "train/loss_weights.json") if (run_dir / "train/loss_weights.json").is_file() else searched
    vgg = trained.get("vgg") or {}
    facts = {
        "weights": trained.get("weights"),
        "vgg_layers": vgg.get("layers"),
        "vgg_backbone": vgg.get("backbone"),
        "lpips_net": (trained.get("lpips") or {}).get("net"),
    }
    if trained.get("weights") != searched.get("weights"):
        facts["searched_weights"] = searched.get("weights")
    return facts


def classifier_facts(run_dir: Path, source: dict | None) -> dict:
    """The stage-1 classifier's accuracy and budget (a fine-tune's: its ``source``'s, which judged
    the search of the loss it trains with)."""
    if source is not None:
        return dict(source["classifier"])
    m = _json(run_dir, "classifier/classifier_metrics.json")
    keys = ("accuracy", "accuracy_clear", "accuracy_degraded", "images", "arch", "init", "steps", "crop")
    return {k: m.get(k) for k in keys}


def machine(run_dir: Path, override: str | None = None) -> dict:
    """What trained it: ``--machine`` text, else ``RUN_DIR/machine.json``, else this machine's CPU."""
    if override:
        return {"description": override}
    if (run_dir / "machine.json").is_file():
        return _json(run_dir, "machine.json")
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = os.cpu_count()
    return {"description": f"CPU: {cpu}, {cores} cores, no GPU", "cpu": cpu, "cores": cores, "gpu": None}


def notes(run_dir: Path) -> str | None:
    """``RUN_DIR/notes.md`` (one paragraph: what limited the model, what would improve it), if any."""
    path = run_dir / "notes.md"
    return " ".join(path.read_text().split()) if path.is_file() else None


def budget(run_dir: Path, machine_facts: dict, source: dict | None) -> dict:
    """Steps and sizes of every stage, wall time per stage (timings.json) and the machine (a
    fine-tune's classifier and search budgets: its ``source``'s)."""
    cfg, summary = train_config(run_dir), _json(run_dir, "train/train_summary.json")
    search_cfg = run_dir / "search" / "config.yaml"
    scfg = load_yaml(search_cfg.read_text()) if search_cfg.is_file() else {}
    t, s = cfg.get("train", {}), scfg.get("search", {})
    searched = (
        {k: source["budget"].get(k) for k in ("classifier_steps", "search")}
        if source is not None
        else {
            "classifier_steps": _json(run_dir, "classifier/classifier_metrics.json").get("steps"),
            "search": {k: s.get(k) for k in ("loss_steps", "arch_steps", "crop", "batch_size")}
            | {"channels": scfg.get("net", {}).get("channels")},
        }
    )
    return {
        **searched,
        "train": {
            k: t.get(k)
            for k in ("steps", "batch_size", "crop", "optimizer", "lr", "schedule", "warmup_steps", "ema_decay")
        },
        "best_step": summary.get("best_step"),
        "dev_val_psnr": summary.get("best_val_psnr"),
        "dev_val_curve": [
            [e["step"], round(e["psnr"], 2)] for e in _json(run_dir, "train/history.json").get("val", [])
        ],
        "wall_seconds": _json(run_dir, "timings.json"),
        "machine": machine_facts,
    }
