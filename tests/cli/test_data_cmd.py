import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from hadamard_restore.cli.app import app

runner = CliRunner()


@pytest.fixture
def folder(tmp_path):
    """An LSUI-style folder: input/ and GT/ with five 7x9 JPEG pairs."""
    rng = np.random.default_rng(0)
    for sub in ("input", "GT"):
        (tmp_path / "ds" / sub).mkdir(parents=True)
    for i in range(5):
        for sub in ("input", "GT"):
            Image.fromarray(rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)).save(tmp_path / "ds" / sub / f"{i}.jpg")
    return tmp_path / "ds"


def test_check_ok_and_problems(folder):
    result = runner.invoke(app, ["data", "check", str(folder)])
    assert result.exit_code == 0, result.output
    assert "layout:  lsui" in result.output and "pairs:   5" in result.output and "7x9 (5)" in result.output
    (folder / "GT" / "4.jpg").unlink()
    result = runner.invoke(app, ["data", "check", str(folder), "--layout", "lsui"])
    assert result.exit_code == 1 and "1 degraded without a reference: 4.jpg" in result.output


def test_check_unknown_layout_is_a_reported_problem(folder):
    result = runner.invoke(app, ["data", "check", str(folder), "--layout", "nope"])
    assert result.exit_code == 1 and "unknown layout 'nope'" in result.output


def test_split_then_verify(folder, tmp_path):
    out = tmp_path / "split.json"
    result = runner.invoke(
        app,
        ["data", "split", str(folder), "--out", str(out), "--val-ratio", "0.4", "--group-key", "none", "--seed", "2"],
    )
    assert result.exit_code == 0, result.output
    assert "3 train / 2 val pairs" in result.output and out.is_file()
    result = runner.invoke(app, ["data", "verify", str(out), str(folder)])
    assert result.exit_code == 0 and "OK, 3 train / 2 val" in result.output
    (folder / "input" / "0.jpg").unlink()
    result = runner.invoke(app, ["data", "verify", str(out), str(folder)])
    assert result.exit_code == 2 and "1 missing file(s): input/0.jpg" in result.output


@pytest.mark.realdata
@pytest.mark.parametrize("folder,pairs", [("lol-v1/our485", 160), ("sots-indoor", 120), ("lsui", 108)])
def test_check_real_data(data_root, folder, pairs):
    result = runner.invoke(app, ["data", "check", str(data_root / folder)])
    assert result.exit_code == 0, result.output
    assert f"pairs:   {pairs} " in result.output and "problems: none" in result.output


def test_the_shipped_custom_config_checks_as_written(tmp_path):
    """configs/custom.yaml names input/ and target/ under layout paired: `data check` reads such a
    folder by its config, and by `--layout paired` alone."""
    from pathlib import Path

    custom = Path(__file__).resolve().parents[2] / "configs" / "custom.yaml"
    rng = np.random.default_rng(1)
    for sub in ("input", "target"):
        (tmp_path / "mine" / sub).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).save(tmp_path / "mine" / sub / f"{i}.png")
    result = runner.invoke(app, ["data", "check", "--config", str(custom), "--set", f"data.root={tmp_path / 'mine'}"])
    assert result.exit_code == 0, result.output
    assert "layout:  paired" in result.output and "pairs:   3" in result.output and "problems: none" in result.output
    result = runner.invoke(app, ["data", "check", str(tmp_path / "mine"), "--layout", "paired"])
    assert result.exit_code == 0, result.output
    assert f"folders: {tmp_path / 'mine' / 'input'} -> {tmp_path / 'mine' / 'target'}" in result.output
    result = runner.invoke(app, ["data", "check"])
    assert result.exit_code == 2 and "give the dataset folder" in result.output
