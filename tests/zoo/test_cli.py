"""`models`, `--version`, and --model NAME in enhance / evaluate / export."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from hadamard_restore import __version__
from hadamard_restore.cli.app import app
from hadamard_restore.zoo.registry import read_card

runner = CliRunner()


def test_models_and_version(zoo):
    sha = read_card("tiny-light")["weights"]["sha256"]
    res = runner.invoke(app, ["models"])
    assert res.exit_code == 0, res.output
    line = res.output.splitlines()[0]
    assert line.startswith("tiny-light") and sha[:12] in line and "held-out PSNR" in line
    res = runner.invoke(app, ["models", "--json"])
    assert json.loads(res.output)[0]["weights"]["sha256"] == sha
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.splitlines() == [
        f"hadamard-restore {__version__}",
        f"  tiny-light  sha256 {sha[:12]} (float16)",
    ]


def test_enhance_with_a_model_name(zoo, tmp_path):
    Image.fromarray(np.full((20, 24, 3), 40, np.uint8)).save(tmp_path / "dark.jpg")
    res = runner.invoke(
        app, ["enhance", "--model", "tiny-light", str(tmp_path / "dark.jpg"), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o" / "dark.jpg").is_file()
    res = runner.invoke(app, ["enhance", "--model", "nope", str(tmp_path / "dark.jpg"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "unknown model 'nope'; available models: tiny-light" in res.output
    weights = str(zoo / "tiny-light" / "model.pt")
    res = runner.invoke(
        app, ["enhance", "--model", "tiny-light", weights, str(tmp_path / "dark.jpg"), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 2 and "not both" in res.output


def test_evaluate_with_a_model_uses_its_heldout_split(zoo, fake_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["evaluate", "--model", "tiny-light", "--data", str(fake_run[1] / "tiny")])
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "tiny-light-eval" / "metrics.json").read_text())
    card = read_card("tiny-light")
    assert metrics["count"] == 2 and metrics["mean"]["psnr"] == card["heldout"]["model"]["psnr"]
    res = runner.invoke(app, ["evaluate", "--data", str(fake_run[1] / "tiny")])
    assert res.exit_code == 2 and "CHECKPOINT" in res.output and "tiny-light" in res.output


def test_export_needs_exactly_one_model(zoo, tmp_path):
    res = runner.invoke(app, ["export", "--onnx", str(tmp_path / "m.onnx")])
    assert res.exit_code == 2 and "--model NAME" in res.output
    res = runner.invoke(
        app,
        ["export", str(zoo / "tiny-light" / "model.pt"), "--model", "tiny-light", "--onnx", str(tmp_path / "m.onnx")],
    )
    assert res.exit_code == 2 and "not both" in res.output
    res = runner.invoke(
        app,
        [
            "export",
            "--model",
            "tiny-light",
            "--onnx",
            str(tmp_path / "m.onnx"),
            "--check-max-side",
            "64",
            "--exporter",
            "torchscript",
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "m.onnx").is_file()
