"""The schedule: t alternations of stage 1 then stage 2, and the joint mode, on tiny demo data."""

from __future__ import annotations

import pytest
import torch

from hadamard_restore.losses.loss_weights import load_loss_weights
from hadamard_restore.net.genotype import load_genotype
from hadamard_restore.search.hierarchy import search
from tests.search.search_cfg import tiny_job


@pytest.mark.slow
@pytest.mark.weights
def test_two_alternations_chain_alpha_and_write_both_artifacts(tmp_path, provisioned_weights):
    cfg = tiny_job(tmp_path, "search.alternations=2", "search.loss_steps=1", "search.arch_steps=1")
    out = search(cfg, tmp_path / "run")
    assert load_genotype(out["genotype"]).num_hnu == 1
    load_loss_weights(out["loss_weights"])
    # the classifier was trained once, for both rounds
    assert (tmp_path / "run" / "classifier" / "classifier.pt").is_file()
    assert not (tmp_path / "run" / "round1" / "loss" / "classifier").exists()
    # round 2's stage 1 froze the supernet at round 1's searched alpha
    a1 = torch.load(tmp_path / "run" / "round1" / "arch" / "alpha.pt")
    ck = torch.load(tmp_path / "run" / "round2" / "loss" / "checkpoint.pt", weights_only=True)
    for g, a in a1.items():
        assert torch.equal(ck["model"][f"arch.{g}"], a)
    # the top-level artifacts are the last round's
    assert out["genotype"].read_bytes() == (tmp_path / "run" / "round2" / "arch" / "genotype.json").read_bytes()


@pytest.mark.weights
def test_joint_mode_searches_alpha_and_beta_together(tmp_path, provisioned_weights):
    cfg = tiny_job(tmp_path, "search.mode=joint", "search.loss_steps=2")
    out = search(cfg, tmp_path / "joint")
    lw = load_loss_weights(out["loss_weights"])
    geno = load_genotype(out["genotype"])
    assert max(abs(v - 1.0) for v in lw.weights.values()) > 1e-5
    probs = torch.tensor([p for row in geno.probabilities.values() for p in row])
    assert torch.isfinite(probs).all()


@pytest.mark.slow
@pytest.mark.weights
def test_resume_skips_finished_stages(tmp_path, provisioned_weights):
    cfg = tiny_job(tmp_path, "search.loss_steps=1", "search.arch_steps=1")
    out = search(cfg, tmp_path / "run")
    first = out["genotype"].read_bytes()
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "run").glob("*/checkpoint.pt")}
    assert len(stamps) == 2
    out["genotype"].unlink()
    out = search(cfg, tmp_path / "run", resume=True)
    assert out["genotype"].read_bytes() == first
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps, "a finished stage was run again"


def test_schedule_refuses_first_order_before_any_work(tmp_path):
    from hadamard_restore.config import ConfigError

    with pytest.raises(ConfigError, match="zero gradient"):
        search(tiny_job(tmp_path, "search.hessian=first_order"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def _one_hnu_genotype(path):
    from hadamard_restore.net.genotype import Genotype
    from hadamard_restore.net.primitives import layer_labels

    layers = {label: "conv_3x3" for label in layer_labels(1)}
    return Genotype.from_dict({"name": "fixed", "num_hnu": 1, "layers": layers}).save(path)


@pytest.mark.weights
def test_fixed_architecture_skips_stage_2(tmp_path, provisioned_weights):
    fixed = _one_hnu_genotype(tmp_path / "fixed.json")
    cfg = tiny_job(tmp_path, "search.loss_steps=2", f"search.architecture={fixed}")
    out = search(cfg, tmp_path / "run")
    assert load_genotype(out["genotype"]).layers == load_genotype(fixed).layers
    assert (tmp_path / "run" / "loss" / "loss_weights.json").is_file()  # stage 1 ran
    assert not (tmp_path / "run" / "arch" / "alpha.pt").exists()  # stage 2 did not
    assert not (tmp_path / "run" / "arch" / "checkpoint.pt").exists()
    load_loss_weights(out["loss_weights"])


def test_fixed_architecture_is_checked_before_any_work(tmp_path):
    from hadamard_restore.config import ConfigError
    from hadamard_restore.errors import GenotypeError

    with pytest.raises(GenotypeError, match="7 HNUs but net.num_hnu is 1"):
        search(tiny_job(tmp_path, "search.architecture=all-3c"), tmp_path / "run")
    with pytest.raises(GenotypeError):
        search(tiny_job(tmp_path, "search.architecture=no-such-genotype"), tmp_path / "run2")
    assert not (tmp_path / "run" / "classifier").exists() and not (tmp_path / "run2").exists()
    for bad in ("search.alternations=2", "search.mode=joint"):
        with pytest.raises(ConfigError, match="no stage 2 to alternate or join"):
            tiny_job(tmp_path, "search.architecture=all-3c", bad)
