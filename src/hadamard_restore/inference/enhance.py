"""Single-image inference, and photos in, enhanced photos out: files or folders, any size.

One image, two ways (both return ``(3, H, W)`` float32 on the CPU, clamped to ``[0, 1]``):

* :func:`infer`: one full-resolution pass of the network as it is (channels-last, optional
  bfloat16 autocast): what training's validation, ``evaluate`` and the model packaging score,
  quantised by :func:`quantize_8bit` to the 8-bit values a saved PNG holds (docs/evaluation.md §4);
* :func:`enhance_tensor`: what a user's photo goes through: the fast path and tiling below.

``enhance(checkpoint, inputs, out_dir, cfg, device)`` loads a model file, finds the images
(explicit files, and image files inside folders; sub-folders with ``recursive=True``), runs
the network on each and writes the result under ``out_dir`` with the same name and format.

Choices (documented here because users ask about them):

* **Output format and paths** (:mod:`hadamard_restore.photo`): the format is kept (JPEG in,
  JPEG out at ``quality``; PNG in, PNG out; 16-bit PNG/TIFF stay 16-bit) with the EXIF
  (orientation reset to 1) and ICC profile carried over where the format allows; ``suffix``
  is appended to every name; files found inside a folder keep their path relative to that
  folder. An output that would overwrite any input of the call, or another output, refuses
  the whole call before anything is read.
* **Colour.** Greyscale inputs are enhanced as RGB (grey repeated) and written as RGB; an
  alpha channel is dropped (``data.io`` warns once); EXIF orientation is applied on
  reading, so the output is upright and its EXIF says orientation 1.
* **Size.** Images with at most ``cfg.max_untiled_pixels`` pixels run in one pass (exactly
  the network's output). Larger ones run tile by tile (:mod:`.tiling`, tiles of
  ``cfg.tile`` with ``cfg.overlap`` overlap), holding only the output buffer and one tile.
  Every HNU normalises with whole-image statistics (and ``globalres_1x1``, the ``global`` space's
  op, gates with whole-image means), which a tile cannot see: with
  ``cfg.norm_stats="global"`` (default) the statistics are recorded once on a copy of the
  whole image downscaled to ``max_untiled_pixels`` and replayed for every tile
  (:mod:`.norm_stats`); with ``"tile"`` each tile uses its own (tiles then differ in tone,
  and the raised-cosine blending turns the differences into smooth transitions, not seams).
  A one-pass run that runs out of GPU memory is retried tiled.
* **Speed** (:mod:`.fastpath`): ``cfg.backend="auto"`` runs the platform's preferred backend
  (bfloat16 where it is native and ``cfg.precision="auto"``, else channels-last; a 16-bit photo
  always runs in float32) once its output on a crop of the image matches eager within its
  tolerance (else eager), checked once per model and size class and cached; nothing is timed.
  ``cfg.backend="timed"`` times every backend instead and caches the fastest for later calls.
* **Progress.** A tiled image logs ``tile i/n`` lines; any image (or backend check) that runs
  more than a few seconds says so (:mod:`hadamard_restore.runtime.slow`).
* **Tiny images.** A side of 1 pixel cannot be reflect-padded: such an image is edge-replicated
  to 2 pixels for the network and cropped back.
* **Failures.** An unreadable or corrupt file (or any error on one image) is logged with its
  reason and skipped; the rest go through. :class:`EnhanceReport` lists both, and the CLI
  exits non-zero when anything failed.
* Outputs are written atomically (temporary file + rename), so an interrupted run never
  leaves a half-written image. Inference runs under ``torch.inference_mode``; the raw
  network output is clamped to ``[0, 1]`` before saving.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from hadamard_restore.config import ConfigError, EnhanceConfig
from hadamard_restore.errors import DataError
from hadamard_restore.inference.fastpath.runner import for_enhance
from hadamard_restore.inference.norm_stats import has_image_stats, record_norm_stats, replay_norm_stats
from hadamard_restore.inference.progress import TileProgress
from hadamard_restore.inference.tiling import check_tiling, tiled_apply
from hadamard_restore.net.model_file import load_model
from hadamard_restore.net.padding import crop_pads, replicate_to
from hadamard_restore.photo.io import read_photo, write_photo
from hadamard_restore.photo.plan import plan_outputs
from hadamard_restore.runtime.log import get_logger
from hadamard_restore.runtime.slow import notice_if_slow

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


def quantize_8bit(x: torch.Tensor) -> torch.Tensor:
    """``round(255 * clamp(x, 0, 1)) / 255``: the value a saved 8-bit PNG holds. Any shape."""
    return torch.round(x.clamp(0.0, 1.0) * 255.0) / 255.0


@torch.no_grad()
def infer(model: nn.Module, image: torch.Tensor, device: torch.device, amp: bool = False) -> torch.Tensor:
    """Restore one full-resolution image in one pass (no tiling, no fast path).

    Args:
        model: the derived network (pads to a multiple of 4 and crops back itself).
        image: ``(3, H, W)`` or ``(1, 3, H, W)`` in [0, 1].
        device: where to run.
        amp: bfloat16 autocast (CUDA only).

    Returns:
        ``(3, H, W)`` float32 on the CPU, clamped to [0, 1] (not yet quantised).
    """
    x = image if image.dim() == 4 else image.unsqueeze(0)
    x = x.to(device).contiguous(memory_format=torch.channels_last)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda"):
        out = model(x)
    return out.float().clamp(0.0, 1.0)[0].cpu()


def enhance_tensor(
    model: nn.Module,
    image: torch.Tensor,
    cfg: EnhanceConfig,
    device: torch.device | str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
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
    x, tiny = replicate_to(image if image.dim() == 4 else image.unsqueeze(0), 2)  # 1-pixel sides
    device = torch.device(device)
    model = for_enhance(model, x, cfg, device)  # the preferred backend, verified against eager

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
        return crop_pads(out, tiny)[0].clamp_(0.0, 1.0)


def stats_image(x: torch.Tensor, max_pixels: int) -> torch.Tensor:
    """``x`` (1, 3, H, W) area-downscaled to at most ``max_pixels`` pixels (aspect kept, sides >= 8)."""
    height, width = x.shape[-2:]
    scale = min(1.0, math.sqrt(max_pixels / (height * width)))
    size = (max(8, math.floor(height * scale)), max(8, math.floor(width * scale)))
    if size == (height, width):
        return x
    return torch.nn.functional.interpolate(x, size=size, mode="area")


def _tiled(
    model: nn.Module,
    run: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    cfg: EnhanceConfig,
    device: torch.device,
    progress: Callable[[int, int], None] | None,
    stats_pixels: int,
) -> torch.Tensor:
    """Tiled inference; with ``norm_stats="global"`` every tile is normalised with the statistics
    of a copy of the whole image downscaled to ``stats_pixels`` pixels (:mod:`.norm_stats`)."""
    if cfg.norm_stats == "tile" or not has_image_stats(model):
        return tiled_apply(run, x, cfg.tile, cfg.overlap, progress=progress)
    stats = record_norm_stats(model, stats_image(x, stats_pixels).to(device))
    with replay_norm_stats(model, stats):
        return tiled_apply(run, x, cfg.tile, cfg.overlap, progress=progress)


def _load(checkpoint: str | Path, device: torch.device) -> nn.Module:
    model, _ = load_model(checkpoint, device)
    return model.eval()


def enhance(
    checkpoint: str | Path | nn.Module,
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    cfg: EnhanceConfig | None = None,
    device: str | torch.device = "cpu",
    recursive: bool = False,
    on_image: Callable[[Path, Path | None], None] | None = None,
    suffix: str = "",
    quality: int = 95,
) -> EnhanceReport:
    """Enhance image files and folders into ``out_dir``; bad files are reported and skipped.

    Args:
        checkpoint: a model file (``model.pt`` / ``last.pt``) or an already built network.
        inputs: image files and/or folders.
        out_dir: output folder (created).
        cfg: ``EnhanceConfig`` (tile, overlap, max_untiled_pixels); defaults when ``None``.
        device: ``cpu``, ``cuda`` ...
        recursive: also enhance images in sub-folders of folder inputs.
        on_image: callback ``(source, output or None on failure)`` after each image.
        suffix: appended to every output stem (``pic.jpg`` -> ``pic<suffix>.jpg``).
        quality: JPEG / WebP quality of JPEG / WebP outputs (1-100).

    Returns:
        :class:`EnhanceReport` with written outputs and failures with reasons.

    Raises:
        DataError: no input exists, no image was found, or an output would overwrite an input
        or another output (refused before any work); CheckpointError: bad model file;
        ConfigError: tile not a multiple of 4 or overlap above tile / 2.
    """
    cfg = cfg or EnhanceConfig()
    try:
        check_tiling(cfg.tile, cfg.overlap)
    except ValueError as exc:
        raise ConfigError(f"enhance.tile/overlap: {exc}") from None
    if not 1 <= quality <= 100:
        raise DataError(f"--quality must be between 1 and 100, got {quality}")
    jobs = plan_outputs(inputs, out_dir, recursive, suffix)
    device = torch.device(device)
    model = checkpoint.to(device).eval() if isinstance(checkpoint, nn.Module) else _load(checkpoint, device)
    report = EnhanceReport()
    for src, dst in jobs:
        written: Path | None = dst  # what on_image is told: None when the image failed
        try:
            photo = read_photo(src)
            # 16-bit photos keep full precision: bf16's ~0.01 would be hundreds of 16-bit steps
            pcfg = cfg.model_copy(update={"precision": "fp32"}) if photo.bits > 8 and cfg.precision == "auto" else cfg
            with notice_if_slow(f"enhancing {src.name} ({photo.pixels.shape[1]}x{photo.pixels.shape[0]})"):
                result = enhance_tensor(model, photo.tensor(), pcfg, device, progress=TileProgress(src.name))
            write_photo(dst, result, photo, quality)
            report.written.append((src, dst))
            log.info("%s -> %s (%dx%d, %d-bit)", src, dst, result.shape[-1], result.shape[-2], photo.bits)
            del photo
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # one bad image must not stop the others
            reason = str(exc) if isinstance(exc, DataError) else f"{type(exc).__name__}: {exc}"
            report.failed.append((src, reason))
            log.error("skipped %s: %s", src, reason)
            written = None
        if on_image is not None:
            on_image(src, written)
    return report
