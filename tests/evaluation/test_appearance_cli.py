"""`hadamard-restore appearance`: folders in, the appearance numbers out; clear errors."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.data.io import write_image
from hadamard_restore.evaluation.appearance import measure_folders

runner = CliRunner()


@pytest.fixture
def folders(tmp_path, gen):
    ref_dir, out_dir, in_dir = tmp_path / "ref", tmp_path / "out", tmp_path / "in"
    i, j = torch.meshgrid(torch.arange(40), torch.arange(32), indexing="ij")
    board = ((-1.0) ** (i + j)).expand(3, -1, -1)
    for name in ("a", "b"):
        low = torch.rand(1, 3, 4, 3, generator=gen) * 0.5 + 0.25
        ref = torch.nn.functional.interpolate(low, size=(40, 32), mode="bilinear", align_corners=False)[0]
        write_image(ref_dir / f"{name}.png", ref)
        write_image(out_dir / f"{name}.png", (ref + 8 / 255 * board).clamp(0, 1))  # an 8-grey-level checkerboard
        write_image(in_dir / f"{name}.png", ref * 0.5)
    return out_dir, ref_dir, in_dir


def test_folders_are_paired_by_name_and_the_checkerboard_is_found(folders):
    out_dir, ref_dir, in_dir = folders
    result = measure_folders(out_dir, ref_dir, in_dir)
    assert [r["name"] for r in result["per_image"]] == ["a.png", "b.png"]
    block = result["appearance"]
    assert block["output"]["grid_energy"] == pytest.approx(8 / 255, abs=1.5 / 255)  # 8-bit rounding of the board
    assert block["grid_energy_ratio"] > 5 and block["grid_energy_vs_input"] > 5


def test_cli_prints_the_summary_and_writes_a_new_json_file(folders, tmp_path):
    out_dir, ref_dir, in_dir = folders
    dest = tmp_path / "appearance.json"
    res = runner.invoke(app, ["appearance", str(out_dir), str(ref_dir), "--inputs", str(in_dir), "--out", str(dest)])
    assert res.exit_code == 0, res.output
    assert "pixel-grid checkerboard" in res.output and str(dest) in res.output
    assert json.loads(dest.read_text())["appearance"]["count"] == 2
    again = runner.invoke(app, ["appearance", str(out_dir), str(ref_dir), "--out", str(dest)])
    assert again.exit_code == 2 and "already exists" in again.output


def test_cli_mistakes_exit_2_with_a_clear_message(folders, tmp_path):
    out_dir, ref_dir, _ = folders
    res = runner.invoke(app, ["appearance", str(tmp_path / "nowhere"), str(ref_dir)])
    assert res.exit_code == 2 and "folder not found" in res.output
    write_image(tmp_path / "small" / "a.png", torch.zeros(3, 20, 20))
    res = runner.invoke(app, ["appearance", str(tmp_path / "small"), str(ref_dir)])
    assert res.exit_code == 2 and "same size" in res.output
    write_image(tmp_path / "extra" / "zz.png", torch.zeros(3, 40, 32))  # an output nobody can score
    res = runner.invoke(app, ["appearance", str(tmp_path / "extra"), str(ref_dir)])
    assert res.exit_code == 2 and "no reference" in res.output and "zz.png" in res.output
