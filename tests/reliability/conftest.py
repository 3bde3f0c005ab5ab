"""Toy fixtures for the reliability tests: a one-HNU model file, paired folders, a run config."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from tests.reliability.helpers import run_config
from tests.tiny import write_loss_weights

H, W = 37, 31


def smooth(gen: torch.Generator, h: int = H, w: int = W) -> torch.Tensor:
    low = torch.rand(1, 3, 5, 4, generator=gen)
    return torch.nn.functional.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)[0]


def make_pairs(root: Path, n: int = 6, seed: int = 11) -> Path:
    """``paired`` layout: degraded/ and reference/ with ``n`` low-light pairs of 37x31 pixels."""
    from hadamard_restore.data.io import write_image

    gen = torch.Generator().manual_seed(seed)
    for i in range(n):
        ref = smooth(gen)
        write_image(root / "reference" / f"img{i}.png", ref)
        write_image(root / "degraded" / f"img{i}.png", (0.25 * ref).clamp(0, 1))
    return root


@pytest.fixture(scope="session")
def genotype_file(tiny_genotype) -> Path:
    """The one-HNU genotype of tests/conftest.py."""
    return tiny_genotype


@pytest.fixture(scope="session")
def loss_weights_file(tmp_path_factory) -> Path:
    return write_loss_weights(tmp_path_factory.mktemp("lw") / "loss_weights.json", l1=1.0, l2=1.0)


@pytest.fixture(scope="session")
def model_file(tmp_path_factory, genotype_file) -> Path:
    """An untrained 4-channel one-HNU model.pt (enough for every deployment command)."""
    from hadamard_restore.net.genotype import load_genotype
    from hadamard_restore.net.model_file import save_model
    from hadamard_restore.net.network import HadamardNet

    geno = load_genotype(str(genotype_file))
    net = HadamardNet(geno, channels=4, num_hnu=1, generator=torch.Generator().manual_seed(0))
    path = tmp_path_factory.mktemp("model") / "model.pt"
    save_model(path, net, geno, {"weights": {"l1": 1.0}})
    return path


@pytest.fixture
def pairs(tmp_path) -> Path:
    return make_pairs(tmp_path / "pairs")


@pytest.fixture
def config_file(tmp_path, pairs, genotype_file, loss_weights_file) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(run_config(pairs, genotype_file, loss_weights_file, tmp_path / "runs")))
    return path
