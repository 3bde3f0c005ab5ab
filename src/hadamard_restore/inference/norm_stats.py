"""Whole-image instance-norm statistics for tiled inference.

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

The statistics are ``(mean, var)`` tensors of shape ``(B, C, 1, 1)`` in float32, one pair per
norm call, in call order (each HNU's norm module is called 8 times per forward).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from hadamard_restore.net.hnu import InstanceNorm, instance_stats, normalize

Stats = list[tuple[torch.Tensor, torch.Tensor]]


def _norms(model: nn.Module) -> list[InstanceNorm]:
    return [m for m in model.modules() if isinstance(m, InstanceNorm)]


@contextmanager
def _patched(model: nn.Module, record: Stats | None = None, replay: Stats | None = None) -> Iterator[list[int]]:
    """Route every InstanceNorm call of ``model`` through a recorder or a replayer."""
    calls = [0]

    def make(norm: InstanceNorm):
        def forward(x: torch.Tensor) -> torch.Tensor:
            if replay is not None:
                if calls[0] >= len(replay):
                    raise RuntimeError(
                        f"the model made more than the {len(replay)} instance-norm calls "
                        "that were recorded; record and replay with the same model"
                    )
                mean, var = replay[calls[0]]
                mean, var = mean.to(x.device), var.to(x.device)
            else:
                mean, var = instance_stats(x)
                if record is not None:
                    record.append((mean, var))
            calls[0] += 1
            return normalize(x, mean, var, norm.eps)

        return forward

    norms = _norms(model)
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


def has_instance_norm(model: nn.Module) -> bool:
    """True when ``model`` holds at least one per-image InstanceNorm."""
    return bool(_norms(model))


def record_norm_stats(model: nn.Module, image: torch.Tensor) -> Stats:
    """Run ``model(image)`` once and return the ``(mean, var)`` of every norm call, in order.

    Args:
        model: a network with :class:`~hadamard_restore.net.hnu.InstanceNorm` layers.
        image: ``(1, 3, h, w)`` on the model's device (e.g. a downscaled copy of the photo).
    """
    stats: Stats = []
    with _patched(model, record=stats):
        model(image)
    return stats


@contextmanager
def replay_norm_stats(model: nn.Module, stats: Stats) -> Iterator[None]:
    """Inside the block, each forward of ``model`` normalises with ``stats`` (in call order).

    Raises:
        RuntimeError: a forward made a different number of norm calls than were recorded.
    """
    with _patched(model, replay=stats) as calls:

        def check(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            if calls[0] != len(stats):
                raise RuntimeError(
                    f"the model made {calls[0]} instance-norm calls, {len(stats)} were "
                    "recorded; record and replay with the same model"
                )
            calls[0] = 0

        handle = model.register_forward_hook(check)
        try:
            yield
        finally:
            handle.remove()
