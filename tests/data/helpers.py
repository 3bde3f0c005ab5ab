"""Helpers for the data tests: tiny image folders written with Pillow directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

H, W = 37, 31  # odd sizes on purpose


def random_array(rng: np.random.Generator, h: int = H, w: int = W) -> np.ndarray:
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def save_png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def make_folder_pairs(
    root: Path, degraded: str, reference: str, names: dict[str, str], rng: np.random.Generator, h: int = H, w: int = W
) -> dict[str, np.ndarray]:
    """Write references and degraded images (degraded = 255 - reference) for ``{deg_name: ref_name}``.

    Returns the reference arrays by reference name.
    """
    refs: dict[str, np.ndarray] = {}
    for deg_name, ref_name in names.items():
        if ref_name not in refs:
            refs[ref_name] = random_array(rng, h, w)
            save_png(root / reference / ref_name, refs[ref_name])
        save_png(root / degraded / deg_name, 255 - refs[ref_name])
    return refs
