import json
import math

import pytest
import torch

from hadamard_restore.data.degrade import (
    apply_degradation,
    degrade,
    depth_map,
    haze,
    low_light,
    sample_params,
    transmission,
    underwater,
)
from hadamard_restore.errors import DataError

DEPTH = {
    "depth_near": 0.3,
    "depth_far": 1.7,
    "depth_angle": 1.2,
    "depth_wave": 0.1,
    "depth_freq": 1.0,
    "depth_phase": 0.4,
}


@pytest.fixture
def img(gen):
    return torch.rand(3, 37, 31, generator=gen)


def test_depth_map_range_smooth_and_far_at_top():
    d = depth_map(37, 31, near=0.2, far=1.5)
    assert d.shape == (37, 31) and d.min() >= 0.2 - 1e-6 and d.max() <= 1.5 + 1e-6
    assert d[0].mean() > d[-1].mean()  # default angle: the top of the image is far
    assert (d[1:] - d[:-1]).abs().max() < 0.1 and (d[:, 1:] - d[:, :-1]).abs().max() < 0.1
    with pytest.raises(DataError, match="near <= far"):
        depth_map(3, 3, near=2, far=1)


def test_haze_closed_form(img):
    assert torch.equal(haze(img, beta=0.0, airlight=0.8, **DEPTH), img)  # t = 1: identity
    t = transmission(img, 0.9, **DEPTH)
    assert (t > 0).all() and (t <= 1).all()
    d = depth_map(37, 31, **{k[6:]: v for k, v in DEPTH.items()})
    assert torch.allclose(t[0], torch.exp(-0.9 * d))
    a = torch.tensor([0.9, 0.8, 0.7]).reshape(3, 1, 1)
    y = haze(img, 0.9, [0.9, 0.8, 0.7], **DEPTH)
    assert torch.allclose(y, img * t + a * (1 - t))
    lo, hi = torch.minimum(img, a), torch.maximum(img, a)  # a convex combination of J and A
    assert (y >= lo - 1e-6).all() and (y <= hi + 1e-6).all()
    assert (transmission(img, 1.5, **DEPTH) < t).all()  # denser haze, less light through
    with pytest.raises(DataError, match="beta >= 0"):
        haze(img, -1.0)


def test_underwater_red_attenuated_most():
    white = torch.ones(3, 9, 11)
    y = underwater(white, attenuation=[1.0, 0.3, 0.2], backscatter=[0, 0, 0], **DEPTH)
    assert (y[0] < y[1]).all() and (y[0] < y[2]).all()
    assert torch.equal(underwater(white * 0.4, [0, 0, 0], [0.1, 0.5, 0.6], **DEPTH), white * 0.4)
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        b = sample_params("underwater", g)["attenuation"]
        assert b[0] > b[1] and b[0] > b[2]
    with pytest.raises(DataError, match="attenuation must be >= 0"):
        underwater(white, [-1, 0, 0], [0, 0, 0])


def test_low_light_darkens_and_is_monotone():
    x = torch.linspace(0, 1, 3 * 5 * 7).reshape(3, 5, 7)
    for gamma, gain in ((1.0, 1.0), (1.2, 0.5), (2.5, 0.15)):
        y = low_light(x, gamma=gamma, gain=gain)
        assert torch.allclose(y, gain * x**gamma)
        assert (y <= x + 1e-7).all()
        flat = y.flatten()
        assert (flat[1:] >= flat[:-1]).all()


def test_low_light_noise_statistics_and_generator():
    x = torch.full((3, 200, 200), 0.5)
    with pytest.raises(DataError, match="needs an explicit torch.Generator"):
        low_light(x, 2.0, 0.4, shot=1e-3)
    shot, read, dark = 1e-3, 0.01, 0.4 * 0.5**2
    y = low_light(x, 2.0, 0.4, shot=shot, read=read, generator=torch.Generator().manual_seed(0))
    assert abs(y.mean().item() - dark) < 1e-3
    assert y.var().item() == pytest.approx(shot * dark + read**2, rel=0.05)  # Poisson-Gaussian variance
    again = low_light(x, 2.0, 0.4, shot=shot, read=read, generator=torch.Generator().manual_seed(0))
    assert torch.equal(y, again)
    with pytest.raises(DataError, match="0 < gain <= 1"):
        low_light(x, 2.0, 1.5)


@pytest.mark.parametrize("task", ["low-light", "dehaze", "underwater"])
def test_degrade_is_reproducible_from_params(img, task):
    g = torch.Generator().manual_seed(11)
    y, params = degrade(task, img, g)
    assert y.shape == img.shape and y.min() >= 0 and y.max() <= 1
    json.dumps(params)  # parameters are plain JSON
    g2 = torch.Generator().manual_seed(11)
    assert sample_params(task, g2) == params
    assert torch.equal(apply_degradation(task, img, params, g2), y)
    y3, p3 = degrade(task, img, torch.Generator().manual_seed(12))
    assert p3 != params and not torch.equal(y3, y)


def test_degrade_works_on_batches(gen):
    batch = torch.rand(2, 3, 7, 9, generator=gen)
    y, _ = degrade("haze", batch, gen)
    assert y.shape == (2, 3, 7, 9)


def test_low_light_sampler_darkens_on_average(img):
    g = torch.Generator().manual_seed(0)
    means = [degrade("low-light", img, g)[0].mean().item() for _ in range(20)]
    assert max(means) < img.mean().item() and min(means) > 0.0


def test_unknown_task_and_bad_shape(img):
    with pytest.raises(DataError, match=r"no synthetic degradation for task 'denoise'"):
        sample_params("denoise", torch.Generator())
    with pytest.raises(DataError, match=r"expected an RGB image"):
        haze(torch.zeros(1, 5, 5), 1.0)
    assert math.isfinite(sample_params("uie", torch.Generator().manual_seed(0))["depth_far"])
