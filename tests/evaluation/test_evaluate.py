"""evaluate(): metrics.json agrees with hadamard_restore.metrics computed directly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hadamard_restore.config import EvalConfig
from hadamard_restore.data.io import read_image
from hadamard_restore.errors import CheckpointError, DataError
from hadamard_restore.evaluation.evaluate import evaluate
from hadamard_restore.inference.enhance import infer, quantize_8bit
from hadamard_restore.metrics.perceptual import lpips
from hadamard_restore.metrics.psnr import psnr
from hadamard_restore.metrics.ssim import ssim
from hadamard_restore.net.model_file import load_model
from hadamard_restore.reporting.grid import LABEL_HEIGHT

REPO = Path(__file__).resolve().parents[2]


def test_metrics_json_matches_direct_computation(tiny_eval, tiny_run, tiny_pairs):
    m = json.loads(Path(tiny_eval["path"]).read_text())
    assert m["count"] == 8 and len(m["per_image"]) == 8
    model, _ = load_model(tiny_run / "model.pt")
    for row in m["per_image"]:
        deg, ref = read_image(tiny_pairs / "degraded" / row["name"]), read_image(tiny_pairs / "reference" / row["name"])
        saved = read_image(tiny_run / "eval" / "outputs" / row["name"])
        direct = quantize_8bit(infer(model, deg, torch.device("cpu")))[None]  # evaluate's own forward
        assert torch.equal(saved[None], direct)  # the PNG holds exactly the scored 8-bit values
        with torch.no_grad():  # another memory layout changes float rounding only: at most one 8-bit step
            plain = quantize_8bit(model(deg[None]))
        assert float((plain - direct).abs().max()) <= 1 / 255 + 1e-6
        assert row["psnr"] == pytest.approx(float(psnr(saved[None], ref[None])[0]), abs=1e-9)
        assert row["ssim"] == pytest.approx(float(ssim(saved[None], ref[None])[0]), abs=1e-9)
        assert row["input_psnr"] == pytest.approx(float(psnr(deg[None], ref[None])[0]), abs=1e-9)
        if row["lpips"] is not None:
            assert row["lpips"] == pytest.approx(float(lpips(saved[None], ref[None])[0]), abs=1e-6)
    for key in ("psnr", "ssim"):
        assert m["mean"][key] == pytest.approx(sum(r[key] for r in m["per_image"]) / 8)
        assert m["input_mean"][key] == pytest.approx(sum(r[f"input_{key}"] for r in m["per_image"]) / 8)


def test_gt_mean_columns_rescale_the_unrounded_output_and_sit_beside_the_plain_ones(tiny_eval, tiny_run, tiny_pairs):
    m = json.loads(Path(tiny_eval["path"]).read_text())
    model, _ = load_model(tiny_run / "model.pt")
    for row in m["per_image"]:
        deg, ref = read_image(tiny_pairs / "degraded" / row["name"]), read_image(tiny_pairs / "reference" / row["name"])
        for key, x in (("gt_mean_", infer(model, deg, torch.device("cpu"))), ("input_gt_mean_", deg)):
            mean_ratio = float(
                (ref.double() * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(0).mean()
            ) / float((x.double() * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(0).mean())
            scaled = quantize_8bit((x.double() * mean_ratio).clamp(0, 1).float())[None]
            assert row[f"{key}psnr"] == pytest.approx(float(psnr(scaled, ref[None])[0]), abs=1e-9)
            assert row[f"{key}ssim"] == pytest.approx(float(ssim(scaled, ref[None])[0]), abs=1e-9)
        assert row["psnr"] != row["gt_mean_psnr"]  # the plain column is untouched
    for key in ("gt_mean_psnr", "gt_mean_ssim"):
        assert m["mean"][key] == pytest.approx(sum(r[key] for r in m["per_image"]) / 8)
        assert m["input_mean"][key] == pytest.approx(sum(r[f"input_{key}"] for r in m["per_image"]) / 8)
    assert "0.299 R + 0.587 G + 0.114 B" in m["protocol"]["gt_mean"]


def test_metrics_json_has_an_appearance_block(tiny_eval, tiny_run, tiny_pairs):
    from hadamard_restore.evaluation.appearance import compare

    m = json.loads(Path(tiny_eval["path"]).read_text())
    row = m["per_image"][0]
    saved = read_image(tiny_run / "eval" / "outputs" / row["name"])
    deg, ref = read_image(tiny_pairs / "degraded" / row["name"]), read_image(tiny_pairs / "reference" / row["name"])
    direct = compare(saved, ref, deg)  # measured on the saved 8-bit output
    for part in ("output", "reference", "input"):
        assert row["appearance"][part] == pytest.approx(direct[part])
    assert row["appearance"]["grid_energy_vs_input"] == pytest.approx(direct["grid_energy_vs_input"])
    block = m["appearance"]
    assert block["count"] == 8
    assert block["contrast_ratio"] == pytest.approx(sum(r["appearance"]["contrast_ratio"] for r in m["per_image"]) / 8)
    assert block["output"]["black_level"] == pytest.approx(
        sum(r["appearance"]["output"]["black_level"] for r in m["per_image"]) / 8
    )


def test_metrics_json_records_protocol_and_model(tiny_eval, tiny_run):
    m = json.loads(Path(tiny_eval["path"]).read_text())
    p = m["protocol"]
    assert p["y_channel"] is False and p["crop_border"] == 0 and p["data_range"] == 1.0
    assert p["lpips_net"] == "alex" and "8-bit" in p["computed_on"]
    assert m["genotype"]["name"] == "tiny" and m["loss_weights"]["weights"]["ssim"] == 0.2
    assert m["net"]["channels"] == 4


def test_grid_has_one_row_per_sample(tiny_eval, tiny_run):
    grid = read_image(tiny_run / "eval" / "grid.png")
    assert grid.shape[1] == LABEL_HEIGHT + 4 * (160 + 4) + 4  # labels, grid_images=4 rows of height 160, gaps
    assert grid.shape[2] > 3 * 160 * 31 / 37  # three images side by side


def test_split_limits_to_its_validation_names_and_flags_apply(tiny_run, tiny_pairs, tmp_path):
    split = json.loads((tiny_run / "split.json").read_text())
    cfg = EvalConfig(y_channel=True, crop_border=2, grid_images=1)
    result = evaluate(
        tiny_run / "model.pt",
        tiny_pairs,
        split=tiny_run / "split.json",
        out=tmp_path,
        eval_cfg=cfg,
        device="cpu",
        save_outputs=False,
    )
    names = sorted(Path(e["degraded"]).name for e in split["val"])
    assert sorted(r["name"] for r in result["per_image"]) == names
    row = result["per_image"][0]
    deg = read_image(tiny_pairs / "degraded" / row["name"])[None]
    ref = read_image(tiny_pairs / "reference" / row["name"])[None]
    assert row["input_psnr"] == pytest.approx(float(psnr(deg, ref, y_channel=True, crop_border=2)[0]))
    assert result["protocol"]["y_channel"] is True and result["protocol"]["color_space"].startswith("Y")
    assert not (tmp_path / "outputs").exists()


def test_bad_inputs_are_clear(tiny_run, tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        evaluate(tiny_run / "model.pt", tmp_path / "nowhere", device="cpu")
    bad = tmp_path / "bad.pt"
    bad.write_bytes((tiny_run / "model.pt").read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated"):
        evaluate(bad, tmp_path, device="cpu")


def test_cli_prints_means_and_path(tiny_run, tiny_pairs, tmp_path):
    env = {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hadamard_restore",
            "evaluate",
            str(tiny_run / "model.pt"),
            "--data",
            str(tiny_pairs),
            "--out",
            str(tmp_path),
            "--set",
            "eval.grid_images=0",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "8 images: PSNR" in done.stdout and str(tmp_path / "metrics.json") in done.stdout
    gt = json.loads((tmp_path / "metrics.json").read_text())["mean"]["gt_mean_psnr"]
    assert f"GT-mean (output brightness matched to the reference; not the headline): PSNR {gt:.3f} dB" in done.stdout
    assert not (tmp_path / "grid.png").exists()


def test_evaluate_runs_the_fast_path_enhance_uses_in_full_precision(
    tiny_eval, tiny_run, tiny_pairs, tmp_path, monkeypatch
):
    """evaluate shares enhance's backend choice (checked, untimed, cached); fp32 by default."""
    from hadamard_restore.inference.fastpath import backends, choice
    from hadamard_restore.inference.fastpath.cache import cache_path
    from hadamard_restore.inference.fastpath.choice import forget

    monkeypatch.setenv("HADAMARD_RESTORE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(choice, "AUTO_MIN_PIXELS", 0)  # the tiny pairs are smaller than auto's floor
    monkeypatch.setattr(choice, "_time", lambda *a: pytest.fail("evaluate timed the backends"))
    forget()
    try:
        got = evaluate(tiny_run / "model.pt", tiny_pairs, out=tmp_path / "eval", device="cpu")
    finally:
        forget()
    ((key, entry),) = json.loads(cache_path().read_text())["entries"].items()
    assert "precision fp32" in key and entry["chosen_by"] == "parity check, untimed"
    assert entry["backend"] == backends.preferred(torch.device("cpu"), False, "fp32")
    assert got["backend"] == {"backend": "auto", "precision": "fp32"}
    plain = {r["name"]: r["psnr"] for r in tiny_eval["per_image"]}
    assert all(abs(r["psnr"] - plain[r["name"]]) < 0.02 for r in got["per_image"])  # 1e-3 parity, 8-bit output


def test_cli_refuses_an_unknown_backend_or_precision_before_any_work(tiny_run, tiny_pairs, tmp_path):
    from typer.testing import CliRunner

    from hadamard_restore.cli.app import app

    base = ["evaluate", str(tiny_run / "model.pt"), "--data", str(tiny_pairs), "--out", str(tmp_path / "e")]
    for extra in (["--backend", "fastest"], ["--precision", "fp16"]):
        res = CliRunner().invoke(app, [*base, *extra])
        assert res.exit_code == 2 and "--backend must be one of auto, timed, eager" in res.output
        assert "Traceback" not in res.output and not (tmp_path / "e").exists()
