"""The ledger of :mod:`benchmarks.studies.budget_curves`: one small JSON per finished cell, per machine.

Layout under the ledger root (``benchmarks/results/studies/cells`` by default)::

    <machine-tag>/<task>/heldout.json            pinned held-out split (test pairs: scored only)
    <machine-tag>/<task>/dev.json                its training part, split again (train / dev)
    <machine-tag>/<task>/input.json              input-vs-reference metrics of the held-out pairs
    <machine-tag>/<task>/searches/<variant>/     the search artifacts the cells trained with
    <machine-tag>/<task>/<entry>/b<budget>-s<seed>.json   one finished cell

A machine tag names the hardware (``gpu-nvidia-h100-80gb-hbm3``, ``cpu-amd-epyc-7b13-2core``);
every cell also records it, and :func:`load_cells` refuses a folder whose cells name another
machine, so cells from different machines are never compared with each other.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

from benchmarks.timing import cpu_family, cpu_flags, cpu_model

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LEDGER = ROOT / "benchmarks" / "results" / "studies" / "cells"


class LedgerError(RuntimeError):
    """The ledger holds something this run must not mix with its own results."""


def _slug(text: str) -> str:
    text = re.sub(r"\(r\)|\(tm\)|cpu @.*|processor", "", text.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def machine() -> dict:
    """The hardware a cell ran on: its tag, the CPU model, generation, speed-relevant flags and cores,
    the GPU name (or None). The tag names the model and cores only, so two generations sold under
    one name ("AMD EPYC") share a ledger folder; ``cpu_family`` and ``cpu_flags`` tell them apart."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    cpu, cores = cpu_model(), os.cpu_count() or 0
    tag = f"gpu-{_slug(gpu)}" if gpu else f"cpu-{_slug(cpu)}-{cores}core"
    return {
        "tag": tag,
        "cpu": cpu,
        "cpu_family": cpu_family(),
        "cpu_flags": cpu_flags(),
        "cores": cores,
        "gpu": gpu,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def code_commit(root: Path = ROOT) -> str:
    """``git rev-parse HEAD`` of the repository (``+dirty`` when tracked files differ), or unknown.
    Files under ``benchmarks/results`` do not count: the studies write their reports there, and a
    report written by one cell must not mark the next cell's code as changed."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)benchmarks/results"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def settings_key(settings: dict) -> str:
    """A short hash of everything that must match for two cells to be comparable."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def task_dir(ledger: Path, tag: str, task: str) -> Path:
    return Path(ledger) / tag / task


def cell_path(ledger: Path, tag: str, task: str, entry: str, budget: int, seed: int) -> Path:
    return task_dir(ledger, tag, task) / entry / f"b{budget}-s{seed}.json"


def finished(path: Path, key: str) -> bool:
    """Whether the cell at ``path`` is done; a cell made with other settings is an error."""
    if not path.is_file():
        return False
    cell = json.loads(path.read_text())
    if cell.get("settings_key") != key:
        raise LedgerError(
            f"{path} was made with other settings (key {cell.get('settings_key')}, this run {key}); "
            "use another --ledger folder for other settings, or delete the stale cells"
        )
    return True


def load_cells(ledger: Path, tag: str) -> list[dict]:
    """Every cell of one machine (sorted by task, entry, budget, seed).

    Raises:
        LedgerError: a cell in this machine's folder records another machine.
    """
    cells = []
    for path in sorted((Path(ledger) / tag).glob("*/*/b*-s*.json")):
        cell = json.loads(path.read_text())
        if cell.get("machine", {}).get("tag") != tag:
            raise LedgerError(
                f"{path} records machine {cell.get('machine', {}).get('tag')!r}, not {tag!r}: "
                "cells from different machines are never mixed; move it to its own folder"
            )
        cells.append(cell)
    return sorted(cells, key=lambda c: (c["task"], c["entry"], c["budget"], c["seed"]))


def machine_tags(ledger: Path) -> list[str]:
    """The machine folders of a ledger that hold at least one cell."""
    root = Path(ledger)
    return (
        sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*/*/b*-s*.json"))) if root.is_dir() else []
    )
