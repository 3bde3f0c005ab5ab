"""benchmarks.studies.stage1_study: the collapse margins and the table are computed from the β trajectory."""

from __future__ import annotations

import json

import pytest

from benchmarks.studies.stage1_study import summarise, write_table


def _summary(traj):
    rows = [{"step": i + 1, **{f"beta/{k}": v for k, v in b.items()}} for i, b in enumerate(traj)]
    return {"beta_trajectory": rows, "classifier": {"accuracy": 0.9}, "final": {"loss/upper": 0.25}}


def test_margins_follow_the_trajectory(tmp_path):
    traj = [{"l1": 1.0, "ssim": 1.0}, {"l1": 0.2, "ssim": 0.1}, {"l1": 0.9, "ssim": 0.0}]
    row = summarise("lol", "projected", _summary(traj), tmp_path)
    assert row["min_total"] == pytest.approx(0.3)  # step 2: 0.2 + 0.1
    assert row["min_largest"] == pytest.approx(0.2)  # never all zero: the largest weight stays >= 0.2
    assert row["beta_end"] == {"l1": 0.9, "ssim": 0.0} and row["largest_end"].startswith("l1 0.90")
    assert row["judge_accuracy"] == 0.9 and row["upper_end"] == 0.25 and row["steps"] == 3


def test_a_collapse_shows_as_zero_and_the_table_is_written(tmp_path):
    traj = [{"l1": 1.0, "ssim": 1.0}, {"l1": 0.0, "ssim": 0.0}]
    rows = [summarise("sots", v, _summary(traj), tmp_path) for v in ("projected", "reference")]
    assert rows[0]["min_largest"] == 0.0
    out = write_table(rows, tmp_path / "study.md", tmp_path / "study")
    text = out.read_text()
    assert "| sots | projected | 2 | 0.900 |" in text and "| sots | reference | 2 | — |" in text
    json.dumps(rows)  # the rows are what main() stores as JSON


def test_plan_runs_judged_variants_per_judge_and_the_reference_once():
    from benchmarks.studies.stage1_study import plan

    got = plan(["projected", "reference", "softmax"], ["resnet18", "vgg16-features"])
    assert got == [
        ("projected", "resnet18"),
        ("projected", "vgg16-features"),
        ("reference", "resnet18"),
        ("softmax", "resnet18"),
        ("softmax", "vgg16-features"),
    ]


def test_scalar_medians_read_the_stage_events(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    from benchmarks.studies.stage1_study import scalar_medians

    assert scalar_medians(tmp_path) == {}
    with SummaryWriter(str(tmp_path / "tensorboard")) as w:
        for step, value in enumerate([0.5, 3.0, 0.001, 2.0, 0.25], start=1):
            w.add_scalar("loss/upper", value, step)
    got = scalar_medians(tmp_path)
    assert set(got) == {"loss/upper"} and got["loss/upper"] == pytest.approx(0.5)
