"""Whole-image statistics (instance norm, global ops) for tiled inference.

Every HNU normalises its features with per-image statistics (affine-free instance norm,
docs/method.md 1.4): ``y = (x - mean_HW(x)) / sqrt(var_HW(x) + eps)``. Run tile by tile, each tile
would use the statistics of its own content, and a tiled result drifts from the one-pass
result (tone shifts between tiles). This module records the statistics of every norm call
during one forward pass, and replays them (in the same call order) during later passes:

1. ``stats = record_norm_stats(model, small)`` on a downscaled copy of the whole photo
   (small enough for one pass), then
2. ``with replay_norm_stats(model, stats): model(tile)`` for each tile.

Each tile is then normalised with (an estimate of) the whole image's statistics. On four
LOL images with a (briefly) trained paper-lol network, 128 px tiles agree with the one-pass
output to 30.8-36.7 dB PSNR with statistics from a half-size copy, against 21.3-24.8 dB with
per-tile statistics (``benchmarks/results/product/tiling_seams.md``). Replaying the statistics of
the full-size image makes tiling exact for networks whose other layers are local (tested).

The same holds for the one candidate op with a global receptive field, ``globalres_1x1`` (the
``global`` search space, :class:`~hadamard_restore.net.ops.GlobalRes`): it gates its input with
the per-channel spatial mean of that input (its :class:`~hadamard_restore.net.ops.SpatialMean`),
which a tile would take over the tile alone. Its means are recorded and replayed the same way, in
the same call order as the norms, so a network with the global op tiles like any other (tiled
output equals the one-pass output when the statistics of the full-size image are replayed;
tested). A supernet's fused mixed ops compute the mean inline and are not replayed: only derived
networks are tiled.

The statistics are, in call order, one tuple per call: ``(mean, var)`` for a norm (each HNU's norm
module is called 8 times per forward), ``(mean,)`` for a spatial mean; tensors of shape
``(B, C, 1, 1)`` in float32.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from hadamard_restore.net.hnu import InstanceNorm, instance_stats, normalize
from hadamard_restore.net.ops import SpatialMean

Stats = list[tuple[torch.Tensor, ...]]


def _stat_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (InstanceNorm, SpatialMean))]


@contextmanager
def _patched(model: nn.Module, record: Stats | None = None, replay: Stats | None = None) -> Iterator[list[int]]:
    """Route every InstanceNorm and SpatialMean call of ``model`` through a recorder or a replayer."""
    calls = [0]

    def replayed(kind: int) -> tuple[torch.Tensor, ...]:
        if replay is None or calls[0] >= len(replay):
            raise RuntimeError(
                f"the model made more than the {len(replay or [])} statistics calls (instance norms, "
                "spatial means) that were recorded; record and replay with the same model"
            )
        found = replay[calls[0]]
        if len(found) != kind:
            raise RuntimeError(
                f"statistics call {calls[0]} is a {'norm' if kind == 2 else 'spatial mean'} but a "
                f"{'norm' if len(found) == 2 else 'spatial mean'} was recorded there; record and replay "
                "with the same model"
            )
        return found

    def make(module: nn.Module):
        eps = module.eps if isinstance(module, InstanceNorm) else 0.0

        def norm_forward(x: torch.Tensor) -> torch.Tensor:
            if replay is not None:
                mean, var = (t.to(x.device) for t in replayed(2))
            else:
                mean, var = instance_stats(x)
                if record is not None:
                    record.append((mean, var))
            calls[0] += 1
            return normalize(x, mean, var, eps)

        def mean_forward(x: torch.Tensor) -> torch.Tensor:
            if replay is not None:
                mean = replayed(1)[0].to(x.device, x.dtype)
            else:
                mean = x.mean(dim=(2, 3), keepdim=True)  # as SpatialMean.forward
                if record is not None:
                    record.append((mean.float(),))
            calls[0] += 1
            return mean

        return norm_forward if isinstance(module, InstanceNorm) else mean_forward

    norms = _stat_modules(model)
    for norm in norms:
        # An instance attribute shadowing the class's forward, exactly what `norm.forward = ...`
        # does on an nn.Module (the `del` below removes it again); spelled through vars() because
        # a type checker reads a plain assignment to a method as a mistake.
        vars(norm)["forward"] = make(norm)
    try:
        yield calls
    finally:
        for norm in norms:
            del norm.forward


def has_image_stats(model: nn.Module) -> bool:
    """True when ``model`` holds at least one per-image statistic: an InstanceNorm, or the spatial
    mean of a global op (``globalres_1x1``)."""
    return bool(_stat_modules(model))


def record_norm_stats(model: nn.Module, image: torch.Tensor) -> Stats:
    """Run ``model(image)`` once and return the statistics of every norm and spatial-mean call, in order.

    Args:
        model: a network with :class:`~hadamard_restore.net.hnu.InstanceNorm` layers (or global ops).
        image: ``(1, 3, h, w)`` on the model's device (e.g. a downscaled copy of the photo).
    """
    stats: Stats = []
    with _patched(model, record=stats):
        model(image)
    return stats


@contextmanager
def replay_norm_stats(model: nn.Module, stats: Stats) -> Iterator[None]:
    """Inside the block, each forward of ``model`` normalises (and takes spatial means) with ``stats``
    (in call order).

    Raises:
        RuntimeError: a forward made a different number (or kind) of statistics calls than were recorded.
    """
    with _patched(model, replay=stats) as calls:

        def check(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            if calls[0] != len(stats):
                raise RuntimeError(
                    f"the model made {calls[0]} statistics calls (instance norms, spatial means), "
                    f"{len(stats)} were recorded; record and replay with the same model"
                )
            calls[0] = 0

        handle = model.register_forward_hook(check)
        try:
            yield
        finally:
            handle.remove()
