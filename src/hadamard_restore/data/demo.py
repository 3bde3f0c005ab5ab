"""The built-in demo dataset: synthetic pairs made at run time from photos installed packages ship.

Sources (all local files; nothing is downloaded): scikit-image's bundled ``astronaut``,
``chelsea``, ``coffee``, ``rocket``, ``motorcycle_left`` and ``motorcycle_right`` (read from
``skimage.data.data_dir`` directly, never through its pooch fetcher) and matplotlib's
``grace_hopper`` sample. Photos that are absent are skipped.

Each photo is resized (antialiased) so its short side is ``2 * size``, then
``crops_per_image`` random ``size x size`` crops are cut and degraded with the task's
sampler (:mod:`.degrade`). The folder uses the ``paired`` layout::

    out_dir/reference/<photo>_<k>.png   clean crop (8-bit PNG)
    out_dir/degraded/<photo>_<k>.png    its degraded version
    out_dir/demo.json                   settings and every crop's degradation parameters

A folder whose ``demo.json`` has the same settings and all files is reused as is.
"""

from __future__ import annotations

from pathlib import Path

import skimage.data
import torch
import torch.nn.functional as F

from hadamard_restore.artifacts import read_json, write_json
from hadamard_restore.config import DemoDataConfig
from hadamard_restore.data.degrade import degrade, task_name
from hadamard_restore.data.io import read_image, write_image
from hadamard_restore.data.transforms import random_crop_box
from hadamard_restore.errors import DataError

FORMAT = "hadamard-restore-demo/1"
SKIMAGE_FILES = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "motorcycle_right.png",
)
DEGRADED_DIR, REFERENCE_DIR = "degraded", "reference"


def clean_photos() -> list[tuple[str, Path]]:
    """``(name, path)`` of every bundled clean photo found on this machine."""
    found: list[tuple[str, Path]] = []
    try:
        base = Path(skimage.data.data_dir)
        found += [(Path(f).stem, base / f) for f in SKIMAGE_FILES if (base / f).is_file()]
    except Exception:  # scikit-image missing or laid out differently: use what else there is
        pass
    try:
        from matplotlib import cbook  # lazy: start-up cost (matplotlib, 0.2 s; pyplot 0.7 s)

        path = Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
        if path.is_file():
            found.append(("grace_hopper", path))
    except Exception:
        pass
    return found


def _resize_short_side(img: torch.Tensor, short: int) -> torch.Tensor:
    h, w = img.shape[-2:]
    scale = short / min(h, w)
    if scale >= 1:
        return img
    size = (max(short, round(h * scale)), max(short, round(w * scale)))
    return F.interpolate(img[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0].clamp(0, 1)


def _settings(cfg: DemoDataConfig, seed: int, photos: list[tuple[str, Path]]) -> dict:
    return {
        "format": FORMAT,
        "size": int(cfg.size),
        "crops_per_image": int(cfg.crops_per_image),
        "task": task_name(cfg.task),
        "seed": int(seed),
        "photos": [name for name, _ in photos],
    }


def _reusable(out_dir: Path, settings: dict) -> bool:
    manifest = out_dir / "demo.json"
    if not manifest.is_file():
        return False
    try:
        old = read_json(manifest)
    except ValueError:
        return False
    if {k: old.get(k) for k in settings} != settings:
        return False
    return all(
        (out_dir / DEGRADED_DIR / n).is_file() and (out_dir / REFERENCE_DIR / n).is_file()
        for n in old.get("params", {})
    )


def make_demo_pairs(cfg: DemoDataConfig, out_dir: str | Path, seed: int = 0) -> Path:
    """Generate (or reuse) the demo pairs in ``out_dir`` and return ``out_dir``.

    Args:
        cfg: the ``data.demo`` config section (``size``, ``crops_per_image``, ``task``).
        out_dir: folder to fill (created).
        seed: seeds crop positions and degradation parameters.

    Raises:
        DataError: no bundled photo is installed, or a photo is smaller than ``size``.
    """
    out_dir = Path(out_dir)
    photos = clean_photos()
    if not photos:
        raise DataError(
            "no bundled sample photos found (scikit-image's data files or matplotlib's "
            "grace_hopper.jpg); install scikit-image and matplotlib, or use your own folder"
        )
    settings = _settings(cfg, seed, photos)
    if _reusable(out_dir, settings):
        return out_dir
    for sub in (DEGRADED_DIR, REFERENCE_DIR):
        for old in (out_dir / sub).glob("*.png") if (out_dir / sub).is_dir() else []:
            old.unlink()
    generator = torch.Generator().manual_seed(seed)
    size, params = settings["size"], {}
    for name, path in photos:
        photo = _resize_short_side(read_image(path), 2 * size)
        if min(photo.shape[-2:]) < size:
            raise DataError(f"{path}: photo {tuple(photo.shape[-2:])} is smaller than demo size {size}")
        for k in range(settings["crops_per_image"]):
            top, left, _, _ = random_crop_box(photo.shape[-2], photo.shape[-1], size, generator)
            clean = (photo[:, top : top + size, left : left + size] * 255).round() / 255
            degraded, p = degrade(settings["task"], clean, generator)
            file = f"{name}_{k:02d}.png"
            write_image(out_dir / REFERENCE_DIR / file, clean)
            write_image(out_dir / DEGRADED_DIR / file, degraded)
            params[file] = {"source": name, "top": top, "left": left, **p}
    write_json(out_dir / "demo.json", {**settings, "params": params})
    return out_dir
