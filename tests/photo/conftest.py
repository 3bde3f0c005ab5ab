"""A small random network saved as a model file."""

from __future__ import annotations

import pytest

from tests.tiny import random_model_file


@pytest.fixture(scope="package")
def model_file(tmp_path_factory):
    return random_model_file(tmp_path_factory.mktemp("ck"), channels=4)
