"""Round 3: an output name that cannot be written (a folder in the way, a dangling ``--out``
symlink, a name over the file system's limit) is reported before any inference, exit 2."""

from __future__ import annotations

import os
import shutil

from typer.testing import CliRunner

from hadamard_restore.cli.app import app

runner = CliRunner()


def _refused(res, *words: str) -> None:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and "OSError" not in res.output and "Errno" not in res.output
    for word in words:
        assert word in res.output, res.output


def _photos(pairs, tmp_path, names=("img0.png", "img1.png")):
    src = tmp_path / "photos"
    src.mkdir()
    for i, name in enumerate(names):
        shutil.copy(pairs / "degraded" / f"img{i}.png", src / name)
    return src


def test_an_output_name_that_is_a_folder_is_reported_before_any_photo_is_written(model_file, pairs, tmp_path):
    src, out = _photos(pairs, tmp_path), tmp_path / "out"
    (out / "img1.png").mkdir(parents=True)  # a folder where img1's output would go
    res = runner.invoke(app, ["enhance", str(model_file), str(src), "--out", str(out)])
    _refused(res, "is an existing folder", str(out / "img1.png"))
    assert sorted(p.name for p in out.iterdir()) == ["img1.png"]  # img0 was not enhanced first


def test_a_dangling_symlink_out_is_reported(model_file, pairs, tmp_path):
    src, out = _photos(pairs, tmp_path), tmp_path / "out"
    os.symlink(tmp_path / "gone", out)
    res = runner.invoke(app, ["enhance", str(model_file), str(src), "--out", str(out)])
    _refused(res, "symbolic link", "does not exist")
    assert not (tmp_path / "gone").exists()


def test_a_name_too_long_for_the_file_system_is_reported_and_a_long_valid_one_is_written(model_file, pairs, tmp_path):
    long_name = "a" * 249 + ".png"  # 253 bytes: the longest names a file system takes are 255
    src, out = _photos(pairs, tmp_path, names=(long_name,)), tmp_path / "out"
    res = runner.invoke(app, ["enhance", str(model_file), str(src), "--out", str(out), "--suffix", "_enhanced"])
    _refused(res, "bytes", "limit", "--suffix")
    assert not out.exists() or not any(out.iterdir())
    res = runner.invoke(app, ["enhance", str(model_file), str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / long_name).is_file()  # the temporary file beside it fits too


def test_export_to_a_name_too_long_is_reported(model_file, tmp_path):
    res = runner.invoke(app, ["export", str(model_file), "--onnx", str(tmp_path / ("m" * 260 + ".onnx"))])
    _refused(res, "bytes", "limit")
