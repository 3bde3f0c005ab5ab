"""The CLI under ``torchrun --nproc_per_node 2`` (gloo on CPU) writes the same artifacts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.search.search_cfg import CONFIGS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.weights
def test_search_under_torchrun_two_ranks(tmp_path, provisioned_weights):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    sets = [
        "out_dir=" + str(tmp_path),
        "net.channels=4",
        "net.num_hnu=1",
        "data.demo.size=32",
        "data.demo.crops_per_image=2",
        "search.crop=32",
        "search.batch_size=1",
        "search.loss_steps=1",
        "search.arch_steps=1",
        "classifier.steps=2",
        "classifier.batch_size=2",
        "classifier.crop=32",
        "classifier.pretrained=false",
        "device=cpu",
    ]
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "hadamard_restore",
        "search",
        str(CONFIGS / "demo.yaml"),
        "--out",
        str(tmp_path / "run"),
    ]
    for s in sets:
        cmd += ["--set", s]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "run"
    assert (run / "loss_weights.json").is_file() and (run / "genotype.json").is_file()
    for stage in ("loss", "arch"):
        ck = torch.load(run / stage / "checkpoint.pt", weights_only=True)
        assert len(ck["rng"]) == 2, "every rank's random streams are saved"
        g0, g1 = (r["generators"]["train"] for r in ck["rng"])
        assert not torch.equal(g0, g1), "ranks must draw different data"
