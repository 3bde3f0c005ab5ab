"""search.upper=reference: stage 1 judged by L1 + (1 - SSIM) against the validation references."""

from __future__ import annotations

import pytest
import torch

from hadamard_restore.losses import functional as LF
from hadamard_restore.losses.loss_weights import LOSS_NAMES, load_loss_weights
from hadamard_restore.search.upper import needs_classifier, reference_upper, upper_objective
from tests.search.search_cfg import tiny_job


def test_reference_objective_closed_form(odd_pair):
    deg, ref = odd_pair
    assert float(reference_upper(ref, ref)) == pytest.approx(0.0, abs=1e-6)  # SSIM(x, x) = 1, L1 = 0
    x = deg.clone().requires_grad_()
    value = reference_upper(x, ref)
    assert torch.allclose(value, (deg - ref).abs().mean() + LF.ssim_loss(deg, ref) / 10)
    value.backward()
    assert x.grad.abs().sum() > 0


def test_reference_objective_evaluates_the_model_at_the_given_parameters(odd_pair):
    deg, ref = odd_pair
    model = torch.nn.Conv2d(3, 3, 1)
    shifted = {k: v.detach() + 0.1 for k, v in model.named_parameters()}
    objective = upper_objective("reference", model, None)
    expected = reference_upper(torch.nn.functional.conv2d(deg, shifted["weight"], shifted["bias"]), ref)
    assert torch.allclose(objective(shifted, (deg, ref)), expected)
    assert not needs_classifier("reference") and needs_classifier("classifier")
    with pytest.raises(ValueError, match="needs a classifier"):
        upper_objective("classifier", model, None)
    with pytest.raises(ValueError, match="one of classifier, reference"):
        upper_objective("oracle", model, None)


@pytest.mark.weights
def test_stage_one_with_the_reference_upper_trains_no_classifier(tmp_path, provisioned_weights):
    from hadamard_restore.search.loss_stage import search_loss

    job = tiny_job(tmp_path, "search.upper=reference", "search.beta_param=softmax", "search.upper_lr=0.1")
    lw = load_loss_weights(search_loss(job, tmp_path / "loss"))
    assert not (tmp_path / "loss" / "classifier").exists()
    assert lw.extra["upper"] == "reference" and lw.extra["classifier"]["upper"] == "reference"
    beta = torch.tensor([lw.weights[n] for n in LOSS_NAMES])
    assert (beta - 1.0).abs().max() > 1e-4 and float(beta.sum()) == pytest.approx(8.0, rel=1e-5)
    hist = torch.load(tmp_path / "loss" / "checkpoint.pt", weights_only=True)["history"]
    assert all(r["hyper/grad_norm"] > 0 and r["hyper/v_norm"] > 0 for r in hist)


@pytest.mark.weights
@pytest.mark.parametrize("mode", ["hierarchical", "joint"])
def test_whole_search_with_the_reference_upper_provides_no_classifier(tmp_path, provisioned_weights, mode):
    from hadamard_restore.search.hierarchy import search

    job = tiny_job(
        tmp_path,
        f"search.mode={mode}",
        "search.upper=reference",
        "search.beta_param=softmax",
        "search.loss_steps=1",
        "search.arch_steps=1",
    )
    out = search(job, tmp_path / "run")
    assert not list((tmp_path / "run").rglob("classifier.pt")), "a classifier was trained for nothing"
    lw = load_loss_weights(out["loss_weights"])
    assert lw.extra["upper"] == "reference" and lw.beta_param == "softmax"
    assert sum(lw.weights.values()) == pytest.approx(8.0, rel=1e-5)
    if mode == "joint":
        assert "against the references" in lw.notes
