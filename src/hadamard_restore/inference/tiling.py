"""Tiled inference with overlap and smooth blending, in bounded memory.

A large image is cut into overlapping tiles of side ``tile`` (a multiple of 4, so the
network never pads a tile). Tiles start every ``tile - overlap`` pixels; the last tile on
each axis is shifted inward so that it ends exactly at the image border (no padding). An
axis shorter than ``tile`` is covered by one tile of the axis' full length.

Blending. Each tile gets a separable weight ``w(y, x) = a(y) * b(x)``. Along one axis a
tile's weight is the product of a rising ramp over the region it shares with the previous
tile and a falling ramp over the region it shares with the next one (1 elsewhere; no ramp
at the image border). Over a shared region of length ``L`` with a guard of ``g`` pixels at
each end the rising ramp is the raised cosine

    r(p) = sin^2( pi/2 * clip((p + 0.5 - g) / (L - 2g), 0, 1) ),   p = 0 .. L-1,

and the previous tile's falling ramp over the same pixels is ``r(L-1-p) = 1 - r(p)``, so two
neighbours' weights add up to 1. The per-axis weights are then divided by their sum over
all tiles of that axis (this also covers the rare case of three tiles overlapping near the
shifted last tile). Because the weights are separable and the tiles form a grid, the 2-D
weights of all tiles then sum to exactly 1 at every pixel: no accumulated weight map is
needed, only the output buffer.

Consequences:
* For a pointwise ``fn`` the result equals ``fn(image)`` up to float rounding.
* For a convolutional ``fn`` whose output pixel depends only on inputs within radius ``r``
  (with zero/reflect padding effects confined to ``r`` pixels of a tile border), the
  result equals ``fn(image)`` when the guard ``g >= r`` (default ``g = overlap // 4``,
  so ``overlap >= 4 r`` suffices), since pixels within ``g`` of an inner tile border get
  zero weight.
* HadamardNet normalises features per image (affine-free instance norm in every HNU,
  docs/method.md 1.4), so its receptive field is the whole image: a tile sees statistics
  of its own content, not of the whole photo, and tiled output differs from untiled output
  by a slowly varying tone shift. The raised-cosine blend over the overlap hides the seams
  (it makes the transition between two tiles' tones smooth); larger tiles and overlaps
  bring the result closer to the untiled one. ``inference.enhance`` goes further by default
  and feeds every tile the statistics of a downscaled copy of the whole image
  (:mod:`.norm_stats`, ``EnhanceConfig.norm_stats``); ``EnhanceConfig.max_untiled_pixels``
  keeps images up to that size untiled.

Memory: the output buffer (same size as the image) plus one tile's input/output at a time;
tiles are never stored.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

Tensor = torch.Tensor


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of the tiles along one axis.

    Args:
        size: axis length in pixels (>= 1).
        tile: tile length (> overlap).
        overlap: minimum overlap between neighbouring tiles (>= 0).

    Returns:
        Sorted starts ``0, s, 2s, ..., size - tile`` with ``s = tile - overlap``; ``[0]``
        when ``size <= tile`` (one tile of length ``size``).
    """
    if size <= tile:
        return [0]
    stride = tile - overlap
    count = math.ceil((size - tile) / stride) + 1
    starts = [i * stride for i in range(count - 1)]
    starts.append(size - tile)
    return starts


def _ramp(length: int, guard: int) -> torch.Tensor:
    """Rising raised-cosine ramp over ``length`` pixels with ``guard`` zero pixels at the start
    (and ``guard`` one pixels at the end), float64 in [0, 1]."""
    guard = min(guard, (length - 1) // 2)
    p = torch.arange(length, dtype=torch.float64)
    t = ((p + 0.5 - guard) / (length - 2 * guard)).clamp(0.0, 1.0)
    return torch.sin(0.5 * math.pi * t) ** 2


def axis_weights(size: int, tile: int, overlap: int, guard: int | None = None) -> list[tuple[int, torch.Tensor]]:
    """Tiles along one axis and their normalised 1-D blending weights.

    Args:
        size: axis length.
        tile: tile length.
        overlap: minimum overlap.
        guard: zero-weight pixels at each inner tile border (default ``overlap // 4``).

    Returns:
        ``[(start, w)]`` where ``w`` (float64, length ``min(tile, size)``) is the tile's
        weight; summed over all tiles (each placed at its start) the weights are 1 at every
        pixel of the axis.
    """
    guard = overlap // 4 if guard is None else guard
    starts = tile_starts(size, tile, overlap)
    length = min(tile, size)
    raw = []
    for k, s in enumerate(starts):
        w = torch.ones(length, dtype=torch.float64)
        if k > 0:  # shared with the previous tile: [s, prev_end)
            shared = starts[k - 1] + length - s
            w[:shared] *= _ramp(shared, guard)
        if k + 1 < len(starts):  # shared with the next tile: [next_start, s + length)
            shared = s + length - starts[k + 1]
            w[length - shared :] *= _ramp(shared, guard).flip(0)
        raw.append(w)
    total = torch.zeros(size, dtype=torch.float64)
    for s, w in zip(starts, raw):
        total[s : s + length] += w
    if bool((total <= 0).any()):  # cannot happen with guard < overlap / 2; kept as a guard rail
        raise AssertionError("tile weights vanish somewhere; report this with the image size")
    return [(s, w / total[s : s + length]) for s, w in zip(starts, raw)]


def check_tiling(tile: int, overlap: int) -> None:
    """Validate tiling parameters; raise ValueError saying what to change."""
    if tile < 4 or tile % 4:
        raise ValueError(
            f"tile must be a positive multiple of 4 (the network works at 1/4 "
            f"resolution), got {tile}; use e.g. 256 or 512"
        )
    if overlap < 0 or 2 * overlap > tile:
        raise ValueError(
            f"overlap must be in [0, tile/2] = [0, {tile // 2}], got {overlap}; lower --overlap or raise --tile"
        )


def tiled_apply(
    fn: Callable[[Tensor], Tensor],
    image: Tensor,
    tile: int,
    overlap: int,
    guard: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Tensor:
    """Apply ``fn`` tile by tile and blend the tiles into one output.

    Args:
        fn: maps a ``(B, C, h, w)`` tile to a ``(B, C', h, w)`` output (same spatial size);
            it may run on another device, but must return a tensor on ``image.device``.
        image: ``(B, C, H, W)`` input, any H, W >= 1.
        tile: tile side in pixels, a positive multiple of 4.
        overlap: overlap between neighbouring tiles, ``0 <= overlap <= tile / 2``.
        guard: zero-weight border of each inner tile edge (default ``overlap // 4``).
        progress: optional callback ``progress(done, total)`` after each tile.

    Returns:
        ``(B, C', H, W)``: ``sum_t w_t * fn(tile_t)`` with weights that sum to 1 per pixel,
        in the dtype of the first tile's output.
    """
    check_tiling(tile, overlap)
    if image.dim() != 4:
        raise ValueError(f"image must be (B, C, H, W), got shape {tuple(image.shape)}")
    _, _, height, width = image.shape
    rows = axis_weights(height, tile, overlap, guard)
    cols = axis_weights(width, tile, overlap, guard)
    out: Tensor | None = None
    total, done = len(rows) * len(cols), 0
    for y0, wy in rows:
        for x0, wx in cols:
            th, tw = wy.numel(), wx.numel()
            piece = fn(image[:, :, y0 : y0 + th, x0 : x0 + tw])
            if piece.shape[-2:] != (th, tw):
                raise ValueError(f"fn changed the tile size from {(th, tw)} to {tuple(piece.shape[-2:])}")
            if out is None:
                out = torch.zeros(piece.shape[0], piece.shape[1], height, width, dtype=piece.dtype, device=image.device)
            weight = (wy[:, None] * wx[None, :]).to(piece.dtype).to(piece.device)
            out[:, :, y0 : y0 + th, x0 : x0 + tw].add_((piece * weight).to(out.device))
            del piece, weight
            done += 1
            if progress is not None:
                progress(done, total)
    assert out is not None
    return out
