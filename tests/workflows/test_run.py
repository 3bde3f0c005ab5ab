"""run(): every stage in one run directory and a complete report (a tiny end-to-end run)."""

from __future__ import annotations

import json
import re

import pytest

from hadamard_restore.config import config_from_dict
from hadamard_restore.reporting.report import SECTIONS
from hadamard_restore.workflows.run import run
from tests.tiny import tiny_config


@pytest.mark.slow
def test_run_produces_every_artifact_and_the_report(tmp_path, tiny_pairs):
    tree = tiny_config(tiny_pairs, steps=4, val_every=2, checkpoint_every=2, crop=32)  # LPIPS needs >= 31 px
    tree["data"] = {"source": "demo", "val_ratio": 0.3, "demo": {"size": 40, "crops_per_image": 1}}
    tree["net"] = {"channels": 4, "num_hnu": 1}
    tree["classifier"] = {"arch": "resnet18", "pretrained": False, "steps": 2, "batch_size": 4, "crop": 16}
    tree["search"] = {
        "loss_steps": 2,
        "arch_steps": 2,
        "crop": 32,
        "batch_size": 1,
        "checkpoint_every": 1,
        "log_every": 1,
    }
    tree["eval"] = {"grid_images": 2}
    report = run(config_from_dict(tree), tmp_path / "run")
    run_dir = tmp_path / "run"
    assert report == run_dir / "report.md"
    for rel in (
        "config.yaml",
        "search/loss_weights.json",
        "search/genotype.json",
        "train/model.pt",
        "train/last.pt",
        "train/history.json",
        "eval/metrics.json",
        "eval/grid.png",
        "run_summary.json",
    ):
        assert (run_dir / rel).is_file(), rel
    trained = json.loads((run_dir / "train" / "genotype.json").read_text())
    searched = json.loads((run_dir / "search" / "genotype.json").read_text())
    assert trained["layers"] == searched["layers"]  # training used the searched architecture
    lw_t = json.loads((run_dir / "train" / "loss_weights.json").read_text())["weights"]
    lw_s = json.loads((run_dir / "search" / "loss_weights.json").read_text())["weights"]
    assert lw_t == pytest.approx(lw_s)  # ... and the searched loss
    wall = json.loads((run_dir / "run_summary.json").read_text())["wall_s"]
    assert set(wall) == {"classifier", "search", "train", "evaluate", "total"}
    text = report.read_text()
    assert all(s in text for s in SECTIONS) and "_No " not in text
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (run_dir / link).is_file(), link


def test_reference_upper_runs_without_a_classifier_stage(tmp_path, tiny_pairs):
    from hadamard_restore.workflows.run import stage_classifier

    tree = tiny_config(tiny_pairs)
    tree["search"] = {"upper": "reference"}
    assert stage_classifier(config_from_dict(tree), tmp_path) is None
    assert not (tmp_path / "classifier").exists(), "search.upper=reference judges nothing with a classifier"
