"""Stage 2 on tiny demo data: a 3-step smoke run, α moves, the artifacts are complete."""

from __future__ import annotations

import json

import pytest
import torch

from hadamard_restore.config import ConfigError
from hadamard_restore.losses.loss_weights import load_loss_weights
from hadamard_restore.net.genotype import load_genotype
from hadamard_restore.reporting.plots import plot_search
from hadamard_restore.search.arch_stage import fixed_mix, search_arch
from hadamard_restore.search.build import alpha_state, supernet
from tests.search.search_cfg import tiny_job


@pytest.mark.weights
def test_three_step_arch_search_writes_a_genotype(tmp_path, provisioned_weights):
    job = tiny_job(tmp_path)
    out = search_arch(job, tmp_path / "arch", load_loss_weights("paper-lol"))
    geno = load_genotype(out)
    assert geno.num_hnu == 1 and geno.probabilities is not None
    probs = torch.tensor([p for row in geno.probabilities.values() for p in row])
    final = torch.load(tmp_path / "arch" / "alpha.pt")
    init = alpha_state(supernet(job.net, job.seed, "none", torch.device("cpu")))
    moved = max(float((final[g] - init[g]).abs().max()) for g in init)
    assert moved > 1e-4, "alpha did not move in 3 upper steps"
    summary = json.loads((tmp_path / "arch" / "search_arch.json").read_text())
    assert summary["steps"] == 3 and summary["loss_weights"]["tv"] == 0 and summary["loss_weights"]["laplacian"] == 0
    assert not list((tmp_path / "arch").glob("*.png")), "the search writes data; reporting draws"
    assert plot_search(tmp_path / "arch") == [tmp_path / "arch" / "alpha_probabilities.png"]
    assert (tmp_path / "arch" / "alpha_probabilities.png").stat().st_size > 1000
    assert torch.isfinite(probs).all()


@pytest.mark.weights
def test_stage_two_forces_tv_and_laplacian_off(provisioned_weights, tmp_path):

    lw = load_loss_weights("equal")
    mix, used = fixed_mix(tiny_job(tmp_path).loss, lw, torch.device("cpu"))
    assert used.weights["tv"] == 0 and used.weights["laplacian"] == 0 and used.weights["l1"] == 1.0
    assert not any(p.requires_grad for p in mix.parameters())
    x, y = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    _, terms = mix(x, y)
    assert "tv" not in terms and "laplacian" not in terms


def test_first_order_is_allowed_for_stage_two_only(tmp_path):
    from hadamard_restore.search.loss_stage import search_loss

    with pytest.raises(ConfigError, match="exactly zero gradient"):
        search_loss(tiny_job(tmp_path, "search.hessian=first_order"), tmp_path / "loss")


@pytest.mark.slow
@pytest.mark.weights
def test_arch_stage_resumes_to_the_same_parameters(tmp_path, provisioned_weights):
    job = tiny_job(tmp_path, "search.arch_steps=4")
    search_arch(job, tmp_path / "full", load_loss_weights("paper-lol"))
    assert search_arch(job, tmp_path / "cut", load_loss_weights("paper-lol"), stop_after=2) is None
    assert not (tmp_path / "cut" / "genotype.json").exists()
    search_arch(job, tmp_path / "cut", load_loss_weights("paper-lol"), resume=True)
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)
    assert a["step"] == b["step"] == 4
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert json.loads((tmp_path / "full" / "genotype.json").read_text()) == json.loads(
        (tmp_path / "cut" / "genotype.json").read_text()
    )
