"""Class 4: a resume is checked against its checkpoint before anything is written; a failed
command leaves no half-made run directory."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.config import config_from_dict
from hadamard_restore.losses.loss_weights import load_loss_weights
from hadamard_restore.net.genotype import load_genotype
from hadamard_restore.training.train import train
from tests.reliability.helpers import run_config

runner = CliRunner()


@pytest.fixture
def finished_run(tmp_path, pairs, genotype_file, loss_weights_file):
    run = tmp_path / "run"
    run.mkdir()
    cfg = run_config(pairs, genotype_file, loss_weights_file, tmp_path / "runs")
    train(
        config_from_dict(cfg), run, load_genotype(genotype_file), load_loss_weights(loss_weights_file), progress=False
    )
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    return run


def _snapshot(run):
    return {p.name: p.read_bytes() for p in sorted(run.iterdir()) if p.is_file()}


def _resume_to_6_steps(config_file, run, *extra):
    """``hadamard-restore train CONFIG --out RUN --resume --set train.steps=6 EXTRA`` in this process."""
    return runner.invoke(
        app, ["train", str(config_file), "--out", str(run), "--resume", "--set", "train.steps=6", *extra]
    )


def test_resume_with_another_genotype_is_refused_before_writing(finished_run, config_file):
    before = _snapshot(finished_run)
    res = _resume_to_6_steps(config_file, finished_run, "--genotype", "paper-lol")
    assert res.exit_code == 2, res.output
    assert "holds genotype 'tiny' (1 HNUs)" in res.output and "'paper-lol'" in res.output
    assert _snapshot(finished_run) == before  # genotype.json, config.yaml, split.json untouched


@pytest.mark.parametrize(
    "change",
    [["--set", "train.crop=20"], ["--set", "train.batch_size=3"], ["--set", "seed=7"], ["--loss-weights", "equal"]],
)
def test_resume_that_would_change_the_run_is_refused(finished_run, config_file, change):
    before = _snapshot(finished_run)
    res = _resume_to_6_steps(config_file, finished_run, *change)
    assert res.exit_code == 2 and "would change the run" in res.output and "--allow-changes" in res.output, res.output
    assert _snapshot(finished_run) == before


def test_allowed_changes_are_recorded(finished_run, config_file):
    res = _resume_to_6_steps(config_file, finished_run, "--set", "train.crop=20", "--allow-changes")
    assert res.exit_code == 0, res.output
    record = json.loads((finished_run / "resume_changes.json").read_text())
    assert record[0]["resumed_at_step"] == 4
    assert record[0]["changes"] == [{"key": "train.crop", "checkpoint": 16, "now": 20}]
    assert yaml.safe_load((finished_run / "config.yaml").read_text())["train"]["crop"] == 20


def test_resume_with_the_same_settings_and_more_steps_continues(finished_run, config_file):
    res = runner.invoke(
        app, ["train", str(config_file), "--out", str(finished_run), "--resume", "--set", "train.steps=6"]
    )
    assert res.exit_code == 0, res.output
    assert not (finished_run / "resume_changes.json").exists()
    assert json.loads((finished_run / "train_summary.json").read_text())["steps"] == 6


def test_a_refused_search_leaves_no_half_made_run_directory(tmp_path, config_file):
    out = tmp_path / "search-run"
    first_order = ["--set", "search.hessian=first_order"]
    res = runner.invoke(app, ["search-loss", str(config_file), "--out", str(out), *first_order])
    assert res.exit_code == 2 and "first_order" in res.output, res.output
    assert not out.exists()
    res = runner.invoke(app, ["train", str(config_file), "--out", str(tmp_path / "t"), "--set", "train.crop=999"])
    assert res.exit_code == 2, res.output
    assert not (tmp_path / "t").exists()


def test_a_failed_command_keeps_a_folder_that_held_files_before(tmp_path, config_file):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("the user's")
    first_order = ["--set", "search.hessian=first_order"]
    res = runner.invoke(app, ["search-loss", str(config_file), "--out", str(out), *first_order])
    assert res.exit_code == 2
    assert (out / "notes.txt").read_text() == "the user's"
