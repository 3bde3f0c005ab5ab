"""Tiny stand-ins for the training tests (a 2-layer conv net, an L1 loss mix, a crop sampler),
the config of the tiny end-to-end run shared by the training, evaluation and report tests, and the
helpers several test folders share (the CLI in a subprocess, small model and loss-weights files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from torch import nn

from hadamard_restore.net.genotype import load_genotype
from hadamard_restore.net.model_file import save_model
from hadamard_restore.net.network import HadamardNet

SRC = Path(__file__).resolve().parents[1] / "src"


class TinyNet(nn.Module):
    """A residual 2-layer conv net (the engine is generic over the model)."""

    def __init__(self, width: int = 4, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.a = nn.Conv2d(3, width, 3, padding=1)
        self.b = nn.Conv2d(width, 3, 3, padding=1)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)

    def forward(self, x):
        return x + self.b(torch.relu(self.a(x)))


class L1Mix(nn.Module):
    """``(total, terms)`` like ``losses.mix.LossMix``: 1.0 * L1 + 0.5 * L2."""

    def forward(self, out, target):
        terms = {"l1": (out - target).abs().mean(), "l2": ((out - target) ** 2).mean()}
        return terms["l1"] + 0.5 * terms["l2"], terms


def make_pool(n: int = 6, h: int = 23, w: int = 19, seed: int = 5):
    g = torch.Generator().manual_seed(seed)
    ref = torch.rand(n, 3, h, w, generator=g)
    deg = (ref * 0.35 + 0.02).clamp(0, 1)
    return deg, ref


def make_sampler(deg, ref, crop: int = 12):
    def sample(batch: int, gen: torch.Generator):
        idx = torch.randint(0, deg.shape[0], (batch,), generator=gen)
        ys = torch.randint(0, deg.shape[2] - crop + 1, (batch,), generator=gen)
        xs = torch.randint(0, deg.shape[3] - crop + 1, (batch,), generator=gen)
        d = torch.stack([deg[i, :, y : y + crop, x : x + crop] for i, y, x in zip(idx, ys, xs)])
        r = torch.stack([ref[i, :, y : y + crop, x : x + crop] for i, y, x in zip(idx, ys, xs)])
        return d, r

    return sample


def tiny_train(**overrides) -> dict:
    """The ``train`` section of the tiny runs: 12 steps of batch 2 on 16 px crops, no AMP."""
    return {
        "steps": 12,
        "batch_size": 2,
        "crop": 16,
        "lr": 3e-3,
        "val_every": 4,
        "checkpoint_every": 4,
        "log_every": 2,
        "warmup_steps": 2,
        "amp": False,
        **overrides,
    }


def tiny_config(root: Path, **train) -> dict:
    """A RunConfig dict for a few steps of a 4-channel, one-HNU network on 16 px crops."""
    t = tiny_train(**train)
    return {
        "name": "tiny",
        "seed": 3,
        "device": "cpu",
        "data": {"source": "folder", "root": str(root), "layout": "paired", "val_ratio": 0.25, "group_key": "none"},
        "net": {"channels": 4, "num_hnu": 1},
        "train": t,
    }


def cli_env() -> dict[str, str]:
    """The environment of a CLI subprocess: one OpenMP thread, this checkout's ``src/`` on the path."""
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(SRC))


def run_cli(*args: object, nproc: int = 1, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    """``python -m hadamard_restore ARGS`` in a fresh process (under ``torchrun --standalone
    --nproc_per_node NPROC`` when ``nproc > 1``); with ``check`` a non-zero exit fails the test with
    the end of its stderr."""
    launcher = [sys.executable]
    if nproc > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
    done = subprocess.run(
        [*launcher, "-m", "hadamard_restore", *map(str, args)],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert not check or done.returncode == 0, done.stderr[-3000:]
    return done


def write_loss_weights(path: Path, **weights: float) -> Path:
    """A ``loss_weights.json`` named ``tiny``: the given weights, every other term 0."""
    terms = dict.fromkeys(("l1", "l2", "color", "ssim", "vgg", "lpips", "tv", "laplacian"), 0.0)
    path.write_text(json.dumps({"weights": {**terms, **weights}, "name": "tiny"}))
    return path


def random_model_file(folder: Path, channels: int, seed: int = 4) -> Path:
    """An untrained ``paper-lol`` network of ``channels`` saved as ``folder/model.pt``."""
    net = HadamardNet(load_genotype("paper-lol"), channels=channels, generator=torch.Generator().manual_seed(seed))
    return save_model(folder / "model.pt", net, net.genotype, {"l1": 1.0}, None)
