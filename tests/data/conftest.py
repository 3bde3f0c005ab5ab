"""Fixtures for the data tests: a seeded generator and a tiny ``paired`` folder."""

from __future__ import annotations

import numpy as np
import pytest

from tests.data.helpers import make_folder_pairs


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.fixture
def tiny_pairs(tmp_path, rng):
    """A ``paired`` folder (degraded/, reference/) with 6 pairs of 37x31 images."""
    names = {f"img{i}.png": f"img{i}.png" for i in range(6)}
    make_folder_pairs(tmp_path, "degraded", "reference", names, rng)
    return tmp_path
