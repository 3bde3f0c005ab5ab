"""Class 1: an output that resolves to an input, a checkpoint or another output is refused first."""

from __future__ import annotations

import os
import shutil

import pytest
from PIL import Image
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.runtime.output_guard import OutputConflictError, guard_outputs

runner = CliRunner()


def test_export_onto_its_own_checkpoint_is_refused_and_the_checkpoint_kept(model_file, tmp_path):
    m = tmp_path / "m.pt"
    shutil.copy(model_file, m)
    before = m.read_bytes()
    res = runner.invoke(app, ["export", str(m), "--onnx", str(m), "--check-max-side", "32"])
    assert res.exit_code == 2, res.output
    assert "refusing to write --onnx" in res.output and "checkpoint" in res.output and str(m) in res.output
    assert m.read_bytes() == before and "PASS" not in res.output


def test_enhance_output_that_is_another_input_is_refused(model_file, tmp_path, pairs):
    """The issue's example: an output checked only against its own source. ``pic.ppm`` is written as
    PNG (formats without a writer become PNG), so into ``--out d`` it would replace ``d/pic.png``."""
    d = tmp_path / "d"
    d.mkdir()
    shutil.copy(pairs / "degraded" / "img0.png", d / "pic.png")
    Image.open(pairs / "degraded" / "img1.png").save(d / "pic.ppm")
    before = (d / "pic.png").read_bytes()
    res = runner.invoke(app, ["enhance", str(model_file), str(d / "pic.ppm"), str(d / "pic.png"), "--out", str(d)])
    assert res.exit_code == 2, res.output
    assert f"{d / 'pic.ppm'}" in res.output and f"{d / 'pic.png'}" in res.output  # both paths named
    assert (d / "pic.png").read_bytes() == before
    assert sorted(p.name for p in d.iterdir()) == ["pic.png", "pic.ppm"]


def test_enhance_output_that_is_a_hard_link_to_an_input_is_refused(model_file, tmp_path, pairs):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir(), out.mkdir()
    shutil.copy(pairs / "degraded" / "img0.png", src / "pic.png")
    os.link(src / "pic.png", out / "pic.png")  # out/pic.png is the same file under another name
    before = (src / "pic.png").read_bytes()
    res = runner.invoke(app, ["enhance", str(model_file), str(src / "pic.png"), "--out", str(out)])
    assert res.exit_code == 2 and "refusing to write" in res.output and str(src / "pic.png") in res.output, res.output
    assert (src / "pic.png").read_bytes() == before


def test_enhance_output_onto_the_checkpoint_is_refused(model_file, tmp_path, pairs):
    d = tmp_path / "d"
    d.mkdir()
    ckpt = d / "model.png"  # an oddly named model file in the output folder
    shutil.copy(model_file, ckpt)
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(pairs / "degraded" / "img0.png", photos / "model.png")
    before = ckpt.read_bytes()
    res = runner.invoke(app, ["enhance", str(ckpt), str(photos), "--out", str(d)])
    assert res.exit_code == 2 and "checkpoint" in res.output and str(ckpt) in res.output, res.output
    assert ckpt.read_bytes() == before


def test_enhance_two_inputs_with_one_output_name_are_refused_before_any_work(model_file, tmp_path, pairs):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    shutil.copy(pairs / "degraded" / "img0.png", a / "x.png")
    shutil.copy(pairs / "degraded" / "img1.png", b / "x.png")
    res = runner.invoke(app, ["enhance", str(model_file), str(a), str(b), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and str(a / "x.png") in res.output and str(b / "x.png") in res.output, res.output
    assert not (tmp_path / "o").exists()


def test_guard_sees_through_dotdot_symlinks_and_hard_links(tmp_path):
    src = tmp_path / "in.png"
    src.write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    os.symlink(src, tmp_path / "link.png")
    os.link(src, tmp_path / "hard.png")
    for alias in (tmp_path / "sub" / ".." / "in.png", tmp_path / "link.png", tmp_path / "hard.png"):
        with pytest.raises(OutputConflictError, match="in.png"):
            guard_outputs({"input": src}, {"output": alias})
    guard_outputs({"input": src}, {"output": tmp_path / "other.png"})  # a different file is fine


def test_split_out_onto_a_dataset_image_is_refused(pairs):
    target = pairs / "reference" / "img0.png"
    before = target.read_bytes()
    res = runner.invoke(app, ["data", "split", str(pairs), "--out", str(target), "--group-key", "none"])
    assert res.exit_code == 2 and "refusing to write --out" in res.output, res.output
    assert target.read_bytes() == before


def test_evaluate_out_inside_the_dataset_is_refused(model_file, pairs):
    res = runner.invoke(
        app, ["evaluate", str(model_file), "--data", str(pairs), "--layout", "paired", "--out", str(pairs / "degraded")]
    )
    assert res.exit_code == 2 and "inside the dataset" in res.output, res.output
    assert sorted(p.name for p in (pairs / "degraded").iterdir()) == [f"img{i}.png" for i in range(6)]


def test_a_new_training_into_a_finished_run_is_refused(config_file, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pt").write_bytes(b"earlier run")
    res = runner.invoke(app, ["train", str(config_file), "--out", str(run)])
    assert res.exit_code == 2 and "--resume" in res.output and "last.pt" in res.output, res.output
    assert (run / "last.pt").read_bytes() == b"earlier run" and not (run / "config.yaml").exists()


def test_the_classifier_command_reuses_its_earlier_classifier_and_overwrites_no_other(config_file, tmp_path):
    """With ``path.txt`` (written by an earlier ``classifier --out X``) the classifier is reused, not
    retrained; a folder holding checkpoints of something else is refused, its files untouched."""
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "classifier.pt").write_bytes(b"earlier classifier")
    (earlier / "path.txt").write_text(str(earlier / "classifier.pt"))
    res = runner.invoke(app, ["classifier", str(config_file), "--out", str(earlier)])
    assert res.exit_code == 0 and str(earlier / "classifier.pt") in res.output, res.output
    assert (earlier / "classifier.pt").read_bytes() == b"earlier classifier"

    other = tmp_path / "other"
    other.mkdir()
    (other / "model.pt").write_bytes(b"someone's model")
    res = runner.invoke(app, ["classifier", str(config_file), "--out", str(other)])
    assert res.exit_code == 2 and "already holds checkpoints" in res.output and "model.pt" in res.output, res.output
    assert sorted(p.name for p in other.iterdir()) == ["model.pt"]
    assert (other / "model.pt").read_bytes() == b"someone's model"
