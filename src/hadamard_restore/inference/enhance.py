"""Photos in, enhanced photos out: files or folders, any size, bad files skipped.

``enhance(checkpoint, inputs, out_dir, cfg, device)`` loads a model file, finds the images
(explicit files, and image files inside folders; sub-folders with ``recursive=True``), runs
the network on each and writes the result under ``out_dir`` with the same name.

Choices (documented here because users ask about them):

* **Output format.** Always PNG (lossless): ``photo.jpg`` becomes ``photo.png``; a PNG keeps
  its name. Files found inside a folder keep their path relative to that folder. Two inputs
  that would produce the same output file are an error for the second one (it is reported
  and skipped), and an output never overwrites its own input.
* **Bit depth.** 16-bit inputs (16-bit PNG or TIFF, colour or grey) are written as 16-bit PNG,
  so no precision is thrown away; everything else is written as 8-bit PNG.
* **Colour.** Greyscale inputs are enhanced as RGB (grey repeated) and written as RGB; an
  alpha channel is dropped (``data.io`` warns once); EXIF orientation is applied on
  reading, so the output is upright and carries no orientation tag.
* **Size.** Images with at most ``cfg.max_untiled_pixels`` pixels run in one pass (exactly
  the network's output). Larger ones run tile by tile (:mod:`.tiling`, tiles of
  ``cfg.tile`` with ``cfg.overlap`` overlap), holding only the output buffer and one tile.
  Every HNU normalises with whole-image statistics, which a tile cannot see: with
  ``cfg.norm_stats="global"`` (default) the statistics are recorded once on a copy of the
  whole image downscaled to ``max_untiled_pixels`` and replayed for every tile
  (:mod:`.norm_stats`); with ``"tile"`` each tile uses its own (tiles then differ in tone,
  and the raised-cosine blending turns the differences into smooth transitions, not seams).
  A one-pass run that runs out of GPU memory is retried tiled.
* **Failures.** An unreadable or corrupt file (or any error on one image) is logged with its
  reason and skipped; the rest go through. :class:`EnhanceReport` lists both, and the CLI
  exits non-zero when anything failed.
* Outputs are written atomically (temporary file + rename), so an interrupted run never
  leaves a half-written image. Inference runs under ``torch.inference_mode``; the raw
  network output is clamped to ``[0, 1]`` before saving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn

from hadamard_restore.config import ConfigError, EnhanceConfig
from hadamard_restore.data.io import IMAGE_SUFFIXES, is_image_file
from hadamard_restore.errors import DataError
from hadamard_restore.inference.fastpath import for_enhance
from hadamard_restore.inference.norm_stats import has_instance_norm, record_norm_stats, replay_norm_stats
from hadamard_restore.inference.tiling import check_tiling, tiled_apply
from hadamard_restore.runtime import get_logger

log = get_logger(__name__)


@dataclass
class EnhanceReport:
    """What happened to each input: ``written`` (input, output) pairs and ``failed`` (input, reason)."""

    written: list[tuple[Path, Path]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        lines = [f"enhanced {len(self.written)} image(s), {len(self.failed)} failed"]
        lines += [f"  FAILED {src}: {why}" for src, why in self.failed]
        return "\n".join(lines)


def collect_inputs(inputs: Iterable[str | Path], recursive: bool = False,
                   exclude: Path | None = None) -> list[tuple[Path, Path]]:
    """Expand files and folders into ``(image file, output path relative to out_dir)``.

    Args:
        inputs: image files (any suffix; unreadable ones fail later, per file) and folders
            (their image files, sorted; sub-folders too when ``recursive``).
        recursive: descend into sub-folders of folder inputs, keeping their relative paths.
        exclude: a folder whose contents are never collected (the output folder).

    Returns:
        ``[(source, relative_output)]`` with ``relative_output`` ending in ``.png``.

    Raises:
        DataError: an input does not exist, or nothing at all was found.
    """
    found: list[tuple[Path, Path]] = []
    excluded = exclude.resolve() if exclude is not None else None
    for item in map(Path, inputs):
        if item.is_dir():
            files = sorted(item.rglob("*") if recursive else item.iterdir())
            for f in files:
                if is_image_file(f) and not (excluded and excluded in f.resolve().parents):
                    found.append((f, f.relative_to(item).with_suffix(".png")))
        elif item.exists():
            found.append((item, Path(item.name).with_suffix(".png")))
        else:
            raise DataError(f"input {item} does not exist; pass image files or folders of images")
    if not found:
        raise DataError(f"no images found in {', '.join(map(str, inputs))} (suffixes "
                        f"{', '.join(sorted(IMAGE_SUFFIXES))}); use --recursive for sub-folders")
    return found


def read_with_bits(path: str | Path) -> tuple[torch.Tensor, int]:
    """Read an image (``data.io``: 8/16-bit, grey, alpha, EXIF) and say its bit depth.

    Returns:
        ``(image (3, H, W) float32 in [0, 1], bits)`` with ``bits`` 16 when the file holds
        16-bit samples (16-bit PNG or TIFF, colour or grey), else 8.
    """
    from hadamard_restore.data.io import array_to_tensor, read_image_array

    array = read_image_array(path)
    bits = 16 if array.dtype == np.uint16 else 8
    return array_to_tensor(array), bits


def enhance_tensor(model: nn.Module, image: torch.Tensor, cfg: EnhanceConfig,
                   device: torch.device | str = "cpu",
                   progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Enhance one image, tiled when it has more than ``cfg.max_untiled_pixels`` pixels.

    Args:
        model: the derived network in eval mode, on ``device``.
        image: ``(3, H, W)`` or ``(1, 3, H, W)`` float in ``[0, 1]`` (on the CPU).
        cfg: tile side, overlap and the one-pass size limit.
        device: where the network runs; tiles move there one at a time.
        progress: ``progress(done, total)`` after each tile (tiled images only).

    Returns:
        ``(3, H, W)`` float32 on the CPU, clamped to ``[0, 1]``.
    """
    x = image if image.dim() == 4 else image.unsqueeze(0)
    device = torch.device(device)
    model = for_enhance(model, x, cfg, device)  # the fastest backend verified against eager (cfg.backend)

    def run(t: torch.Tensor) -> torch.Tensor:
        return model(t.to(device)).float().to(x.device)

    with torch.inference_mode():
        height, width = x.shape[-2:]
        out, stats_pixels = None, cfg.max_untiled_pixels
        if height * width <= cfg.max_untiled_pixels:
            try:
                out = run(x)
            except torch.cuda.OutOfMemoryError:
                log.warning("out of memory on a %dx%d image in one pass; retrying tiled", width, height)
                stats_pixels = height * width // 4  # the statistics pass must fit too
                if device.type == "cuda":
                    torch.cuda.empty_cache()
        if out is None:
            out = _tiled(model, run, x, cfg, device, progress, stats_pixels)
        return out[0].clamp_(0.0, 1.0)


def stats_image(x: torch.Tensor, max_pixels: int) -> torch.Tensor:
    """``x`` (1, 3, H, W) area-downscaled to at most ``max_pixels`` pixels (aspect kept, sides >= 8)."""
    height, width = x.shape[-2:]
    scale = min(1.0, math.sqrt(max_pixels / (height * width)))
    size = (max(8, math.floor(height * scale)), max(8, math.floor(width * scale)))
    if size == (height, width):
        return x
    return torch.nn.functional.interpolate(x, size=size, mode="area")


def _tiled(model: nn.Module, run: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
           cfg: EnhanceConfig, device: torch.device, progress: Callable[[int, int], None] | None,
           stats_pixels: int) -> torch.Tensor:
    """Tiled inference; with ``norm_stats="global"`` every tile is normalised with the statistics
    of a copy of the whole image downscaled to ``stats_pixels`` pixels (:mod:`.norm_stats`)."""
    if cfg.norm_stats == "tile" or not has_instance_norm(model):
        return tiled_apply(run, x, cfg.tile, cfg.overlap, progress=progress)
    stats = record_norm_stats(model, stats_image(x, stats_pixels).to(device))
    with replay_norm_stats(model, stats):
        return tiled_apply(run, x, cfg.tile, cfg.overlap, progress=progress)


class _TileBar:
    """A tqdm bar over the tiles of one large image (shown on a terminal only)."""

    def __init__(self, name: str) -> None:
        self.name, self.bar = name, None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.name, unit="tile", leave=False, disable=None)
        self.bar.update(1)

    def __enter__(self) -> "_TileBar":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


def _load(checkpoint: str | Path, device: torch.device) -> nn.Module:
    from hadamard_restore.net.model_file import load_model

    model, _ = load_model(checkpoint, device)
    return model.eval()


def enhance(checkpoint: str | Path | nn.Module, inputs: Iterable[str | Path], out_dir: str | Path,
            cfg: EnhanceConfig | None = None, device: str | torch.device = "cpu", recursive: bool = False,
            on_image: Callable[[Path, Path | None], None] | None = None) -> EnhanceReport:
    """Enhance image files and folders into ``out_dir``; bad files are reported and skipped.

    Args:
        checkpoint: a model file (``model.pt`` / ``last.pt``) or an already built network.
        inputs: image files and/or folders.
        out_dir: output folder (created).
        cfg: ``EnhanceConfig`` (tile, overlap, max_untiled_pixels); defaults when ``None``.
        device: ``cpu``, ``cuda`` ...
        recursive: also enhance images in sub-folders of folder inputs.
        on_image: callback ``(source, output or None on failure)`` after each image.

    Returns:
        :class:`EnhanceReport` with written outputs and failures with reasons.

    Raises:
        DataError: no input exists or no image was found; CheckpointError: bad model file;
        ConfigError: tile not a multiple of 4 or overlap above tile / 2.
    """
    from hadamard_restore.data.io import write_image

    cfg = cfg or EnhanceConfig()
    try:
        check_tiling(cfg.tile, cfg.overlap)
    except ValueError as exc:
        raise ConfigError(f"enhance.tile/overlap: {exc}") from None
    out_dir = Path(out_dir)
    jobs = collect_inputs(inputs, recursive, exclude=out_dir)
    device = torch.device(device)
    model = checkpoint.to(device).eval() if isinstance(checkpoint, nn.Module) else _load(checkpoint, device)
    report, claimed = EnhanceReport(), {}
    for src, rel in jobs:
        dst = out_dir / rel
        try:
            key = dst.resolve()
            if key == src.resolve():
                raise DataError(f"the output {dst} would overwrite its input; choose another --out")
            if key in claimed:
                raise DataError(f"output {dst} is already taken by {claimed[key]}; enhance inputs "
                                "with the same name into different --out folders")
            image, bits = read_with_bits(src)
            with _TileBar(src.name) as bar:
                result = enhance_tensor(model, image, cfg, device, progress=bar)
            del image
            write_image(dst, result, bits=bits)
            claimed[key] = src
            report.written.append((src, dst))
            log.info("%s -> %s (%dx%d, %d-bit)", src, dst, result.shape[-1], result.shape[-2], bits)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # one bad image must not stop the others
            reason = str(exc) if isinstance(exc, DataError) else f"{type(exc).__name__}: {exc}"
            report.failed.append((src, reason))
            log.error("skipped %s: %s", src, reason)
            dst = None
        if on_image is not None:
            on_image(src, dst)
    return report
