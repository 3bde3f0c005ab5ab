"""The weight average's warm-up (closed form) and the trainer's choice between average and raw weights."""

from __future__ import annotations

import math

import pytest
import torch

from hadamard_restore.config import TrainConfig
from hadamard_restore.net import model_file
from hadamard_restore.net.genotype import load_genotype
from hadamard_restore.training import ema
from hadamard_restore.training.ema import WeightAverage, warmed_decay
from hadamard_restore.training.state import load_training_state
from hadamard_restore.training.trainer import TrainData, fit
from tests.tiny import L1Mix, TinyNet, make_pool, make_sampler

CPU = torch.device("cpu")
META = model_file.make_meta(load_genotype("all-1c"), {"weights": {"l1": 1.0}})


def test_warmed_decay_grows_to_the_configured_decay():
    assert warmed_decay(0.999, 0) == pytest.approx(0.1)
    assert warmed_decay(0.999, 10) == pytest.approx(11 / 20)
    assert warmed_decay(0.5, 100) == 0.5  # capped at train.ema_decay
    values = [warmed_decay(0.999, t) for t in range(9000)]  # (1 + t) / (10 + t) reaches 0.999 at t = 8991
    assert all(a <= b for a, b in zip(values, values[1:], strict=False)) and values[-1] == 0.999


def test_average_of_fixed_weights_follows_the_closed_form():
    """With the live weights fixed at w, the average after n updates is w + (w0 - w) * prod_t d_t."""
    model = TinyNet()
    avg = WeightAverage(model, decay=0.999)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    live = {k: v.clone() for k, v in model.state_dict().items()}
    n = 7
    for t in range(n):
        avg.update(model, t)
    share = math.prod(warmed_decay(0.999, t) for t in range(n))  # 9! n! / (n + 9)!
    assert share == pytest.approx(math.factorial(9) * math.factorial(n) / math.factorial(n + 9))
    for name, value in avg.model.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(value, live[name] + (start[name] - live[name]) * share)


def _data():
    deg, ref = make_pool()
    vdeg, vref = make_pool(n=2, h=17, w=21, seed=9)
    return TrainData(make_sampler(deg, ref), [(vdeg[i], vref[i]) for i in range(2)])


def _run(tmp_path, name, decay):
    tcfg = TrainConfig(
        steps=40, batch_size=2, crop=12, lr=1e-2, val_every=10, checkpoint_every=40, amp=False, ema_decay=decay
    )
    summary = fit(TinyNet(), L1Mix(), _data(), tcfg, tmp_path / name, META, seed=0, device=CPU, progress=False)
    return summary, load_training_state(tmp_path / name / "last.pt")["training"]["history"]["val"]


def test_a_short_run_with_a_slow_average_validates_no_worse_than_without_it(tmp_path, monkeypatch):
    plain, plain_val = _run(tmp_path, "plain", 0.0)
    averaged, val = _run(tmp_path, "ema", 0.999)
    assert all(e["weights"] == "raw" and "psnr_ema" not in e for e in plain_val)
    # the raw weights follow the same path with or without the average
    assert [e["psnr_raw"] for e in val] == pytest.approx([e["psnr_raw"] for e in plain_val], abs=1e-9)
    assert averaged["best_val_psnr"] >= plain["best_val_psnr"] - 1e-9
    # the warm-up itself: after 40 steps the average is within 0.5 dB of the raw weights ...
    assert val[-1]["psnr_ema"] > val[-1]["psnr_raw"] - 0.5
    # ... where an average without warm-up still holds 0.999**40 = 96 % of the initialisation
    monkeypatch.setattr(ema, "warmed_decay", lambda decay, updates: decay)
    _, cold = _run(tmp_path, "cold", 0.999)
    assert cold[-1]["psnr_ema"] < val[-1]["psnr_ema"] - 2.0
    assert cold[-1]["weights"] == "raw"  # and the trainer then keeps the raw weights
    assert model_file.read_model_file(tmp_path / "cold" / "model.pt")["meta"]["weights"] == "raw"
