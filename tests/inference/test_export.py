"""ONNX export: dynamic H/W (odd sizes), parity with PyTorch under 1e-3, atomic and gated writes."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.errors import CheckpointError
from hadamard_restore.inference.export import ParityError, default_check_images, export_onnx
from hadamard_restore.net.genotype import load_genotype
from hadamard_restore.net.model_file import save_model
from hadamard_restore.net.network import HadamardNet
from tests.tiny import random_model_file


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """The real paper-lol network at width 8 (untrained weights), saved as a model file."""
    return random_model_file(tmp_path_factory.mktemp("ck"), channels=8, seed=3)


def _run(path, x: torch.Tensor) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["restored"], {"image": x.numpy()})[0]


def _torch(model_path, x):
    from hadamard_restore.net.model_file import load_model

    model, _ = load_model(model_path, "cpu")
    with torch.inference_mode():
        return model(x).numpy()


def _check_dynamic(onnx_path, model_path, gen, clamp=True):
    for h, w in [(37, 31), (40, 44), (21, 58)]:  # odd, multiple of 4, mixed
        x = torch.rand(1, 3, h, w, generator=gen)
        got = _run(onnx_path, x)
        assert got.shape == (1, 3, h, w)
        want = _torch(model_path, x)
        assert np.abs(got - (want.clip(0, 1) if clamp else want)).max() < 1e-3


def test_torchscript_export_parity_and_dynamic_shapes(model_file, tmp_path, gen):
    out = tmp_path / "net.onnx"
    report = export_onnx(model_file, out, exporter="torchscript", check_max_side=64)
    assert report.ok and report.exporter == "torchscript"
    assert [c.name for c in report.checks][0] == "random"
    assert all(0 <= c.max_abs_diff < 1e-3 for c in report.checks)
    assert report.checks[1].size == (64, 64)  # the bundled photo, shrunk
    assert "PASS" in report.summary() and "max abs diff" in report.summary()
    _check_dynamic(out, model_file, gen)
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert (
        json.loads(props["genotype"])["layers"] == HadamardNet(load_genotype("paper-lol"), channels=8).genotype.layers
    )
    assert props["exporter"] == "torchscript"
    assert not [p for p in tmp_path.iterdir() if p.name != "net.onnx"]  # no temp files left


@pytest.mark.slow
def test_dynamo_export_parity_and_dynamic_shapes(model_file, tmp_path, gen):
    out = tmp_path / "net.onnx"
    report = export_onnx(model_file, out, exporter="dynamo", check_max_side=48)
    assert report.ok and report.exporter == "dynamo" and report.max_abs_diff < 1e-3
    _check_dynamic(out, model_file, gen)


def test_the_graph_clamps_to_0_1_by_default_and_raw_keeps_the_network_value(model_file, tmp_path, gen):
    """Checked with onnxruntime at two sizes and a batch of 2: clamped by default, raw with clamp=False."""
    clamped, raw = tmp_path / "clamped.onnx", tmp_path / "raw.onnx"
    report = export_onnx(model_file, clamped, exporter="torchscript", check_max_side=48)
    assert report.clamped and "output clamped to [0, 1]" in report.summary()
    assert (
        "raw output" in export_onnx(model_file, raw, exporter="torchscript", check_max_side=48, clamp=False).summary()
    )
    for h, w in [(37, 31), (64, 48)]:
        x = torch.rand(2, 3, h, w, generator=gen) * 1.2  # bright: the raw output leaves [0, 1]
        want = _torch(model_file, x)
        assert want.max() > 1.0 or want.min() < 0.0  # else the clamp would not show
        got, got_raw = _run(clamped, x), _run(raw, x)
        assert got.shape == got_raw.shape == (2, 3, h, w)
        assert got.min() >= 0.0 and got.max() <= 1.0
        assert np.abs(got - want.clip(0, 1)).max() < 1e-3 and np.abs(got_raw - want).max() < 1e-3
        assert np.abs(got[1:] - _run(clamped, x[1:])).max() < 1e-5  # each image of the batch on its own
    props = {path.name: {p.key: p.value for p in onnx.load(str(path)).metadata_props} for path in (clamped, raw)}
    assert props["clamped.onnx"]["output"] == "clamped to [0, 1]" and props["raw.onnx"]["output"] == "raw"


def test_cli_export_raw_flag(model_file, tmp_path):
    out = tmp_path / "raw.onnx"
    args = ["export", str(model_file), "--onnx", str(out), "--exporter", "torchscript", "--check-max-side", "32"]
    res = CliRunner().invoke(app, [*args, "--raw"])
    assert res.exit_code == 0, res.output
    assert "raw output, not clamped" in res.output
    assert {p.key: p.value for p in onnx.load(str(out)).metadata_props}["output"] == "raw"


def test_parity_failure_writes_nothing(model_file, tmp_path):
    out = tmp_path / "net.onnx"
    out.write_bytes(b"previous")
    with pytest.raises(ParityError, match="not written: the exported graph differs"):
        export_onnx(model_file, out, exporter="torchscript", check_max_side=32, tolerance=0.0)
    assert out.read_bytes() == b"previous"


def test_check_images_random_is_odd_and_seeded():
    a = default_check_images(max_side=40, seed=5)
    b = default_check_images(max_side=40, seed=5)
    assert torch.equal(a["random"], b["random"])
    h, w = a["random"].shape[-2:]
    assert h % 2 == 1 and w % 2 == 1
    photo = [v for k, v in a.items() if k != "random"][0]
    assert max(photo.shape[-2:]) == 40 and 0.0 <= photo.min() and photo.max() <= 1.0


@pytest.mark.realdata
def test_parity_on_a_real_lol_image(model_file, tmp_path, data_root):
    low = sorted((data_root / "lol-v1" / "our485" / "low").glob("*.png"))[0]
    report = export_onnx(
        model_file, tmp_path / "n.onnx", exporter="torchscript", check_images=[low], check_max_side=150
    )
    assert report.checks[1].name == low.name and report.checks[1].size == (100, 150)
    assert report.ok and report.max_abs_diff < 1e-3


def test_cli_export_prints_differences_and_fails_on_bad_checkpoint(model_file, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli.onnx"
    res = runner.invoke(
        app, ["export", str(model_file), "--onnx", str(out), "--exporter", "torchscript", "--check-max-side", "32"]
    )
    assert res.exit_code == 0, res.output
    assert "max abs diff" in res.output and "PASS" in res.output and out.is_file()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(model_file.read_bytes()[:100])
    res = runner.invoke(app, ["export", str(bad), "--onnx", str(tmp_path / "x.onnx")])
    assert res.exit_code == 2 and "truncated" in res.output
    with pytest.raises(CheckpointError, match="truncated"):
        export_onnx(bad, tmp_path / "x.onnx")


def test_a_global_space_network_exports_with_parity(tmp_path, gen):
    from hadamard_restore.net.genotype import Genotype
    from hadamard_restore.net.model_file import load_model
    from hadamard_restore.net.primitives import SPACES

    layers = dict(load_genotype("paper-lol").layers) | {"hnu2.ru1": "globalres_1x1", "hnu7.rv0": "globalres_1x1"}
    geno = Genotype.from_dict({"num_hnu": 7, "layers": layers, "primitives": dict(SPACES["global"])})
    net = HadamardNet(geno, channels=8, generator=torch.Generator().manual_seed(3))
    path = save_model(tmp_path / "model.pt", net, geno, {"l1": 1.0}, None)
    assert load_model(path, "cpu")[0].genotype == geno  # the model file rebuilds it from the genotype alone
    report = export_onnx(path, tmp_path / "net.onnx", exporter="torchscript", check_max_side=64)
    assert report.ok and all(0 <= c.max_abs_diff < 1e-3 for c in report.checks)
    _check_dynamic(tmp_path / "net.onnx", path, gen)
