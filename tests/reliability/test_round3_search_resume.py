"""Round 3: ``search-loss`` / ``search-arch --resume`` continue only their own unfinished run, with
its settings: another command's run (a finished training run) or a finished search is refused with
its files untouched, and changed settings are refused unless ``--allow-changes``, which records
and applies them (the optimiser's lr included)."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from hadamard_restore.cli.app import app

runner = CliRunner()
TOY = ["--set", "search.crop=16", "--set", "search.upper=reference", "--set", "search.checkpoint_every=1"]
TOY += ["--set", "search.loss_steps=2", "--set", "search.arch_steps=2"]


def _snapshot(folder) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def train_run(config_file, tmp_path):
    run = tmp_path / "trained"
    res = runner.invoke(app, ["train", str(config_file), "--out", str(run)])
    assert res.exit_code == 0, res.output
    assert {"model.pt", "config.yaml", "split.json"} <= {p.name for p in run.iterdir()}
    return run


@pytest.mark.parametrize("command", ["search-arch", "search-loss"])
def test_resume_into_a_finished_training_run_is_refused_and_its_records_kept(command, config_file, train_run):
    before = _snapshot(train_run)
    res = runner.invoke(app, [command, str(config_file), "--out", str(train_run), "--resume", *TOY])
    assert res.exit_code == 2 and "not a run of this command" in res.output and "model.pt" in res.output, res.output
    assert "Traceback" not in res.output
    assert _snapshot(train_run) == before  # config.yaml, split.json, model.pt ... byte for byte


def _interrupted(monkeypatch, config_file, run, command="search-arch"):
    """A run of ``command`` stopped after its first step (as if killed), checkpoint.pt written."""
    import hadamard_restore.search.stage as stage
    from hadamard_restore.search.loop import run_bilevel

    real = run_bilevel
    with monkeypatch.context() as m:
        m.setattr(stage, "run_bilevel", lambda *a: real(*a[:-1], 1))  # stop_after=1
        res = runner.invoke(app, [command, str(config_file), "--out", str(run), *TOY])
    assert res.exit_code == 0 and (run / "checkpoint.pt").is_file(), res.output
    assert not (run / f"search_{command.split('-')[1]}.json").exists()


def test_resume_into_another_search_commands_run_is_refused(monkeypatch, config_file, tmp_path):
    run = tmp_path / "arch"
    _interrupted(monkeypatch, config_file, run)
    before = _snapshot(run)
    res = runner.invoke(app, ["search-loss", str(config_file), "--out", str(run), "--resume", *TOY])
    assert res.exit_code == 2 and "a run of `search-arch`" in res.output, res.output
    assert _snapshot(run) == before


def test_changed_settings_are_refused_then_recorded_and_applied(monkeypatch, config_file, tmp_path):
    run = tmp_path / "arch"
    _interrupted(monkeypatch, config_file, run)
    before = _snapshot(run)
    changed = [*TOY, "--set", "search.upper_lr=0.05"]
    res = runner.invoke(app, ["search-arch", str(config_file), "--out", str(run), "--resume", *changed])
    assert res.exit_code == 2 and "search.upper_lr=0.0005 -> search.upper_lr=0.05" in res.output, res.output
    assert "--allow-changes" in res.output and _snapshot(run) == before

    res = runner.invoke(
        app, ["search-arch", str(config_file), "--out", str(run), "--resume", "--allow-changes", *changed]
    )
    assert res.exit_code == 0 and (run / "search_arch.json").is_file(), res.output
    assert (run / "alpha_probabilities.png").is_file()  # drawn by the command from the finished stage
    record = json.loads((run / "resume_changes.json").read_text())[-1]
    assert record["changes"] == [{"key": "search.upper_lr", "checkpoint": 0.0005, "now": 0.05}]
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert state["step"] == 2 and [g["lr"] for g in state["upper_opt"]["param_groups"]] == [0.05]

    finished = _snapshot(run)
    res = runner.invoke(
        app, ["search-arch", str(config_file), "--out", str(run), "--resume", "--allow-changes", *changed]
    )
    assert res.exit_code == 2 and "is finished" in res.output and "not reopened" in res.output, res.output
    assert _snapshot(run) == finished


def test_a_fixed_setting_is_refused_even_with_allow_changes(monkeypatch, config_file, tmp_path):
    run = tmp_path / "arch"
    _interrupted(monkeypatch, config_file, run)
    before = _snapshot(run)
    args = [*TOY, "--set", "search.mode=joint", "--allow-changes", "--resume"]
    res = runner.invoke(app, ["search-arch", str(config_file), "--out", str(run), *args])
    assert res.exit_code == 2 and "search.mode" in res.output and "cannot follow" in res.output, res.output
    assert _snapshot(run) == before
