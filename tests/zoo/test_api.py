"""enhance_image returns what it was given (PIL / uint8 / uint16 / float arrays / tensors), enhanced."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from hadamard_restore import enhance_image, load_pretrained
from hadamard_restore.errors import DataError

H, W = 21, 26


@pytest.fixture
def net(zoo):
    return load_pretrained("tiny-light")


def _direct(net, x: torch.Tensor) -> torch.Tensor:
    """The network's output on a (3, H, W) float tensor, clamped: the reference for every kind."""
    with torch.inference_mode():
        return net(x[None].float())[0].clamp(0, 1)


def _image(seed: int = 0) -> torch.Tensor:
    return torch.rand(3, H, W, generator=torch.Generator().manual_seed(seed))


def test_tensors_keep_shape_dtype_and_match_the_network(net):
    x = _image()
    for shape in ((3, H, W), (1, 3, H, W)):
        for dtype in (torch.float32, torch.float64):
            out = enhance_image(x.reshape(shape).to(dtype), model="tiny-light")
            assert out.shape == shape and out.dtype == dtype
            assert torch.allclose(out.reshape(3, H, W).float(), _direct(net, x), atol=1e-6)


def test_numpy_uint8_uint16_float(net):
    x = _image(1)
    want = _direct(net, x).permute(1, 2, 0).double().numpy()
    for dtype, peak in ((np.uint8, 255), (np.uint16, 65535)):
        arr = np.round(x.permute(1, 2, 0).double().numpy() * peak).astype(dtype)
        out = enhance_image(arr, model="tiny-light")
        assert out.shape == (H, W, 3) and out.dtype == dtype
        exact = _direct(net, torch.from_numpy(arr.astype(np.float32) / peak).permute(2, 0, 1))
        assert np.abs(out / peak - exact.permute(1, 2, 0).double().numpy()).max() <= 0.5 / peak + 1e-6
    out = enhance_image(x.permute(1, 2, 0).numpy().astype(np.float32), model="tiny-light")
    assert out.dtype == np.float32 and np.allclose(out, want, atol=1e-6)


def test_pil_modes(net):
    arr = (_image(2).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    rgb = Image.fromarray(arr, "RGB")
    out = enhance_image(rgb, model="tiny-light")
    assert isinstance(out, Image.Image) and out.mode == "RGB" and out.size == (W, H)
    want = np.round(
        _direct(net, torch.from_numpy(arr / 255.0).permute(2, 0, 1)).permute(1, 2, 0).double().numpy() * 255
    )
    assert np.abs(np.asarray(out).astype(float) - want).max() <= 1
    rgba = rgb.copy()
    rgba.putalpha(Image.fromarray(np.full((H, W), 77, np.uint8)))
    out = enhance_image(rgba, model="tiny-light")
    assert out.mode == "RGBA" and np.array_equal(
        np.asarray(out)[..., :3], np.asarray(enhance_image(rgb, model="tiny-light"))
    )
    assert (np.asarray(out)[..., 3] == 77).all()
    grey = enhance_image(rgb.convert("L"), model="tiny-light")
    assert grey.mode == "L" and grey.size == (W, H)


def test_a_network_instead_of_a_name_and_bad_inputs(net):
    x = _image(3)
    assert torch.allclose(enhance_image(x, model=net), _direct(net, x), atol=1e-6)
    for bad, match in (
        (np.zeros((4, 4)), "H, W, 3"),
        (np.zeros((4, 4, 3), np.int32), "uint8"),
        (torch.zeros(2, 3, 4, 4), r"\(3, H, W\)"),
        (torch.zeros(3, 4, 4, dtype=torch.uint8), "float"),
        ([1, 2, 3], "PIL image"),
    ):
        with pytest.raises(DataError, match=match):
            enhance_image(bad, model=net)


def test_precision_on_the_untimed_fast_path(net, tmp_path, monkeypatch):
    """One image of at least 256x256 runs on the fast path without timing it; fp32 keeps 1e-3."""
    from hadamard_restore.config import ConfigError
    from hadamard_restore.inference.fastpath import choice
    from hadamard_restore.inference.fastpath.cache import cache_path
    from hadamard_restore.inference.fastpath.precision import REDUCED_TOLERANCE

    def no_timing(*args):
        raise AssertionError("enhance_image timed the backends")

    monkeypatch.setenv("HADAMARD_RESTORE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(choice, "_time", no_timing)
    choice.forget()
    x = torch.nn.functional.interpolate(_image(4)[None], size=(256, 260), mode="bilinear")[0]
    try:
        assert (enhance_image(x, model="tiny-light", precision="fp32") - _direct(net, x)).abs().max() <= 1e-3
        auto = enhance_image(x, model="tiny-light")
        assert (auto - _direct(net, x)).abs().max() <= REDUCED_TOLERANCE
        entries = json.loads(cache_path().read_text())["entries"]
        assert sorted(e["chosen_by"] for e in entries.values()) == ["parity check, untimed"] * 2
        with pytest.raises(ConfigError, match="precision must be one of auto, fp32"):
            enhance_image(x, model=net, precision="fp16")
    finally:
        choice.forget()
