"""Reflection padding to a multiple of 4, split floor/ceil, and the crop back (docs/method.md 1.1)."""

import pytest
import torch

from hadamard_restore.net.padding import crop_pads, pad_amounts, reflect_pad


def test_pad_split_floor_before_rest_after():
    assert pad_amounts(37, 31, 4) == (0, 1, 1, 2)  # (left, right, top, bottom)
    assert pad_amounts(40, 32, 4) == (0, 0, 0, 0)
    assert pad_amounts(5, 6, 8) == (1, 1, 1, 2)


def test_reflect_values_and_crop_is_inverse(gen):
    x = torch.rand(2, 3, 37, 31, generator=gen)
    xp, pads = reflect_pad(x, 4)
    assert xp.shape[-2:] == (40, 32)
    assert torch.equal(xp[..., 0, :-1], x[..., 1, :])  # top row mirrors row 1
    assert torch.equal(xp[..., -1, :-1], x[..., -3, :])  # second bottom pad row mirrors row -3
    assert torch.equal(xp[..., 1:-2, -1], x[..., :, -2])  # right column mirrors column -2
    assert torch.equal(crop_pads(xp, pads), x)


def test_too_small_or_wrong_rank_is_a_clear_error():
    with pytest.raises(ValueError, match="too small"):
        reflect_pad(torch.zeros(1, 3, 1, 8), 4)
    with pytest.raises(ValueError, match=r"add a batch axis"):
        reflect_pad(torch.zeros(3, 8, 8), 4)
