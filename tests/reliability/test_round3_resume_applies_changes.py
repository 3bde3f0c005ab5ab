"""Round 3: ``train --resume --allow-changes`` applies every change it records: a new
``train.lr`` is the lr the optimizer uses from the next step on (param groups and scheduler base
lrs), not only a line in resume_changes.json; a change the saved state cannot follow (another
optimizer) is refused."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.training.lr_schedule import LrFactor

runner = CliRunner()


@pytest.fixture
def finished_run(config_file, tmp_path):
    run = tmp_path / "run"
    res = runner.invoke(app, ["train", str(config_file), "--out", str(run)])
    assert res.exit_code == 0, res.output
    return run


def test_a_new_lr_allowed_on_resume_is_the_lr_used(config_file, finished_run):
    res = runner.invoke(
        app,
        ["train", str(config_file), "--out", str(finished_run), "--resume", "--allow-changes"]
        + ["--set", "train.lr=0.01", "--set", "train.steps=6"],
    )
    assert res.exit_code == 0, res.output
    recorded = json.loads((finished_run / "resume_changes.json").read_text())[-1]["changes"]
    assert {"key": "train.lr", "checkpoint": 0.003, "now": 0.01} in recorded

    factor = LrFactor("cosine", 6, 0)
    logged = {r["step"]: r["lr"] for r in json.loads((finished_run / "history.json").read_text())["train"]}
    for step in (5, 6):  # logged after the optimizer step that used it
        assert logged[step] == pytest.approx(0.01 * factor(step - 1), rel=1e-9), logged
    assert logged[4] < 0.003  # the first four steps ran with the old lr

    state = torch.load(finished_run / "last.pt", weights_only=True)["training"]
    assert [g["initial_lr"] for g in state["optimizer"]["param_groups"]] == [0.01]
    assert state["scheduler"]["base_lrs"] == [0.01]


def test_another_optimizer_on_resume_is_refused(config_file, finished_run):
    before = (finished_run / "last.pt").read_bytes()
    res = runner.invoke(
        app,
        ["train", str(config_file), "--out", str(finished_run), "--resume", "--allow-changes"]
        + ["--set", "train.optimizer=sgd", "--set", "train.steps=6"],
    )
    assert res.exit_code == 2 and "train.optimizer" in res.output and "another --out" in res.output, res.output
    assert (finished_run / "last.pt").read_bytes() == before
    assert not (finished_run / "resume_changes.json").exists()
