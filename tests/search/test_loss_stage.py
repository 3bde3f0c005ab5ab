"""Stage 1 on tiny demo data: β gets a non-zero hypergradient and moves; artifacts are complete."""

from __future__ import annotations

import json

import pytest
import torch

from hadamard_restore.losses.loss_weights import LOSS_NAMES, load_loss_weights
from hadamard_restore.search.loss_stage import search_loss
from search_cfg import tiny_cfg


@pytest.mark.weights
@pytest.mark.parametrize("model", ["supernet", "unet"])
def test_three_step_loss_search_moves_beta(tmp_path, provisioned_weights, model):
    cfg = tiny_cfg(tmp_path, f"search.loss_model={model}")
    out = search_loss(cfg, tmp_path / "loss")
    lw = load_loss_weights(out)
    beta = torch.tensor([lw.weights[n] for n in LOSS_NAMES])
    assert (beta >= 0).all()
    assert (beta - 1.0).abs().max() > 1e-4, "beta never left 1.0: the hypergradient was zero"
    assert lw.vgg_layers is not None and len(lw.vgg_layers) == 4
    ckpt = torch.load(tmp_path / "loss" / "checkpoint.pt", weights_only=False)
    hist = ckpt["history"]
    assert len(hist) == 3
    # the classifier loss has no direct path to beta: every step's gradient came from the unrolled term
    assert all(r["hyper/grad_norm"] > 0 and r["hyper/virtual_step_norm"] > 0 for r in hist)
    assert {f"terms/{n}" for n in LOSS_NAMES} <= set(hist[0]), "every loss term (TV, Lap included) is logged"
    summary = json.loads((tmp_path / "loss" / "search_loss.json").read_text())
    assert summary["loss_model"] == model and summary["seconds_per_step_median"] > 0
    for png in ("beta_over_steps.png", "beta_softmax.png"):
        assert (tmp_path / "loss" / png).stat().st_size > 1000
    if model == "supernet":  # alpha stayed frozen
        from hadamard_restore.search.build import alpha_state, supernet

        init = alpha_state(supernet(cfg, "instance", torch.device("cpu")))
        for g, a in init.items():
            assert torch.equal(ckpt["model"][f"arch.{g}"], a)
