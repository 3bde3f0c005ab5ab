"""Helpers for the reliability tests: the toy run config."""

from __future__ import annotations

from pathlib import Path


def run_config(root: Path, genotype: Path, loss_weights: Path, out_dir: Path, **train) -> dict:
    t = dict(steps=4, batch_size=2, crop=16, lr=3e-3, val_every=2, checkpoint_every=2, log_every=1, amp=False)
    t.update(train)
    return {
        "name": "toy",
        "seed": 1,
        "device": "cpu",
        "out_dir": str(out_dir),
        "data": {"source": "folder", "root": str(root), "layout": "paired", "val_ratio": 0.34, "group_key": "none"},
        "net": {"channels": 4, "num_hnu": 1, "genotype": str(genotype)},
        "loss": {"weights": str(loss_weights)},
        "train": t,
    }
