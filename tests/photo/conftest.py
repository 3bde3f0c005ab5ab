"""A small random network saved as a model file."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="package")
def model_file(tmp_path_factory):
    from hadamard_restore.net.model_file import save_model
    from hadamard_restore.net.network import HadamardNet

    net = HadamardNet("paper-lol", channels=4, generator=torch.Generator().manual_seed(4))
    return save_model(tmp_path_factory.mktemp("ck") / "model.pt", net, net.genotype, {"l1": 1.0}, None)


@pytest.fixture(scope="package")
def model(model_file):
    from hadamard_restore.net.model_file import load_model

    return load_model(model_file, "cpu")[0]
