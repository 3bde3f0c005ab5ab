"""Search-train / search-validation data (docs/method.md 5.3 and 8.15).

The task's training pairs (the first half of ``job.pairs``; the held-out validation pairs are
never searched on) are split by whole groups with the data layer's grouping rule
(``job.group_key``, e.g. LOL's repeated references stay on one side): a share
``search.train_portion`` (0.5, the DARTS convention) becomes search-train and the rest
search-validation. Both are sampled as random ``search.crop`` crops with flips, batches of
``search.batch_size``.

Every rank draws from its own two generators (train, validation) derived from the seed,
the stage and the rank, so ranks see different samples (a random shard each step) and a
resumed run continues the same streams.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from hadamard_restore.data.dataset import PairedImages
from hadamard_restore.data.split import make_split
from hadamard_restore.errors import DataError
from hadamard_restore.jobs import SearchJob
from hadamard_restore.runtime.process import Dist, barrier

if TYPE_CHECKING:
    from hadamard_restore.data.dataset import PairedImages

_STAGE_CODES = {"loss": 1, "arch": 2, "joint": 3}


@dataclass
class SearchData:
    """The two samplers of a search stage.

    Attributes:
        train, val: ``PairedImages`` with random crops and flips.
        batch_size: pairs per draw.
        device: where batches are moved.
    """

    train: PairedImages
    val: PairedImages
    batch_size: int
    device: torch.device

    def sample(self, which: str, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """A ``(degraded, reference)`` batch, each ``(B, 3, crop, crop)`` in [0, 1]."""
        ds = self.train if which == "train" else self.val
        x, y = ds.sample_batch(self.batch_size, generator)
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)


def search_split(job: SearchJob, run_dir: Path | None = None) -> tuple[list, list]:
    """``(search_train_pairs, search_val_pairs)`` from the task's training pairs.

    With ``run_dir``, the task split (``split.json``) and the search split
    (``search_split.json``) are written there, and demo data is generated there.

    Raises:
        DataError: fewer than two training pairs, or a split that leaves one side empty.
    """
    pool, _ = job.pairs(run_dir)
    if len(pool) < 2:
        raise DataError(
            f"the search needs at least 2 training pairs, the task has {len(pool)}; add data or lower data.val_ratio"
        )
    portion = job.search.train_portion
    split = make_split(list(pool), val_ratio=1.0 - portion, seed=job.seed, group_key=job.group_key)
    if run_dir is not None:
        split.save(Path(run_dir) / "search_split.json")
    assert split.root is not None  # make_split always records the root it resolved
    train, val = split.pairs(split.root)
    if not train or not val:
        raise DataError(
            f"search.train_portion={portion} left "
            f"{len(train)} search-train and {len(val)} search-validation pairs; "
            "use a value nearer 0.5 or more pairs"
        )
    return train, val


def search_data(
    job: SearchJob, device: torch.device, run_dir: Path | None = None, dist_ctx: Dist = Dist()
) -> SearchData:
    """Build the two samplers of a job (crops of ``search.crop``, flips on).

    Rank 0 goes first (it may generate demo data and write the split files); the others wait
    for it and then read the same files.
    """
    if not dist_ctx.is_main:
        barrier(dist_ctx)
    train, val = search_split(job, run_dir)
    if dist_ctx.is_main:
        barrier(dist_ctx)
    crop = job.search.crop
    return SearchData(
        PairedImages(train, crop=crop, flip=True),
        PairedImages(val, crop=crop, flip=True),
        job.search.batch_size,
        device,
    )


def rank_generators(seed: int, stage: str, rank: int, round_index: int = 1) -> dict[str, torch.Generator]:
    """This rank's ``{"train", "val"}`` generators, distinct per seed, stage, round and rank."""
    base = (seed * 1_000_003 + _STAGE_CODES.get(stage, 9) * 10_007 + round_index * 101 + rank * 2) % (2**62)
    return {"train": torch.Generator().manual_seed(base), "val": torch.Generator().manual_seed(base + 1)}
