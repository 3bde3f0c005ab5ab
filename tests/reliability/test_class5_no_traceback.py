"""Class 5: a user's mistake gets the tool's own message (exit 2), never a traceback; a bug gets
its traceback and a line saying where to report it (exit 70)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.config import ConfigError, config_from_dict, load_config
from hadamard_restore.losses.loss_weights import load_loss_weights
from hadamard_restore.net.genotype import load_genotype
from tests.reliability.helpers import run_config

runner = CliRunner()


def _clean(res, code: int = 2) -> str:
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    return res.output


@pytest.mark.parametrize(
    "override",
    [
        "train.lr=inf",
        "train.lr=.nan",
        "search.upper_betas=[0.5, .inf]",
        "data.val_ratio=nan",
        "enhance.max_untiled_pixels=.inf",
        "search.w_lr=-.inf",
    ],
)
def test_the_config_rejects_non_finite_numbers_everywhere(override):
    # an integer field (max_untiled_pixels) is strict since round 3: inf is "not a valid integer"
    with pytest.raises(ConfigError, match="finite number|valid integer"):
        load_config(None, [override])


def test_train_with_lr_inf_is_a_config_error(config_file):
    out = _clean(runner.invoke(app, ["train", str(config_file), "--set", "train.lr=inf"]))
    assert "train.lr: Input should be a finite number" in out


@pytest.mark.parametrize(
    "opset,exporter,words",
    [
        (5, "auto", "not supported"),
        (17, "dynamo", "--exporter dynamo"),
        (18, "torchscript", "--exporter torchscript"),
        (999, "auto", "not supported"),
    ],
)
def test_export_opset_out_of_range_is_explained(model_file, tmp_path, opset, exporter, words):
    out = _clean(
        runner.invoke(
            app,
            [
                "export",
                str(model_file),
                "--onnx",
                str(tmp_path / "m.onnx"),
                "--opset",
                str(opset),
                "--exporter",
                exporter,
            ],
        )
    )
    assert words in out and "11-17" in out and "18-" in out
    assert not (tmp_path / "m.onnx").exists()


def test_export_opset_below_18_is_honoured_not_replaced(model_file, tmp_path):
    res = runner.invoke(
        app, ["export", str(model_file), "--onnx", str(tmp_path / "m.onnx"), "--opset", "13", "--check-max-side", "32"]
    )
    assert res.exit_code == 0, res.output
    import onnx

    proto = onnx.load(str(tmp_path / "m.onnx"))
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [13]


def test_export_onto_an_existing_folder_is_explained(model_file, tmp_path):
    (tmp_path / "dir").mkdir()
    out = _clean(runner.invoke(app, ["export", str(model_file), "--onnx", str(tmp_path / "dir")]))
    assert "is an existing folder" in out


def test_split_out_onto_an_existing_folder_is_explained(pairs, tmp_path):
    (tmp_path / "dir").mkdir()
    out = _clean(runner.invoke(app, ["data", "split", str(pairs), "--out", str(tmp_path / "dir")]))
    assert "is an existing folder" in out and "split.json" in out


def test_evaluate_on_a_1x1_pair_is_explained(model_file, tmp_path):
    for sub, value in (("degraded", 0), ("reference", 9)):
        (tmp_path / "one" / sub).mkdir(parents=True)
        Image.fromarray(np.full((1, 1, 3), value, np.uint8)).save(tmp_path / "one" / sub / "a.png")
    out = _clean(
        runner.invoke(
            app,
            [
                "evaluate",
                str(model_file),
                "--data",
                str(tmp_path / "one"),
                "--layout",
                "paired",
                "--out",
                str(tmp_path / "e"),
            ],
        )
    )
    assert "1x1 pixels" in out and "at least 11x11" in out
    assert not (tmp_path / "e").exists()  # nothing half-made left behind


def test_a_bug_prints_its_traceback_and_where_to_report_it(monkeypatch, model_file, tmp_path):
    import hadamard_restore.inference.export as export

    def broken(*args, **kwargs):
        raise ZeroDivisionError("an internal slip")

    monkeypatch.setattr(export, "export_onnx", broken)
    res = runner.invoke(app, ["export", str(model_file), "--onnx", str(tmp_path / "m.onnx")])
    assert res.exit_code == 70
    assert "ZeroDivisionError: an internal slip" in res.output and "this is a bug" in res.output
    assert "report it" in res.output


def test_divergence_stops_with_its_own_message_and_keeps_the_last_good_checkpoint(
    tmp_path, pairs, genotype_file, loss_weights_file
):
    from hadamard_restore.training.health import TrainingDiverged
    from hadamard_restore.training.state import load_training_state
    from hadamard_restore.training.train import train

    cfg = config_from_dict(
        run_config(pairs, genotype_file, loss_weights_file, tmp_path, steps=8, lr=1e30, val_every=2, checkpoint_every=1)
    )
    with pytest.raises(TrainingDiverged, match="training diverged") as err:
        train(cfg, tmp_path / "run", load_genotype(genotype_file), load_loss_weights(loss_weights_file), progress=False)
    assert "lower train.lr" in str(err.value)
    if (tmp_path / "run" / "last.pt").exists():
        state = load_training_state(tmp_path / "run" / "last.pt")
        assert all(bool(torch.isfinite(v).all()) for v in state["state_dict"].values())
        assert "last.pt" in str(err.value)
    cfg = config_from_dict(
        run_config(pairs, genotype_file, loss_weights_file, tmp_path, steps=4, lr=1e30, val_every=1, checkpoint_every=1)
    )
    with pytest.raises(TrainingDiverged, match="NaN or infinite"):  # today: a ValueError from psnr
        train(
            cfg, tmp_path / "run2", load_genotype(genotype_file), load_loss_weights(loss_weights_file), progress=False
        )
