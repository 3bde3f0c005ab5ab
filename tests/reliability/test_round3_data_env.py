"""Round 3, ``${HADAMARD_RESTORE_DATA}``: unset, a config that names it is a clear error, never a
silent guess at ``../shared/data`` relative to the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.config import ConfigError, load_config

runner = CliRunner()
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture
def no_data_env(monkeypatch, tmp_path):
    """HADAMARD_RESTORE_DATA unset, and a ../shared/data next to the working directory to be guessed."""
    monkeypatch.delenv("HADAMARD_RESTORE_DATA", raising=False)
    (tmp_path / "shared" / "data").mkdir(parents=True)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


@pytest.mark.parametrize("value", [None, "", "   "])
def test_unset_or_empty_is_a_clear_error(no_data_env, monkeypatch, tmp_path, value):
    if value is not None:
        monkeypatch.setenv("HADAMARD_RESTORE_DATA", value)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data:\n  root: ${HADAMARD_RESTORE_DATA}/lol-v1/our485\n")
    with pytest.raises(ConfigError, match="environment variable HADAMARD_RESTORE_DATA is not set") as info:
        load_config(cfg)
    assert "data.root" in str(info.value) and "--set data.root=PATH" in str(info.value)


def test_a_bundled_task_config_says_so_through_the_cli(no_data_env, tmp_path):
    res = runner.invoke(app, ["train", str(CONFIGS / "low-light.yaml"), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2, res.output
    assert "HADAMARD_RESTORE_DATA is not set" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "r").exists()


def test_set_it_expands_as_before(monkeypatch, tmp_path):
    monkeypatch.setenv("HADAMARD_RESTORE_DATA", str(tmp_path / "d"))
    cfg = load_config(CONFIGS / "low-light.yaml")
    assert cfg.data.root == (tmp_path / "d" / "lol-v1" / "our485").resolve()


def test_configs_without_the_variable_do_not_need_it(no_data_env, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data:\n  root: pairs\n")
    assert load_config(cfg).data.root == (tmp_path / "pairs").resolve()
