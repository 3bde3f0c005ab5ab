"""Round 3: ``enhance`` and ``export`` replace no existing file of the same name without ``--force``;
the refusal comes before the model runs, and with ``--force`` the file is replaced."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from hadamard_restore.cli.app import app

runner = CliRunner()


def test_enhance_keeps_an_unrelated_file_of_the_output_name(model_file, pairs, tmp_path):
    src, out = tmp_path / "photos", tmp_path / "out"
    src.mkdir(), out.mkdir()
    for i in range(2):
        shutil.copy(pairs / "degraded" / f"img{i}.png", src / f"img{i}.png")
    (out / "img1.png").write_bytes(b"someone's own picture")
    res = runner.invoke(app, ["enhance", str(model_file), str(src), "--out", str(out)])
    assert res.exit_code == 2 and "--force" in res.output and str(out / "img1.png") in res.output, res.output
    assert (out / "img1.png").read_bytes() == b"someone's own picture"
    assert sorted(p.name for p in out.iterdir()) == ["img1.png"]  # refused before any photo was enhanced

    res = runner.invoke(app, ["enhance", str(model_file), str(src), "--out", str(out), "--force"])
    assert res.exit_code == 0, res.output
    assert (out / "img1.png").read_bytes().startswith(b"\x89PNG") and (out / "img0.png").is_file()


def test_export_keeps_an_existing_onnx_file_unless_forced(model_file, tmp_path):
    target = tmp_path / "x.onnx"
    target.write_bytes(b"an earlier export")
    res = runner.invoke(app, ["export", str(model_file), "--onnx", str(target), "--check-max-side", "32"])
    assert res.exit_code == 2 and "--force" in res.output and str(target) in res.output, res.output
    assert target.read_bytes() == b"an earlier export" and "PASS" not in res.output

    res = runner.invoke(app, ["export", str(model_file), "--onnx", str(target), "--check-max-side", "32", "--force"])
    assert res.exit_code == 0 and "PASS" in res.output, res.output
    assert target.read_bytes() != b"an earlier export"
