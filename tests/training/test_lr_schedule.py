"""Learning-rate factors: closed-form values at warm-up, middle and end."""

import math

import pytest
import torch

from hadamard_restore.config import TrainConfig
from hadamard_restore.training.lr_schedule import LrFactor, make_optimizer, make_scheduler


def test_warmup_then_constant():
    f = LrFactor("constant", total_steps=10, warmup_steps=4)
    assert [f(s) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_cosine_endpoints_and_midpoint():
    f = LrFactor("cosine", total_steps=11, warmup_steps=0, eta_min_ratio=0.0)
    assert f(0) == 1.0 and f(10) == pytest.approx(0.0, abs=1e-12)
    assert f(5) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))


def test_bad_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown lr schedule 'linear'"):
        LrFactor("linear", 10)


def test_scheduler_state_round_trips_and_drives_the_lr():
    tcfg = TrainConfig(steps=8, lr=0.1, schedule="cosine", warmup_steps=2, optimizer="sgd")
    p = torch.nn.Parameter(torch.zeros(1))
    opt = make_optimizer([p], tcfg)
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["momentum"] == 0.9
    sched = make_scheduler(opt, tcfg)
    lrs = []
    for _ in range(3):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0.05, 0.1, 0.1])
    opt2 = make_optimizer([torch.nn.Parameter(torch.zeros(1))], tcfg)
    sched2 = make_scheduler(opt2, tcfg)
    opt2.load_state_dict(opt.state_dict())  # the engine restores both, in this order
    sched2.load_state_dict(sched.state_dict())
    assert sched2.last_epoch == 3 and opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    sched.step()
    sched2.step()
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] < 0.1
