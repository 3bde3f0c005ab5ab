"""Round 3, strict types: counts are whole numbers (``steps=true`` is not one step), the parity
check's options refuse values that make it meaningless, and a bad device or model is named."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.config import ConfigError, load_config
from hadamard_restore.errors import DeviceError

runner = CliRunner()


@pytest.mark.parametrize(
    "override",
    ["train.steps=true", "train.steps=2.0", "train.batch_size=false", "net.channels=8.0", "search.arch_steps=yes"],
)
def test_counts_are_strict_integers(override):
    with pytest.raises(ConfigError, match="valid integer"):
        load_config(None, [override])


def test_train_steps_true_exits_2_and_trains_nothing(config_file, tmp_path):
    res = runner.invoke(app, ["train", str(config_file), "--set", "train.steps=true", "--out", str(tmp_path / "r")])
    assert res.exit_code == 2, res.output
    assert "train.steps" in res.output and "valid integer" in res.output
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "args,words",
    [
        (["--check-max-side", "0"], "--check-max-side 0 is too small"),
        (["--check-max-side", "-5"], "--check-max-side -5 is too small"),
        (["--tolerance", "inf"], "--tolerance inf makes the parity check meaningless"),
        (["--tolerance", "nan"], "--tolerance nan makes the parity check meaningless"),
        (["--tolerance", "-1"], "--tolerance -1 makes the parity check meaningless"),
        (["--tolerance", "5"], "--tolerance 5 makes the parity check meaningless"),
    ],
)
def test_export_refuses_parity_options_that_make_the_check_meaningless(model_file, tmp_path, args, words):
    out = tmp_path / "m.onnx"
    res = runner.invoke(app, ["export", str(model_file), "--onnx", str(out), *args])
    assert res.exit_code == 2, res.output
    assert words in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_export_onnx_refuses_them_in_the_library_too(model_file, tmp_path):
    from hadamard_restore.inference.export import ParityOptionError, export_onnx

    with pytest.raises(ParityOptionError, match="tolerance"):
        export_onnx(model_file, tmp_path / "m.onnx", tolerance=float("inf"))


def test_enhance_with_a_bad_device_string_exits_2(model_file, pairs, tmp_path):
    res = runner.invoke(
        app, ["enhance", str(model_file), str(pairs / "degraded"), "--out", str(tmp_path / "o"), "--device", "gpu0"]
    )
    assert res.exit_code == 2, res.output
    assert "device 'gpu0' is not a device name" in res.output and "Traceback" not in res.output


def test_train_with_a_bad_device_string_exits_2(config_file, tmp_path):
    res = runner.invoke(app, ["train", str(config_file), "--set", "device=gpu0", "--out", str(tmp_path / "r")])
    assert res.exit_code == 2, res.output
    assert "device 'gpu0' is not a device name" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "r").exists()


def test_pick_device_names_a_missing_gpu_index():
    import torch

    from hadamard_restore.runtime.process import pick_device

    with pytest.raises(DeviceError):
        pick_device("gpu0")
    with pytest.raises(DeviceError, match="GPU"):
        pick_device(f"cuda:{torch.cuda.device_count() + 3}")


@pytest.mark.parametrize("model", [None, 3, b"low-light.pt"])
def test_enhance_image_with_no_model_is_a_clear_type_error(model):
    import hadamard_restore as hr

    with pytest.raises(TypeError, match="model must be a bundled model name"):
        hr.enhance_image(np.zeros((8, 8, 3), np.uint8), model=model)


def test_enhance_image_with_a_bad_device_string_is_a_device_error():
    import hadamard_restore as hr

    with pytest.raises(DeviceError, match="gpu0"):
        hr.enhance_image(np.zeros((8, 8, 3), np.uint8), model="low-light", device="gpu0")
