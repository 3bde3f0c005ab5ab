"""Tiny paired folders, a one-HNU genotype and a cheap loss for end-to-end pipeline tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

N_PAIRS, H, W = 8, 37, 31


def _smooth_image(gen: torch.Generator) -> torch.Tensor:
    """A smooth random RGB image (3, H, W) in [0, 1]: upsampled noise, so crops carry structure."""
    low = torch.rand(1, 3, 5, 4, generator=gen)
    return torch.nn.functional.interpolate(low, size=(H, W), mode="bilinear", align_corners=False)[0]


@pytest.fixture(scope="session")
def tiny_pairs(tmp_path_factory) -> Path:
    """``paired`` layout: degraded/ and reference/ with 8 low-light pairs of 37x31 pixels."""
    from hadamard_restore.data.io import write_image

    root = tmp_path_factory.mktemp("pairs")
    gen = torch.Generator().manual_seed(11)
    for i in range(N_PAIRS):
        ref = _smooth_image(gen)
        deg = (0.25 * ref + 0.02 * torch.rand(3, H, W, generator=gen)).clamp(0, 1)
        write_image(root / "reference" / f"img{i}.png", ref)
        write_image(root / "degraded" / f"img{i}.png", deg)
    return root


@pytest.fixture(scope="session")
def tiny_genotype(tmp_path_factory) -> Path:
    """A one-HNU genotype (encoder/decoder of paper-lol, HNU 1 of paper-lol) as genotype.json."""
    from hadamard_restore.net.genotype import load_genotype

    g = load_genotype("paper-lol").to_dict()
    layers = {k: v for k, v in g["layers"].items() if k.split(".")[0] in ("enc", "dec", "hnu1")}
    path = tmp_path_factory.mktemp("geno") / "genotype.json"
    path.write_text(json.dumps({"num_hnu": 1, "name": "tiny", "layers": layers}))
    return path


@pytest.fixture(scope="session")
def tiny_loss_weights(tmp_path_factory) -> Path:
    """l1 + l2 + colour + SSIM (no pretrained backbones needed)."""
    path = tmp_path_factory.mktemp("lw") / "loss_weights.json"
    weights = dict(l1=1.0, l2=1.0, color=0.1, ssim=0.2, vgg=0.0, lpips=0.0, tv=0.0, laplacian=0.0)
    path.write_text(json.dumps({"weights": weights, "name": "tiny"}))
    return path


def tiny_config(root: Path, **train) -> dict:
    """A RunConfig dict for a few steps of a 4-channel, one-HNU network on 16 px crops."""
    t = dict(steps=12, batch_size=2, crop=16, lr=3e-3, val_every=4, checkpoint_every=4, log_every=2,
             warmup_steps=2, amp=False)
    t.update(train)
    return {"name": "tiny", "seed": 3, "device": "cpu",
            "data": {"source": "folder", "root": str(root), "layout": "paired", "val_ratio": 0.25,
                     "group_key": "none"},
            "net": {"channels": 4, "num_hnu": 1},
            "train": t}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_pairs, tiny_genotype, tiny_loss_weights) -> Path:
    """A finished 12-step training run (shared by the train, evaluate and report tests)."""
    from hadamard_restore.config import config_from_dict
    from hadamard_restore.pipeline.train import train

    run_dir = tmp_path_factory.mktemp("run")
    train(config_from_dict(tiny_config(tiny_pairs)), run_dir, tiny_genotype, tiny_loss_weights, progress=False)
    return run_dir


@pytest.fixture(scope="session")
def tiny_eval(tiny_run, tiny_pairs) -> dict:
    """``evaluate`` of the tiny run on all eight pairs (outputs in ``tiny_run/eval``)."""
    from hadamard_restore.pipeline.evaluate import evaluate

    return evaluate(tiny_run / "model.pt", tiny_pairs, device="cpu")
