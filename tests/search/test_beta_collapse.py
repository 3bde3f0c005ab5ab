"""Stage 1 against an adversarial judge that pushes every β down: the softmax parametrisation
keeps its fixed total, the projected one stops with a clear error instead of ending at all zeros."""

from __future__ import annotations

import json

import pytest
import torch

from hadamard_restore.losses.beta_param import LossSearchCollapsedError
from hadamard_restore.losses.loss_weights import LOSS_NAMES, load_loss_weights
from hadamard_restore.search import loss_stage
from tests.search.search_cfg import tiny_job

# a direct penalty Σ c_i β_i with every c_i > 0 (distinct, so the softmax has somewhere to go)
PUSH = torch.tensor([1.0, 2, 3, 4, 5, 6, 7, 8]) * 100


@pytest.fixture
def adversarial_judge(monkeypatch):
    """Stage 1's problem builder (``loss_stage.loss_problem``, which ``search_loss``'s
    :class:`~hadamard_restore.search.stage.StageSpec` builder calls) with the push added."""
    real = loss_stage.loss_problem

    def with_push(*args, **kwargs):
        problem, mix = real(*args, **kwargs)
        upper = problem.upper_loss
        problem.upper_loss = lambda p, b: upper(p, b) + (PUSH.to(mix.beta.device) * mix.beta).sum()
        return problem, mix

    monkeypatch.setattr(loss_stage, "loss_problem", with_push)


@pytest.mark.weights
def test_softmax_stage_one_never_collapses(tmp_path, provisioned_weights, adversarial_judge):
    job = tiny_job(tmp_path, "search.beta_param=softmax", "search.upper_lr=0.6", "search.loss_steps=3")
    lw = load_loss_weights(loss_stage.search_loss(job, tmp_path / "loss"))
    beta = torch.tensor([lw.weights[n] for n in LOSS_NAMES])
    assert lw.beta_param == "softmax" and lw.is_active()
    assert float(beta.sum()) == pytest.approx(8.0, rel=1e-5) and (beta > 0).all()
    assert beta[0] > 1.0 > beta[-1], "the weight moved to the least-penalised term"
    summary = json.loads((tmp_path / "loss" / "search_loss.json").read_text())
    traj = summary["beta_trajectory"]
    assert summary["beta_param"] == "softmax" and [r["step"] for r in traj] == [1, 2, 3]
    assert all(sum(r[f"beta/{n}"] for n in LOSS_NAMES) == pytest.approx(8.0, rel=1e-5) for r in traj)
    assert traj[-1]["beta/l1"] == pytest.approx(lw.weights["l1"])


@pytest.mark.weights
def test_projected_stage_one_reports_the_collapse(tmp_path, provisioned_weights, adversarial_judge):
    job = tiny_job(tmp_path, "search.upper_lr=0.6", "search.loss_steps=3")
    with pytest.raises(LossSearchCollapsedError, match="would project every loss weight"):
        loss_stage.search_loss(job, tmp_path / "loss")
    assert not (tmp_path / "loss" / "loss_weights.json").exists()
