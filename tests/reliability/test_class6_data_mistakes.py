"""Class 6: leakage in a split, pairs of different sizes and damaged images are found, not absorbed."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image, ImageFile
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.config import config_from_dict
from hadamard_restore.data.io import read_image_array
from hadamard_restore.errors import DataError
from tests.reliability.helpers import run_config

runner = CliRunner()


def _leaky_split(pairs, tmp_path):
    out = tmp_path / "split.json"
    res = runner.invoke(
        app, ["data", "split", str(pairs), "--out", str(out), "--group-key", "none", "--layout", "paired"]
    )
    assert res.exit_code == 0, res.output
    split = json.loads(out.read_text())
    split["val"].append(split["train"][0])  # the same pair on both sides
    out.write_text(json.dumps(split))
    return out, split["train"][0]["degraded"]


def test_a_pair_in_train_and_validation_is_an_error_everywhere(
    pairs, tmp_path, model_file, genotype_file, loss_weights_file
):
    split, name = _leaky_split(pairs, tmp_path)
    res = runner.invoke(app, ["data", "verify", str(split), str(pairs)])
    assert res.exit_code == 2 and "leaks validation data into training" in res.output and name in res.output
    res = runner.invoke(
        app, ["evaluate", str(model_file), "--data", str(pairs), "--split", str(split), "--out", str(tmp_path / "e")]
    )
    assert res.exit_code == 2 and "leaks" in res.output, res.output
    from hadamard_restore.data.task_data import load_pairs

    cfg = run_config(pairs, genotype_file, loss_weights_file, tmp_path)
    cfg["data"]["split_file"] = str(split)
    run = config_from_dict(cfg)
    with pytest.raises(DataError, match="leaks"):
        load_pairs(run.data, run.seed)


def test_split_refuses_pairs_of_different_sizes(pairs, tmp_path):
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(pairs / "reference" / "img2.png")
    res = runner.invoke(app, ["data", "split", str(pairs), "--out", str(tmp_path / "s.json"), "--layout", "paired"])
    assert res.exit_code == 2 and "different sizes" in res.output and "img2.png" in res.output, res.output
    assert not (tmp_path / "s.json").exists()


def _cut_png(path):
    """Drop the IEND chunk: the file was cut off (its pixels happen to decode)."""
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b"IEND") - 4])


def test_a_cut_off_image_is_damaged_for_check_full_evaluate_and_enhance(pairs, tmp_path, model_file):
    _cut_png(pairs / "degraded" / "img3.png")
    for full in ([], ["--full"]):
        res = runner.invoke(app, ["data", "check", str(pairs), "--layout", "paired", *full])
        assert res.exit_code == 1 and "img3.png" in res.output and "truncated" in res.output, res.output
    res = runner.invoke(
        app, ["evaluate", str(model_file), "--data", str(pairs), "--layout", "paired", "--out", str(tmp_path / "e")]
    )
    assert res.exit_code == 1 and "FAILED" in res.output and "img3.png" in res.output, res.output
    metrics = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert metrics["count"] == 5 and [f["degraded"].endswith("img3.png") for f in metrics["failed"]] == [True]
    res = runner.invoke(app, ["enhance", str(model_file), str(pairs / "degraded"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1 and "1 failed" in res.output and "img3.png" in res.output, res.output


def test_a_truncated_jpeg_is_damaged_even_when_pillow_is_told_to_fill_it(tmp_path, monkeypatch):
    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((64, 80, 3)) * 255).astype(np.uint8)).save(buf, format="JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # as some libraries set it globally
    with pytest.raises(DataError, match="truncated"):
        read_image_array(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored for whoever set it


def test_evaluate_scores_every_good_pair_and_lists_the_bad_ones(pairs, tmp_path, model_file):
    (pairs / "degraded" / "img1.png").write_bytes(b"not an image")
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(pairs / "reference" / "img4.png")
    res = runner.invoke(
        app, ["evaluate", str(model_file), "--data", str(pairs), "--layout", "paired", "--out", str(tmp_path / "e")]
    )
    assert res.exit_code == 1, res.output
    metrics = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert sorted(r["name"] for r in metrics["per_image"]) == ["img0.png", "img2.png", "img3.png", "img5.png"]
    reasons = {f["degraded"].rsplit("/", 1)[1]: f["reason"] for f in metrics["failed"]}
    assert set(reasons) == {"img1.png", "img4.png"} and "sizes differ" in reasons["img4.png"]
