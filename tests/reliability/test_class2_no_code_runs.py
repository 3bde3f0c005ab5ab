"""Class 2: no file the tool reads runs code (YAML configs, checkpoints of every kind)."""

from __future__ import annotations

import shutil

import pytest
import torch
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.config import ConfigError, load_config

runner = CliRunner()


class _Payload:
    """Unpickling this opens (creates) ``marker``: proof that the file ran code."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _crafted(path, marker, fmt: str = "hadamard-restore/training"):
    torch.save({"format": fmt, "version": 1, "meta": {}, "state_dict": {}, "payload": _Payload(marker)}, path)
    return path


@pytest.mark.parametrize(
    "text",
    [
        "name: !!python/object/apply:os.system ['touch {marker}']\n",
        "train: !!python/object/new:subprocess.Popen [['touch', '{marker}']]\n",
    ],
)
def test_a_yaml_config_with_python_tags_is_refused_and_runs_nothing(tmp_path, text):
    marker = tmp_path / "ran"
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(text.format(marker=marker))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(cfg)
    with pytest.raises(ConfigError):
        load_config(None, [f"name=!!python/object/apply:os.system ['touch {marker}']"])
    assert not marker.exists()


@pytest.mark.parametrize("command", ["evaluate", "enhance", "export", "resume"])
def test_a_crafted_checkpoint_is_refused_by_every_command(tmp_path, pairs, config_file, command):
    marker = tmp_path / "ran"
    run = tmp_path / "run"
    run.mkdir()
    ckpt = _crafted(run / ("last.pt" if command == "resume" else "model.pt"), marker)
    evaluate = ["evaluate", str(ckpt), "--data", str(pairs), "--layout", "paired", "--out", str(tmp_path / "e")]
    argv = {
        "evaluate": evaluate,
        "enhance": ["enhance", str(ckpt), str(pairs / "degraded"), "--out", str(tmp_path / "o")],
        "export": ["export", str(ckpt), "--onnx", str(tmp_path / "m.onnx")],
        "resume": ["train", str(config_file), "--out", str(run), "--resume"],
    }[command]
    res = runner.invoke(app, argv)
    assert res.exit_code != 0 and "could run code" in res.output, res.output
    assert not marker.exists()


def test_a_crafted_classifier_checkpoint_runs_nothing(tmp_path):
    from hadamard_restore.classifier.checkpoint import load_classifier, read_classifier_checkpoint
    from hadamard_restore.errors import CheckpointError

    marker = tmp_path / "ran"
    path = _crafted(tmp_path / "classifier.pt", marker, fmt="hadamard-restore/classifier")
    for load in (load_classifier, read_classifier_checkpoint):
        with pytest.raises(CheckpointError, match="could run code"):
            load(path)
    with pytest.raises(CheckpointError, match="could run code"):
        read_classifier_checkpoint(tmp_path)  # a run directory holding classifier.pt
    assert not marker.exists()


def test_a_crafted_search_checkpoint_runs_nothing(tmp_path):
    from hadamard_restore.errors import CheckpointError
    from hadamard_restore.search.state import load_state

    marker = tmp_path / "ran"
    for stage in ("loss", "arch", "joint"):
        with pytest.raises(CheckpointError, match="could run code"):
            load_state(_crafted(tmp_path / "checkpoint.pt", marker, fmt="hadamard-restore/search"), stage)
    assert not marker.exists()


SEARCH_TOY = ["--set", "search.crop=16", "--set", "search.loss_steps=2", "--set", "search.arch_steps=2"]


@pytest.mark.parametrize("command", ["search-loss", "search"])
def test_search_resume_with_a_crafted_classifier_in_the_run_runs_nothing(tmp_path, config_file, command):
    """The judge an earlier run trained is reused on --resume (``classifier/path.txt``): a crafted
    file there is refused before the search starts."""
    marker = tmp_path / "ran"
    run = tmp_path / "run"
    (run / "classifier").mkdir(parents=True)
    crafted = _crafted(run / "classifier" / "classifier.pt", marker, fmt="hadamard-restore/classifier")
    (run / "classifier" / "path.txt").write_text(str(crafted))
    res = runner.invoke(app, [command, str(config_file), "--out", str(run), "--resume", *SEARCH_TOY])
    assert res.exit_code == 2 and "could run code" in res.output, res.output
    assert not marker.exists()


def test_a_crafted_classifier_checkpoint_option_runs_nothing(tmp_path, config_file):
    marker = tmp_path / "ran"
    crafted = _crafted(tmp_path / "clf.pt", marker, fmt="hadamard-restore/classifier")
    res = runner.invoke(
        app,
        [
            "search-loss",
            str(config_file),
            "--out",
            str(tmp_path / "run"),
            "--set",
            f"classifier.checkpoint={crafted}",
            *SEARCH_TOY,
        ],
    )
    assert res.exit_code == 2 and "could run code" in res.output, res.output
    assert not marker.exists()


def test_search_arch_resume_from_a_crafted_checkpoint_runs_nothing(tmp_path, config_file):
    marker = tmp_path / "ran"
    run = tmp_path / "run"
    run.mkdir()
    _crafted(run / "checkpoint.pt", marker, fmt="hadamard-restore/search")
    res = runner.invoke(app, ["search-arch", str(config_file), "--out", str(run), "--resume", *SEARCH_TOY])
    assert res.exit_code == 2 and "could run code" in res.output, res.output
    assert not marker.exists()


def test_json_files_are_data_only(tmp_path, genotype_file):
    """genotype.json / loss_weights.json / split files go through ``json`` (no object hooks): a
    file that names a Python object is a malformed file, not a call."""
    from hadamard_restore.errors import GenotypeError
    from hadamard_restore.net.genotype import load_genotype

    bad = tmp_path / "genotype.json"
    shutil.copy(genotype_file, bad)
    bad.write_text('{"py/object": "os.system", "args": ["touch ran"]}')
    with pytest.raises(GenotypeError):
        load_genotype(str(bad))
