"""LPIPS: published distances with the provisioned weights, caching and input errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from hadamard_restore.errors import WeightsMissingError
from hadamard_restore.metrics import perceptual
from hadamard_restore.metrics.perceptual import lpips

# Published values (richzhang/PerceptualSimilarity README, lpips v0.1): ../shared/data/README.md
PUBLISHED = {"alex": (0.722, 0.138), "vgg": (0.569, 0.422)}


def _read(path) -> torch.Tensor:
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1).float() / 255


@pytest.mark.weights
@pytest.mark.realdata
@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_reproduces_published_distances(provisioned_weights, data_root, net):
    folder = data_root / "lpips-examples"
    ref, p0, p1 = (_read(folder / f"{n}.png") for n in ("ex_ref", "ex_p0", "ex_p1"))
    with torch.no_grad():
        d = lpips(torch.stack([ref, ref]), torch.stack([p0, p1]), net=net)
    assert d.shape == (2,)
    np.testing.assert_allclose(d.numpy(), PUBLISHED[net], atol=5e-4)
    with torch.no_grad():  # identical images: distance 0; symmetric
        assert lpips(ref, ref, net=net).item() == pytest.approx(0.0, abs=1e-6)
        assert lpips(p0, ref, net=net).item() == pytest.approx(d[0].item(), abs=1e-6)


@pytest.mark.weights
def test_model_cached_per_net_and_device(provisioned_weights, gen):
    x = torch.rand(1, 3, 33, 35, generator=gen)
    with torch.no_grad():
        lpips(x, x.flip(-1))
        lpips(x, x.flip(-1))
    assert perceptual._MODELS[("alex", "cpu")] is perceptual._model("alex", torch.device("cpu"))


def test_missing_weights_name_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("HADAMARD_RESTORE_WEIGHTS", str(tmp_path))
    monkeypatch.setattr(perceptual, "_MODELS", {})
    x = torch.zeros(1, 3, 32, 32)
    with pytest.raises(WeightsMissingError, match="hadamard-restore backbones install"):
        lpips(x, x)


def test_input_errors():
    x = torch.zeros(1, 3, 32, 32)
    with pytest.raises(ValueError, match="net must be 'alex' or 'vgg', got 'squeeze'"):
        lpips(x, x, net="squeeze")
    with pytest.raises(ValueError, match="differ in shape"):
        lpips(x, torch.zeros(1, 3, 32, 31))
    with pytest.raises(ValueError, match=r"inputs must be in \[0, 1\], got values up to 255"):
        lpips(x + 255, x)
    with pytest.raises(ValueError, match="at least 31x31"):
        lpips(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))
