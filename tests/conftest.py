"""Shared fixtures: seeded generators, odd image sizes, the real data and weights gates.

Tests that read the real pairs find them through ``$HADAMARD_RESTORE_DATA`` (the Makefile
points it at ``../shared/data``). Without it they skip and say why; with
``HADAMARD_RESTORE_REQUIRE_DATA=1`` (set by .ci/run) a missing folder is a failure, so CI
can never pass by skipping. ``HADAMARD_RESTORE_REQUIRE_WEIGHTS=1`` does the same for the
provisioned pretrained weights.
"""

from __future__ import annotations

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
        reason = (f"real data not found (HADAMARD_RESTORE_DATA={value!r}); "
                  "set it to the shared/data folder to run this test")
        if _required("HADAMARD_RESTORE_REQUIRE_DATA"):
            pytest.fail(reason + " -- HADAMARD_RESTORE_REQUIRE_DATA is set, so this is a failure")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def provisioned_weights() -> Path:
    """The weights cache with VGG16, AlexNet and LPIPS heads, or skip with the reason."""
    from hadamard_restore import weights

    present = weights.status()
    missing = [name for name in weights.REQUIRED if not present[name]]  # vgg19/resnet are optional
    if missing:
        reason = (f"pretrained weights missing: {', '.join(missing)}; "
                  "run `hadamard-restore weights install`")
        if _required("HADAMARD_RESTORE_REQUIRE_WEIGHTS"):
            pytest.fail(reason + " -- HADAMARD_RESTORE_REQUIRE_WEIGHTS is set, so this is a failure")
        pytest.skip(reason)
    return weights.cache_dir()
