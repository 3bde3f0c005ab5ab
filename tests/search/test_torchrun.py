"""The CLI under ``torchrun --nproc_per_node 2`` (gloo on CPU) writes the same artifacts."""

from __future__ import annotations

import pytest
import torch

from tests.search.search_cfg import CONFIGS, TINY_SEARCH
from tests.tiny import run_cli


@pytest.mark.slow
@pytest.mark.weights
def test_search_under_torchrun_two_ranks(tmp_path, provisioned_weights):
    sets = [f"out_dir={tmp_path}", *TINY_SEARCH, "search.loss_steps=1", "search.arch_steps=1"]
    options = [x for s in sets for x in ("--set", s)]
    run_cli("search", CONFIGS / "demo.yaml", "--out", tmp_path / "run", *options, nproc=2, timeout=600)
    run = tmp_path / "run"
    assert (run / "loss_weights.json").is_file() and (run / "genotype.json").is_file()
    for stage in ("loss", "arch"):
        ck = torch.load(run / stage / "checkpoint.pt", weights_only=True)
        assert len(ck["rng"]) == 2, "every rank's random streams are saved"
        g0, g1 = (r["generators"]["train"] for r in ck["rng"])
        assert not torch.equal(g0, g1), "ranks must draw different data"
