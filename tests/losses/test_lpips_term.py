"""The LPIPS term with a randomly initialised (offline) network, and with the provisioned one."""

from __future__ import annotations

import copy

import pytest
import torch

from hadamard_restore.losses import functional as LF


def test_zero_on_identical_and_positive_otherwise(random_lpips, gen):
    x = torch.rand(2, 3, 33, 35, generator=gen)
    assert LF.lpips_loss(x, x.clone(), random_lpips).item() == 0.0
    assert LF.lpips_loss(x, torch.rand(2, 3, 33, 35, generator=gen), random_lpips).item() != 0.0


def test_normalize_flag_maps_to_minus_one_one(random_lpips, gen):
    x, y = torch.rand(2, 2, 3, 33, 35, generator=gen)
    on = LF.lpips_loss(x, y, random_lpips, normalize=True)
    manual = LF.lpips_loss(2 * x - 1, 2 * y - 1, random_lpips, normalize=False)
    assert torch.allclose(on, manual)
    assert not torch.allclose(on, LF.lpips_loss(x, y, random_lpips))


def test_gradcheck_float64(random_lpips, gen):
    model = copy.deepcopy(random_lpips).double()
    x = torch.rand(1, 3, 32, 32, generator=gen, dtype=torch.float64).requires_grad_()
    y = torch.rand(1, 3, 32, 32, generator=gen, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: LF.lpips_loss(a, y, model), (x,), fast_mode=True)


def test_rejects_non_rgb(random_lpips):
    with pytest.raises(ValueError, match="3 channels"):
        LF.lpips_loss(torch.zeros(1, 1, 32, 32), torch.zeros(1, 1, 32, 32), random_lpips)


@pytest.mark.weights
def test_provisioned_alex_reproduces_published_example(provisioned_weights, data_root):
    """With the real heads and trunk, LPIPS(ex_ref, ex_p1) in [-1,1] mode is 0.138 (README)."""
    import numpy as np
    from PIL import Image

    from hadamard_restore.backbones import weights

    def load(name):
        arr = np.asarray(Image.open(data_root / "lpips-examples" / name).convert("RGB"), dtype=np.float32)
        return torch.from_numpy(arr / 255.0).permute(2, 0, 1)[None]

    value = LF.lpips_loss(load("ex_ref.png"), load("ex_p1.png"), weights.lpips_model("alex"), normalize=True)
    assert value.item() == pytest.approx(0.138, abs=1e-3)
