"""Tiled inference: exact for pointwise maps, exact for small receptive fields, weights sum to 1."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hadamard_restore.inference.tiling import axis_weights, check_tiling, tile_starts, tiled_apply


@pytest.mark.parametrize(
    "size,tile,overlap",
    [(37, 16, 4), (31, 16, 8), (100, 32, 16), (7, 16, 4), (16, 16, 4), (17, 16, 8), (45, 12, 6), (33, 8, 0)],
)
def test_axis_weights_cover_and_sum_to_one(size, tile, overlap):
    parts = axis_weights(size, tile, overlap)
    total = torch.zeros(size, dtype=torch.float64)
    for start, w in parts:
        assert start >= 0 and start + w.numel() <= size  # shifted inward, never padded
        assert w.numel() == min(tile, size)
        assert bool((w >= 0).all())
        total[start : start + w.numel()] += w
    assert torch.allclose(total, torch.ones(size, dtype=torch.float64), atol=1e-12)


def test_tile_starts_shift_last_tile_inward():
    assert tile_starts(37, 16, 4) == [0, 12, 21]
    assert tile_starts(16, 16, 4) == [0]
    assert tile_starts(9, 16, 4) == [0]
    starts = tile_starts(1000, 64, 16)
    assert starts[-1] == 1000 - 64
    assert all(b - a <= 64 - 16 for a, b in zip(starts, starts[1:]))  # overlap >= 16 everywhere


def test_neighbour_ramps_are_complementary():
    # two tiles overlapping by 8 with guard 2: raw ramps add to 1 before normalisation,
    # pixels within the guard of an inner border get weight exactly 0
    parts = axis_weights(24, 16, 8, guard=2)
    (s0, w0), (s1, w1) = parts
    assert (s0, s1) == (0, 8)
    assert torch.equal(w1[:2], torch.zeros(2, dtype=torch.float64))
    assert torch.equal(w0[-2:], torch.zeros(2, dtype=torch.float64))
    assert torch.allclose(w0[8:] + w1[:8], torch.ones(8, dtype=torch.float64))
    # raised cosine: symmetric around the middle of the overlap
    assert torch.allclose(w1[:8], w0[8:].flip(0))


@pytest.mark.parametrize("h,w", [(37, 31), (53, 29), (13, 61)])
def test_identity_and_pointwise_are_exact(gen, h, w):
    img = torch.rand(1, 3, h, w, generator=gen)
    assert torch.allclose(tiled_apply(lambda t: t, img, 16, 6), img, atol=1e-6, rtol=0)
    op = lambda t: torch.sigmoid(3 * t - 1) ** 2  # noqa: E731
    assert torch.allclose(tiled_apply(op, img, 12, 4), op(img), atol=1e-6, rtol=0)


def test_small_receptive_field_net_matches_untiled(gen):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 3, 3, padding=1)).eval()
    img = torch.rand(1, 3, 45, 39, generator=gen)
    with torch.no_grad():
        full = net(img)
        # receptive radius 2; the default guard overlap // 4 = 2 hides every border effect
        tiled = tiled_apply(net, img, 16, 8)
        # without a guard, border pixels leak in with small weights: close, not exact
        loose = tiled_apply(net, img, 16, 8, guard=0)
    assert torch.allclose(tiled, full, atol=1e-5, rtol=0)
    err = (loose - full).abs().max().item()
    assert 1e-5 < err < 0.1


def test_output_channels_and_progress(gen):
    img = torch.rand(1, 3, 21, 19, generator=gen)
    seen = []
    out = tiled_apply(lambda t: t.mean(1, keepdim=True), img, 8, 2, progress=lambda d, n: seen.append((d, n)))
    assert out.shape == (1, 1, 21, 19)
    assert torch.allclose(out, img.mean(1, keepdim=True), atol=1e-6)
    assert seen[-1][0] == seen[-1][1] == len(seen) == 4 * 3


def test_bad_parameters_are_explained():
    with pytest.raises(ValueError, match="multiple of 4"):
        check_tiling(30, 4)
    with pytest.raises(ValueError, match="overlap must be in"):
        check_tiling(32, 20)
    with pytest.raises(ValueError, match="changed the tile size"):
        tiled_apply(lambda t: t[..., :-1], torch.zeros(1, 3, 9, 9), 8, 2)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        tiled_apply(lambda t: t, torch.zeros(3, 9, 9), 8, 2)


def test_weights_sum_to_one_for_many_layouts(gen):
    # includes three-tile overlaps next to the shifted last tile
    for _ in range(200):
        tile = 4 * int(torch.randint(1, 20, (1,), generator=gen))
        overlap = int(torch.randint(0, tile // 2 + 1, (1,), generator=gen))
        size = int(torch.randint(1, 6 * tile, (1,), generator=gen))
        total = torch.zeros(size, dtype=torch.float64)
        for start, w in axis_weights(size, tile, overlap):
            total[start : start + w.numel()] += w
        assert torch.allclose(total, torch.ones_like(total), atol=1e-12), (size, tile, overlap)


def _max_jump(img: torch.Tensor) -> float:
    """Largest difference between horizontally or vertically adjacent pixels."""
    return max(
        (img[..., 1:, :] - img[..., :-1, :]).abs().max().item(), (img[..., :, 1:] - img[..., :, :-1]).abs().max().item()
    )


def test_blending_hides_seams_of_per_tile_statistics():
    # a map that normalises by its input's own mean (as instance norm does) gives each tile
    # a different offset; hard stitching shows steps, the raised-cosine blend spreads them
    h, w = 61, 83
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    img = (0.2 + 0.6 * xx * yy)[None, None].repeat(1, 3, 1, 1)
    per_tile = lambda t: t - t.mean() + 0.5  # noqa: E731
    hard = tiled_apply(per_tile, img, 24, 0)
    blended = tiled_apply(per_tile, img, 24, 12)
    smooth_step = _max_jump(img)
    assert _max_jump(hard) > 5 * smooth_step  # the seams are visible without overlap
    assert _max_jump(blended) < 0.5 * _max_jump(hard)
    assert _max_jump(blended) < 3 * smooth_step
