"""Progress lines for tiled images: ``"<name>: tile i/n"`` in the log (a terminal or a file alike)."""

from __future__ import annotations

import time

from hadamard_restore.runtime.log import get_logger

log = get_logger("hadamard_restore.inference.enhance")


class TileProgress:
    """``progress(done, total)`` for :func:`~hadamard_restore.inference.tiling.tiled_apply`: one line
    for the first tile, then at most one every ``every`` seconds, and one for the last."""

    def __init__(self, name: str, every: float = 2.0) -> None:
        self.name, self.every = name, every
        self.start = self.last = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if done == 1 or done == total or now - self.last >= self.every:
            self.last = now
            log.info("%s: tile %d/%d (%.0f s)", self.name, done, total, now - self.start)
