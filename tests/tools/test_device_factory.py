"""The GPU model factory: the pack fits one call and pins the bundled model's pairs; the CPU dry run
of tools/device_train.sh runs every stage and writes its model, card, metrics and logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "src" / "hadamard_restore" / "resources" / "models" / "low-light"


@pytest.fixture(scope="module")
def pack(tmp_path_factory, data_root, provisioned_weights) -> Path:
    out = tmp_path_factory.mktemp("pack") / "low-light"
    res = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "device_pack.py"), "low-light", "--out", str(out), "--no-wheels"],
        capture_output=True,
        text=True,
        env={**os.environ, "HADAMARD_RESTORE_DATA": str(data_root)},
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "fits" in res.stdout.splitlines()[-1]
    return out


@pytest.mark.slow
def test_the_pack_fits_and_pins_the_bundled_models_pairs(pack):
    info = json.loads((pack / "pack.json").read_text())
    assert (
        info["bytes"]["total"] <= 64 * 2**20
        and info["bytes"]["total"] == info["bytes"]["pack"] + info["bytes"]["working_tree"]
    )
    assert (pack / ".gitignore").read_text().strip().endswith("*")  # never committed by accident
    bundled = json.loads((BUNDLED / "heldout.json").read_text())
    packed = json.loads((pack / "heldout.json").read_text())
    stem = lambda e: (Path(e["degraded"]).with_suffix("").as_posix(), Path(e["reference"]).with_suffix("").as_posix())  # noqa: E731
    assert [stem(e) for e in packed["val"]] == [stem(e) for e in bundled["val"]]  # the same held-out pairs
    assert [stem(e) for e in packed["train"]] == [stem(e) for e in bundled["train"]]
    dev = json.loads((pack / "dev.json").read_text())
    dev_names = {stem(e) for e in dev["train"] + dev["val"]}
    assert dev_names == {stem(e) for e in packed["train"]} and not dev_names & {stem(e) for e in packed["val"]}
    from hadamard_restore.data.integrity import verify_split
    from hadamard_restore.data.split import Split

    verify_split(Split.load(pack / "heldout.json"), pack / "data")  # names and sha256s of the packed files
    data = info["data"]
    if data["mode"] != "lossless":  # every lossy file's fidelity is recorded, and it is high
        assert data["psnr_vs_original"]["min"] > 35.0
        assert len(data["psnr_vs_original"]["files"]) == len(list((pack / "data").rglob("*.jpg")))


@pytest.mark.slow
def test_the_dry_run_runs_every_stage_and_writes_at_most_8_files(pack, tmp_path):
    out = tmp_path / "out"
    res = subprocess.run(
        ["bash", str(ROOT / "tools" / "device_train.sh"), "low-light", "--dry-run", "--pack", str(pack)],
        capture_output=True,
        text=True,
        env={**os.environ, "OUT": str(out), "PYTHON": sys.executable},
        timeout=900,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    files = sorted(p.name for p in out.iterdir())
    assert files == ["card.json", "logs.tar.gz", "metrics.json", "model.pt"] and len(files) <= 8
    card = json.loads((out / "card.json").read_text())
    assert card["dry_run"] is True and card["error"] is None and card["device"] == "CPU (dry run)"
    for stage in ("classifier", "search-loss", "search-arch", "train", "evaluate"):
        assert card["stages"][stage]["ok"] is True, stage
    for stage in ("classifier", "search-loss", "search-arch", "train"):  # sized from a measured rate
        rate = card["stages"]["rates"][stage]
        assert rate["seconds_per_step"] > 0 and rate["steps"] >= 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert card["heldout"]["model"] == metrics["mean"] and metrics["count"] == card["heldout"]["pairs"] == 4
    assert card["beats_bundled_psnr"] is None  # a dry run's few pairs are never compared
    from hadamard_restore.net.model_file import read_model_file

    assert read_model_file(out / "model.pt")["meta"]["weights"] in ("ema", "raw")
    with tarfile.open(out / "logs.tar.gz") as tar:
        names = tar.getnames()
    assert "progress.log" in names and "train.log" in names and "train/train_summary.json" in names
