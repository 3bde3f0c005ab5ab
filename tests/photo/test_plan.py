"""Output paths of enhance: structure kept, --suffix, and no input (or other output) ever overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.errors import DataError
from hadamard_restore.photo.plan import plan_outputs
from tests.photo.helpers import smooth_rgb

runner = CliRunner()


def _save(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(smooth_rgb(seed)).save(path)
    return path


def test_overwriting_any_input_is_refused_before_any_work(model_file, tmp_path):
    d = tmp_path / "d"
    jpg, png = _save(d / "pic.jpg", 1), _save(d / "pic.png", 2)
    before = {p: p.read_bytes() for p in (jpg, png)}
    res = runner.invoke(app, ["enhance", str(model_file), str(jpg), str(png), "--out", str(d)])
    assert res.exit_code == 2, res.output
    assert "refused" in res.output and str(jpg) in res.output and "would overwrite the input" in res.output
    assert {p: p.read_bytes() for p in (jpg, png)} == before
    assert sorted(p.name for p in d.iterdir()) == ["pic.jpg", "pic.png"]  # nothing written, no temp file
    # the output of one input landing on ANOTHER input is refused too
    other = _save(tmp_path / "e" / "pic.png", 3)
    with pytest.raises(DataError, match=f"would overwrite the input {png}"):
        plan_outputs([other, png], d)
    res = runner.invoke(app, ["enhance", str(model_file), str(jpg), str(png), "--out", str(d), "--suffix", "_x"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in d.iterdir()) == ["pic.jpg", "pic.png", "pic_x.jpg", "pic_x.png"]
    assert {p: p.read_bytes() for p in (jpg, png)} == before


def test_two_inputs_with_one_output_are_refused(tmp_path):
    a, b = _save(tmp_path / "a" / "x.png"), _save(tmp_path / "b" / "x.png")
    with pytest.raises(DataError, match="would both be written to") as err:
        plan_outputs([a, b], tmp_path / "out")
    assert str(a) in str(err.value) and str(b) in str(err.value)
    assert [d.name for _, d in plan_outputs([a, _save(tmp_path / "b" / "x.jpg")], tmp_path / "out")] == [
        "x.png",
        "x.jpg",
    ]


def test_recursive_keeps_structure_and_skips_the_output_folder(model_file, tmp_path):
    root = tmp_path / "photos"
    for rel in ("top.jpg", "2023/summer/beach.png", "2023/winter.jpg"):
        _save(root / rel)
    (root / "notes.txt").write_text("not an image")
    _save(root / "out" / "old.png")  # a previous run's output inside the input folder
    flat = plan_outputs([root], root / "out")
    assert [str(d.relative_to(root / "out")) for _, d in flat] == ["top.jpg"]
    res = runner.invoke(
        app, ["enhance", str(model_file), str(root), "--out", str(root / "out"), "--recursive", "--suffix", "_e"]
    )
    assert res.exit_code == 0, res.output
    got = sorted(str(p.relative_to(root / "out")) for p in (root / "out").rglob("*") if p.is_file())
    assert got == ["2023/summer/beach_e.png", "2023/winter_e.jpg", "old.png", "top_e.jpg"]


def test_plan_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        plan_outputs([tmp_path / "missing.png"], tmp_path / "o")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images found"):
        plan_outputs([tmp_path / "empty"], tmp_path / "o")
    with pytest.raises(DataError, match="path separator"):
        plan_outputs([_save(tmp_path / "x.png")], tmp_path / "o", suffix="a/b")
    odd = _save(tmp_path / "scan.ppm")
    assert plan_outputs([odd], tmp_path / "o")[0][1].name == "scan.png"  # formats without a writer become PNG
