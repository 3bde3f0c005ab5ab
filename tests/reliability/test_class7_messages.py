"""Class 7: messages that lead somewhere, given before the model runs on any image."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from hadamard_restore.cli.app import app

runner = CliRunner()


@pytest.fixture
def no_model_run(monkeypatch):
    """Fail the test if a command gets as far as loading the model (patched where each command takes it)."""
    from hadamard_restore.evaluation import evaluate
    from hadamard_restore.inference import enhance, export

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the output path was checked")

    for module in (enhance, evaluate, export):
        monkeypatch.setattr(module, "load_model", refuse)


def test_out_equal_to_the_input_folder_says_so(model_file, tmp_path, pairs, no_model_run):
    d = tmp_path / "photos"
    shutil.copytree(pairs / "degraded", d)
    res = runner.invoke(app, ["enhance", str(model_file), str(d), "--out", str(d)])
    assert res.exit_code == 2 and "is the input folder" in res.output, res.output
    assert "no images found" not in res.output


@pytest.mark.parametrize("where", ["file", "below-a-file"])
def test_a_file_in_the_way_of_the_output_is_reported_first(model_file, tmp_path, pairs, no_model_run, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    out = blocker if where == "file" else blocker / "sub"
    res = runner.invoke(app, ["enhance", str(model_file), str(pairs / "degraded"), "--out", str(out)])
    assert res.exit_code == 2 and str(blocker) in res.output and "is a file" in res.output, res.output
    res = runner.invoke(
        app, ["evaluate", str(model_file), "--data", str(pairs), "--layout", "paired", "--out", str(out)]
    )
    assert res.exit_code == 2 and "is a file" in res.output, res.output
    res = runner.invoke(app, ["export", str(model_file), "--onnx", str(blocker / "m.onnx")])
    assert res.exit_code == 2 and "is a file" in res.output, res.output


def test_an_unwritable_output_folder_is_reported_first(model_file, tmp_path, pairs, no_model_run):
    import os

    if os.geteuid() == 0:
        pytest.skip("root may write anywhere; permissions cannot be tested as root")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    res = runner.invoke(app, ["enhance", str(model_file), str(pairs / "degraded"), "--out", str(locked / "o")])
    assert res.exit_code == 2 and "no permission" in res.output, res.output


def test_a_checkpoint_for_another_genotype_says_which_it_holds(tmp_path, config_file, genotype_file, loss_weights_file):
    run = tmp_path / "run"
    res = runner.invoke(
        app,
        [
            "train",
            str(config_file),
            "--out",
            str(run),
            "--genotype",
            str(genotype_file),
            "--loss-weights",
            str(loss_weights_file),
        ],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["train", str(config_file), "--out", str(run), "--resume", "--genotype", "paper-lol"])
    assert res.exit_code == 2 and "holds genotype 'tiny'" in res.output, res.output
