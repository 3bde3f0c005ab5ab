"""train(): the real network, loss and data on a tiny folder; artifacts; resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from hadamard_restore.config import config_from_dict
from hadamard_restore.errors import GenotypeError
from hadamard_restore.losses.loss_weights import load_loss_weights
from hadamard_restore.net import model_file
from hadamard_restore.net.genotype import load_genotype
from hadamard_restore.training.state import load_training_state
from hadamard_restore.training.train import train
from tests.tiny import cli_env, run_cli, tiny_config


def test_train_writes_every_artifact(tiny_run, tiny_genotype):
    for name in (
        "config.yaml",
        "genotype.json",
        "loss_weights.json",
        "split.json",
        "model.pt",
        "last.pt",
        "history.json",
        "train_summary.json",
    ):
        assert (tiny_run / name).is_file(), name
    assert (
        json.loads((tiny_run / "genotype.json").read_text())["layers"]
        == json.loads(tiny_genotype.read_text())["layers"]
    )
    assert json.loads((tiny_run / "loss_weights.json").read_text())["weights"]["ssim"] == 0.2
    split = json.loads((tiny_run / "split.json").read_text())
    assert len(split["train"]) == 6 and len(split["val"]) == 2
    model, meta = model_file.load_model(tiny_run / "model.pt")
    assert meta["net"] == {"channels": 4, "num_hnu": 1, "norm": "instance", "upsample": "transpose"}
    assert meta["genotype"]["name"] == "tiny" and meta["loss_weights"]["weights"]["l1"] == 1.0
    assert yaml.safe_load(meta["config"])["train"]["steps"] == 12
    assert sum(p.numel() for p in model.parameters()) > 0


def test_training_lowers_the_loss_and_raises_val_psnr(tiny_run):
    hist = json.loads((tiny_run / "history.json").read_text())
    assert [e["step"] for e in hist["val"]] == [4, 8, 12]
    assert {"l1", "l2", "color", "ssim"} == set(hist["train"][0]) - {"step", "lr", "loss"}
    first, last = hist["train"][0]["loss"], hist["train"][-1]["loss"]
    assert last < first
    summary = json.loads((tiny_run / "train_summary.json").read_text())
    assert summary["best_val_psnr"] == max(e["psnr"] for e in hist["val"])
    assert summary["best_val_psnr"] > hist["val"][0]["psnr"]


def test_genotype_depth_must_match_the_config(tmp_path, tiny_pairs, tiny_genotype, tiny_loss_weights):
    cfg = tiny_config(tiny_pairs)
    cfg["net"]["num_hnu"] = 2
    with pytest.raises(GenotypeError, match="describes 1 HNUs but num_hnu=2"):
        train(
            config_from_dict(cfg),
            tmp_path,
            load_genotype(tiny_genotype),
            load_loss_weights(tiny_loss_weights),
            progress=False,
        )


# ------------------------------------------------------------------ resume after SIGKILL
DRIVER = """
import sys, time, yaml
from hadamard_restore.config import config_from_dict
from hadamard_restore.losses.loss_weights import load_loss_weights
from hadamard_restore.net.genotype import load_genotype
from hadamard_restore.training.train import train
cfg, run_dir, hang_at = sys.argv[1], sys.argv[2], int(sys.argv[5])
geno, lw = load_genotype(sys.argv[3]), load_loss_weights(sys.argv[4])
def hang(step):
    if step == hang_at:            # past the checkpoint at step 8: steps 9-10 are lost by the kill
        open(run_dir + "/hanging", "w").close()
        time.sleep(600)
train(config_from_dict(yaml.safe_load(open(cfg))), run_dir, geno, lw, on_step=hang, progress=False)
"""


def _cli_train(cfg_path, run_dir, geno, lw, *extra):
    return run_cli("train", cfg_path, "--genotype", geno, "--loss-weights", lw, "--out", run_dir, *extra)


@pytest.mark.slow
def test_resume_after_sigkill_ends_with_the_same_weights(tmp_path, tiny_pairs, tiny_genotype, tiny_loss_weights):
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(tiny_config(tiny_pairs, steps=14)))
    _cli_train(cfg_path, tmp_path / "whole", tiny_genotype, tiny_loss_weights)

    killed = tmp_path / "killed"
    killed.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(cfg_path), str(killed), str(tiny_genotype), str(tiny_loss_weights), "10"],
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 240
    while not (killed / "hanging").exists():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.time() < deadline, "the training subprocess never reached step 10"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    state = load_training_state(killed / "last.pt")
    assert state["training"]["step"] == 8  # the checkpoint before the kill

    out = _cli_train(cfg_path, killed, tiny_genotype, tiny_loss_weights, "--resume")
    assert "model.pt" in out.stdout
    whole, resumed = (
        model_file.read_model_file(tmp_path / "whole" / "last.pt"),
        model_file.read_model_file(killed / "last.pt"),
    )
    assert whole["training"]["step"] == resumed["training"]["step"] == 14
    for k, v in whole["state_dict"].items():
        assert torch.equal(v, resumed["state_dict"][k]), k
    assert whole["training"]["history"] == resumed["training"]["history"]
    best_w, best_r = (
        model_file.read_model_file(tmp_path / "whole" / "model.pt"),
        model_file.read_model_file(killed / "model.pt"),
    )
    assert best_w["meta"]["step"] == best_r["meta"]["step"]
    assert all(torch.equal(v, best_r["state_dict"][k]) for k, v in best_w["state_dict"].items())


def test_cli_resume_needs_the_run_directory(tmp_path, tiny_pairs):
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(tiny_config(tiny_pairs)))
    done = run_cli("train", cfg_path, "--resume", timeout=120, check=False)
    assert done.returncode == 2 and "--resume needs --out RUN_DIR" in done.stderr
