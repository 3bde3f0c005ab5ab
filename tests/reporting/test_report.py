"""report.md: every section present, each linking artifacts that exist, missing parts said plainly."""

from __future__ import annotations

import json
import math
import re
import shutil

import pytest

from hadamard_restore.reporting import plots
from hadamard_restore.reporting.report import SECTIONS, write_report


@pytest.fixture
def report(tiny_run, tiny_eval, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("*.pt", "tensorboard"))
    return run, write_report(run, title="tiny")


def test_every_section_is_there_with_its_content(report):
    run, path = report
    text = path.read_text()
    positions = [text.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    lw = json.loads((run / "loss_weights.json").read_text())["weights"]
    assert f"| ssim | {lw['ssim']:.4f} |" in text
    assert "| hnu1 | Ru: " in text and "| enc | head=DIL3" in text  # paper-lol's head is a dilated conv
    m = json.loads((run / "eval" / "metrics.json").read_text())
    assert f"**{m['mean']['psnr']:.3f}**" in text and f"| input vs reference | {m['input_mean']['psnr']:.3f}" in text
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (run / link).is_file(), link
    assert {"plots/loss_weights.png", "plots/training.png", "eval/grid.png"} <= set(
        re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    )


def test_missing_artifacts_are_named(tmp_path):
    text = write_report(tmp_path).read_text()
    for s in SECTIONS:
        assert s in text
    assert "No loss_weights.json" in text and "No metrics.json" in text and "No comparison grid" in text


def test_softmax_display_matches_closed_form():
    assert plots.softmax([0.0, 0.0]) == [0.5, 0.5]
    s = plots.softmax([1.38, 0.0])
    assert s[0] == pytest.approx(math.exp(1.38) / (math.exp(1.38) + 1.0))


@pytest.mark.parametrize("layout", ["", "loss", "search/loss", "search/round2/loss"])
def test_the_beta_trajectory_of_stage_1_is_embedded(tmp_path, layout):
    stage = tmp_path / layout
    stage.mkdir(parents=True, exist_ok=True)
    (tmp_path / "loss_weights.json").write_text(json.dumps({"weights": {"l1": 1.0, "ssim": 0.5}}))
    history = [{"step": s, "beta/l1": 1.0 - 0.1 * s, "beta/ssim": 0.5 + 0.1 * s} for s in range(1, 4)]
    plots.plot_beta_history(history, ["l1", "ssim"], stage / "beta_over_steps.png")
    text = write_report(tmp_path).read_text()
    expected = (stage / "beta_over_steps.png").relative_to(tmp_path).as_posix()
    assert f"![β trajectory]({expected})" in text


def test_no_trajectory_no_embedding(tmp_path):
    (tmp_path / "loss_weights.json").write_text(json.dumps({"weights": {"l1": 1.0}}))
    assert "β trajectory" not in write_report(tmp_path).read_text()
