"""Round 3: a JPEG cut mid-scan with its end marker (FFD9) put back is damaged for the decode
checks (enhance, evaluate) and ``data check --full``, not an image half filled with grey."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.data.io import read_image_array
from hadamard_restore.errors import DataError

runner = CliRunner()


def _jpeg(path, progressive: bool = False, size: tuple[int, int] = (64, 80)) -> bytes:
    """A real JPEG of ``size`` (H, W) with detail everywhere (so its scan data is long)."""
    pixels = np.random.default_rng(0).integers(0, 256, (*size, 3)).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=92, progressive=progressive)
    return path.read_bytes()


def _cut(path, data: bytes) -> None:
    path.write_bytes(data[: len(data) // 2] + b"\xff\xd9")


@pytest.mark.parametrize("progressive", [False, True])
def test_a_cut_jpeg_with_its_end_marker_put_back_is_damaged(tmp_path, progressive):
    whole = _jpeg(tmp_path / "whole.jpg", progressive)
    _cut(tmp_path / "cut.jpg", whole)
    Image.open(tmp_path / "cut.jpg").load()  # Pillow decodes it without a word
    assert read_image_array(tmp_path / "whole.jpg").shape == (64, 80, 3)
    with pytest.raises(DataError, match="cut off") as info:
        read_image_array(tmp_path / "cut.jpg")
    assert "cut.jpg" in str(info.value) and "copy or save the file again" in str(info.value)


def test_evaluate_enhance_and_data_check_find_the_cut_jpeg(pairs, model_file, tmp_path):
    bad = pairs / "degraded" / "img3.jpg"
    _cut(bad, _jpeg(bad, size=(37, 31)))  # the size of its reference
    (pairs / "degraded" / "img3.png").unlink()

    res = runner.invoke(app, ["data", "check", str(pairs), "--full"])
    assert res.exit_code == 1 and "img3.jpg" in res.output and "cut off" in res.output, res.output
    assert "problems: none" not in res.output

    res = runner.invoke(app, ["evaluate", str(model_file), "--data", str(pairs), "--out", str(tmp_path / "e")])
    assert res.exit_code == 1 and "FAILED" in res.output and "img3.jpg" in res.output, res.output
    assert "cut off" in res.output

    res = runner.invoke(app, ["enhance", str(model_file), str(bad), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1 and "img3.jpg" in res.output and "cut off" in res.output, res.output
    assert not (tmp_path / "o" / "img3.jpg").exists()
