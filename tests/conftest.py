"""Shared fixtures: seeded generators, odd image sizes, the real data and weights gates, the tiny run.

Tests that read the real pairs find them through ``$HADAMARD_RESTORE_DATA`` (the Makefile
points it at ``../shared/data``). Without it they skip and say why; with
``HADAMARD_RESTORE_REQUIRE_DATA=1`` (set by .ci/run) a missing folder is a failure, so CI
can never pass by skipping. ``HADAMARD_RESTORE_REQUIRE_WEIGHTS=1`` does the same for the
provisioned pretrained weights.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

ODD_H, ODD_W = 37, 31


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def odd_pair(gen):
    """A (2, 3, 37, 31) degraded/reference pair in [0, 1]."""
    ref = torch.rand(2, 3, ODD_H, ODD_W, generator=gen)
    deg = (ref * 0.3 + 0.05 * torch.rand(2, 3, ODD_H, ODD_W, generator=gen)).clamp(0, 1)
    return deg, ref


def _required(var: str) -> bool:
    return os.environ.get(var, "") not in ("", "0", "false", "False")


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The folder of real paired images (``../shared/data``), or skip with the reason."""
    value = os.environ.get("HADAMARD_RESTORE_DATA")
    path = Path(value) if value else None
    if path is None or not (path / "README.md").is_file():
        reason = (
            f"real data not found (HADAMARD_RESTORE_DATA={value!r}); set it to the shared/data folder to run this test"
        )
        if _required("HADAMARD_RESTORE_REQUIRE_DATA"):
            pytest.fail(reason + " -- HADAMARD_RESTORE_REQUIRE_DATA is set, so this is a failure")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def provisioned_weights() -> Path:
    """The weights cache with VGG16, AlexNet and LPIPS heads, or skip with the reason."""
    from hadamard_restore.backbones import cache

    present = cache.status()
    missing = [name for name in cache.REQUIRED if not present[name]]  # vgg19/resnet are optional
    if missing:
        reason = f"pretrained weights missing: {', '.join(missing)}; run `hadamard-restore backbones install`"
        if _required("HADAMARD_RESTORE_REQUIRE_WEIGHTS"):
            pytest.fail(reason + " -- HADAMARD_RESTORE_REQUIRE_WEIGHTS is set, so this is a failure")
        pytest.skip(reason)
    return cache.cache_dir()


# ------------------------------------------- the tiny end-to-end run (training, evaluation, report)
N_PAIRS, H, W = 8, 37, 31


def _smooth_image(gen: torch.Generator) -> torch.Tensor:
    """A smooth random RGB image (3, H, W) in [0, 1]: upsampled noise, so crops carry structure."""
    low = torch.rand(1, 3, 5, 4, generator=gen)
    return torch.nn.functional.interpolate(low, size=(H, W), mode="bilinear", align_corners=False)[0]


@pytest.fixture(scope="module")
def model(model_file):
    """The network of the test folder's own ``model_file`` fixture, loaded on the CPU."""
    from hadamard_restore.net.model_file import load_model

    return load_model(model_file, "cpu")[0]


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
    from tests.tiny import write_loss_weights

    return write_loss_weights(tmp_path_factory.mktemp("lw") / "loss_weights.json", l1=1.0, l2=1.0, color=0.1, ssim=0.2)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_pairs, tiny_genotype, tiny_loss_weights) -> Path:
    """A finished 12-step training run (shared by the train, evaluate and report tests)."""
    from hadamard_restore.config import config_from_dict
    from hadamard_restore.losses.loss_weights import load_loss_weights
    from hadamard_restore.net.genotype import load_genotype
    from hadamard_restore.training.train import train
    from tests.tiny import tiny_config

    run_dir = tmp_path_factory.mktemp("run")
    geno, lw = load_genotype(tiny_genotype), load_loss_weights(tiny_loss_weights)
    train(config_from_dict(tiny_config(tiny_pairs)), run_dir, geno, lw, progress=False)
    return run_dir


@pytest.fixture(scope="session")
def tiny_eval(tiny_run, tiny_pairs) -> dict:
    """``evaluate`` of the tiny run on all eight pairs (outputs in ``tiny_run/eval``)."""
    from hadamard_restore.evaluation.evaluate import evaluate

    return evaluate(tiny_run / "model.pt", tiny_pairs, device="cpu")
