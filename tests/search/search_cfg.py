"""A tiny search configuration on the built-in demo data (the demo at toy size: channels 4, one HNU, 32-pixel crops)."""

from __future__ import annotations

from pathlib import Path

from hadamard_restore.config import load_config
from hadamard_restore.jobs import search_job
from hadamard_restore.workflows.demo import TOY_SIZE

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


#: The demo at toy size, 3 steps a stage, a 2-step classifier from scratch, on the CPU.
TINY_SEARCH = (
    *TOY_SIZE,
    "search.loss_steps=3",
    "search.arch_steps=3",
    "search.checkpoint_every=2",
    "classifier.steps=2",
    "classifier.batch_size=2",
    "classifier.crop=32",
    "classifier.arch=resnet18",
    "classifier.pretrained=false",
    "device=cpu",
)


def tiny_cfg(tmp_path, *extra: str):
    return load_config(CONFIGS / "demo.yaml", [f"out_dir={tmp_path}", *TINY_SEARCH, *extra])


def tiny_job(tmp_path, *extra: str):
    """:func:`tiny_cfg` as the search takes it."""
    return search_job(tiny_cfg(tmp_path, *extra))
