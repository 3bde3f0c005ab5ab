"""``PairedImages``: degraded/reference pairs held in memory, sampled with explicit generators.

The benchmark folders this project trains on are small (hundreds of images), so every image
is decoded once and kept in memory in its file's own integer type (uint8 or uint16, a quarter
of float32's size); conversion to float32 ``[0, 1]`` happens per access.

- ``ds[i]`` / ``ds.full(i)``: the whole pair, for evaluation.
- ``ds.sample(i, generator)``: the pair after the paired random crop and flips.
- ``ds.sample_batch(batch_size, generator)``: a ``(B, 3, h, w)`` batch for search/training loops.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from hadamard_restore.data.io import array_to_tensor, read_image_array
from hadamard_restore.data.layouts import Pair
from hadamard_restore.data.transforms import paired_random_flip, random_crop_box
from hadamard_restore.errors import DataError


class PairedImages:
    """A list of pairs with in-memory caching and generator-driven augmentation.

    Args:
        pairs: the degraded/reference file pairs.
        crop: side (or ``(h, w)``) of the random crop applied by :meth:`sample`; None keeps
            full images (then a batch needs every image to have the same size).
        flip: random left-right and up-down flips in :meth:`sample`.
        cache: keep decoded images in memory (default True).

    Raises:
        DataError: no pairs; and on access, unreadable files or a pair whose sizes differ.
    """

    def __init__(
        self, pairs: list[Pair], crop: int | tuple[int, int] | None = None, flip: bool = False, cache: bool = True
    ) -> None:
        if not pairs:
            raise DataError("PairedImages got no pairs; check the dataset with `hadamard-restore data check`")
        self.pairs = list(pairs)
        self.crop = crop
        self.flip = flip
        self.cache = cache
        self._store: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.pairs)

    def _arrays(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if index in self._store:
            return self._store[index]
        pair = self.pairs[index]
        deg, ref = read_image_array(pair.degraded), read_image_array(pair.reference)
        if deg.shape != ref.shape:
            raise DataError(
                f"pair sizes differ: {pair.degraded} is {deg.shape[1]}x{deg.shape[0]} but its reference "
                f"{pair.reference} is {ref.shape[1]}x{ref.shape[0]} (W x H); "
                "fix or remove this pair"
            )
        if self.cache:
            self._store[index] = (deg, ref)
        return deg, ref

    def _index(self, index: int) -> int:
        if not -len(self) <= index < len(self):
            raise IndexError(f"pair index {index} out of range for {len(self)} pairs")
        return index % len(self)

    def full(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole pair as two float32 ``(3, H, W)`` tensors in ``[0, 1]``."""
        deg, ref = self._arrays(self._index(index))
        return array_to_tensor(deg), array_to_tensor(ref)

    def sample(self, index: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Pair ``index`` after the random crop (if ``crop``) and flips (if ``flip``).

        The crop is cut from the cached integer arrays before conversion to float, so large
        images cost only their crop per draw. Draws from ``generator``: the crop corner
        (as :func:`.transforms.random_crop_box`), then two flip draws.
        """
        index = self._index(index)
        deg, ref = self._arrays(index)
        if self.crop is not None:
            try:
                top, left, ch, cw = random_crop_box(deg.shape[0], deg.shape[1], self.crop, generator)
            except DataError as exc:
                raise DataError(f"{self.pairs[index].degraded}: {exc}") from None
            deg, ref = deg[top : top + ch, left : left + cw], ref[top : top + ch, left : left + cw]
        deg_t, ref_t = array_to_tensor(deg), array_to_tensor(ref)
        if self.flip:
            deg_t, ref_t = paired_random_flip(deg_t, ref_t, generator)
        return deg_t, ref_t

    def __getitem__(self, index: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``ds[i]``: the full pair; with a generator (``ds.__getitem__(i, g)``), :meth:`sample`."""
        return self.full(index) if generator is None else self.sample(index, generator)

    def sample_batch(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """A random batch ``(degraded, reference)``, each ``(B, 3, h, w)`` float32.

        Pairs are drawn without replacement when ``batch_size <= len(self)``, else with.

        Raises:
            DataError: ``crop`` is None and the drawn images differ in size.
        """
        if batch_size < 1:
            raise DataError(f"batch_size must be at least 1, got {batch_size}")
        if batch_size <= len(self):
            indices = torch.randperm(len(self), generator=generator)[:batch_size].tolist()
        else:
            indices = torch.randint(0, len(self), (batch_size,), generator=generator).tolist()
        samples = [self.sample(i, generator) for i in indices]
        first = samples[0][0]
        for i, (deg, _) in zip(indices, samples):
            if deg.shape != first.shape:
                raise DataError(
                    f"cannot batch images of different sizes ({tuple(first.shape[-2:])} and "
                    f"{tuple(deg.shape[-2:])}, e.g. {Path(self.pairs[i].degraded).name}); "
                    "set a crop size or use batch size 1"
                )
        return torch.stack([s[0] for s in samples]), torch.stack([s[1] for s in samples])

    def sizes(self) -> list[tuple[int, int]]:
        """``(H, W)`` of every pair (decodes and caches the images)."""
        return [tuple(self._arrays(i)[0].shape[:2]) for i in range(len(self))]
