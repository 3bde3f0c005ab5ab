"""net.space=global end to end on tiny demo data: the search, its genotype, the derived network."""

from __future__ import annotations

import json

import pytest
import torch

from hadamard_restore.net.build import build_network
from hadamard_restore.net.genotype import load_genotype
from hadamard_restore.net.primitives import SPACES
from hadamard_restore.search.hierarchy import search
from tests.search.search_cfg import tiny_job


@pytest.mark.weights
def test_a_tiny_search_in_the_global_space_derives_a_network_from_its_genotype(tmp_path, provisioned_weights):
    job = tiny_job(
        tmp_path,
        "net.space=global",
        "search.upper=reference",
        "search.beta_param=softmax",
        "search.loss_steps=1",
        "search.arch_steps=2",
    )
    out = search(job, tmp_path / "run")
    alpha = torch.load(tmp_path / "run" / "arch" / "alpha.pt", weights_only=True)
    assert {g: tuple(a.shape) for g, a in alpha.items()} == {"enc": (9, 4), "hnu1": (8, 10), "dec": (9, 4)}
    # the upper level reached the global op's column (its alpha moved from the 1e-3 init scale's draw)
    stage1 = torch.load(tmp_path / "run" / "loss" / "checkpoint.pt", weights_only=True)["model"]["arch.hnu1"]
    assert float((alpha["hnu1"][:, 9] - stage1[:, 9]).abs().max()) > 1e-6
    saved = json.loads(out["genotype"].read_text())
    assert saved["primitives"] == {k: list(v) for k, v in SPACES["global"].items()}
    geno = load_genotype(out["genotype"])
    assert geno.space == "global" and all(len(geno.probabilities[f"hnu1.{n}"]) == 10 for n in ("ru0", "rv3"))
    # the derived network builds from the genotype alone: a paper-space net section is no obstacle
    net = build_network(geno, job.net.model_copy(update={"space": "paper"}), seed=0)
    assert net.space == "global"
    with torch.no_grad():
        assert torch.isfinite(net(torch.rand(1, 3, 20, 24))).all()
