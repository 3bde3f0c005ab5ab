"""Round 3, the Python API's inputs: NaN/inf is refused, floats on another scale are refused and
slight overshoots clipped with a warning, and PIL modes I;16, I;16B, I and F come back in their
own mode and scale (an identity network shows the scaling exactly)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import hadamard_restore as hr
from hadamard_restore.errors import DataError
from hadamard_restore.zoo.image_kinds import OutOfRangeWarning

IDENTITY = torch.nn.Identity()


def _floats(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((20, 24, 3)).astype(np.float32)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_one_non_finite_pixel_is_a_value_error(bad):
    image = _floats()
    image[3, 4, 1] = bad
    with pytest.raises(ValueError, match="1 of 1440 input values are NaN or infinite"):
        hr.enhance_image(image, model=IDENTITY)


def test_a_non_finite_tensor_is_refused_too():
    x = torch.rand(3, 16, 16)
    x[0, 0, 0] = float("nan")
    with pytest.raises(DataError, match="NaN or infinite"):
        hr.enhance_image(x, model=IDENTITY)


@pytest.mark.parametrize("kind", ["numpy", "tensor"])
def test_floats_on_the_0_255_scale_are_refused_not_clipped_to_white(kind):
    image = _floats() * 255
    given = image if kind == "numpy" else torch.from_numpy(image).permute(2, 0, 1)
    with pytest.raises(DataError, match=r"must be in \[0, 1\].*divide 8-bit values by 255"):
        hr.enhance_image(given, model=IDENTITY)


def test_a_slight_overshoot_is_clipped_with_a_warning():
    image = _floats() * 1.02
    with pytest.warns(OutOfRangeWarning, match=r"clipped to \[0, 1\]"):
        out = hr.enhance_image(image, model=IDENTITY)
    assert out.dtype == np.float32 and out.max() <= 1.0 and np.isfinite(out).all()
    np.testing.assert_allclose(out, np.clip(image, 0, 1), atol=1e-6)


def test_floats_in_range_pass_silently():
    image = _floats()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = hr.enhance_image(image, model=IDENTITY)
    np.testing.assert_allclose(out, image, atol=1e-6)


@pytest.mark.parametrize("mode,value", [("I;16", 40000), ("I;16B", 40000), ("I", 40000), ("I;16", 300)])
def test_sixteen_bit_grey_modes_keep_their_mode_and_scale(mode, value):
    image = Image.new(mode, (24, 20), value)
    out = hr.enhance_image(image, model=IDENTITY)
    assert out.mode == mode and out.size == image.size
    got = np.asarray(out).astype(np.int64)
    assert np.abs(got - value).max() <= 1  # code / 65535 in, luma * 65535 out: not saturated, not black


def test_a_float_mode_f_image_keeps_its_values():
    image = Image.fromarray(np.linspace(0.1, 0.9, 20 * 24, dtype=np.float32).reshape(20, 24))
    out = hr.enhance_image(image, model=IDENTITY)
    assert out.mode == "F"
    np.testing.assert_allclose(np.asarray(out), np.asarray(image), atol=1e-6)


def test_mode_i_beyond_16_bits_is_refused():
    with pytest.raises(DataError, match="read as 16-bit grey"):
        hr.enhance_image(Image.new("I", (8, 8), 70000), model=IDENTITY)


def test_mode_f_on_another_scale_is_refused():
    with pytest.raises(DataError, match=r"must be in \[0, 1\]"):
        hr.enhance_image(Image.new("F", (8, 8), 200.0), model=IDENTITY)


def test_eight_bit_modes_are_unchanged():
    rgb = Image.fromarray((_floats() * 255).astype(np.uint8))
    assert np.array_equal(np.asarray(hr.enhance_image(rgb, model=IDENTITY)), np.asarray(rgb))
    grey = rgb.convert("L")
    assert hr.enhance_image(grey, model=IDENTITY).mode == "L"
