"""The Python API for scripts: ``load_pretrained`` and ``enhance_image``.

    >>> import hadamard_restore as hr                                  # doctest: +SKIP
    >>> net = hr.load_pretrained("low-light")                         # eval mode, on the CPU
    >>> bright = hr.enhance_image(Image.open("dark.jpg"), model="low-light")

``enhance_image`` returns the kind it was given, with the same shape and dtype:

=================================  ==========================================================
input                              output
=================================  ==========================================================
PIL image (RGB, L, RGBA, ...)      PIL image, same size; RGB for RGB, L for L (luma of the
                                   result), RGBA keeps its alpha; other modes come back RGB
``(H, W, 3)`` numpy uint8/uint16   same dtype, rounded to the nearest code
``(H, W, 3)`` numpy float in [0,1] same dtype
``(3, H, W)`` / ``(1, 3, H, W)``   same shape, dtype and device
tensor, float in [0, 1]
=================================  ==========================================================

The pixels are used as given: a PIL image's EXIF orientation is not applied (use
``PIL.ImageOps.exif_transpose`` first, or the ``enhance`` command, which does). Images
larger than ``EnhanceConfig.max_untiled_pixels`` run tile by tile, as ``enhance`` does. The network
runs on the fast path (:mod:`hadamard_restore.inference.fastpath`), as the ``enhance`` command does:
the preferred backend, checked against the plain network once per model and size class (nothing is
timed; a repeated call costs no check). Where bfloat16 is native it runs in bf16
(``precision="fp32"`` keeps float32), and inputs from 256x256 pixels up may differ from the plain
network by up to 0.02 (measured on real photos: at most 0.0105, 50-57 dB PSNR); smaller ones run
the network as it is.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import nn

from hadamard_restore.errors import DataError


def load_pretrained(name: str, device: str | torch.device = "cpu") -> nn.Module:
    """A bundled model, its weights' sha256 checked against its card, in eval mode on ``device``.

    Args:
        name: a bundled model (``hadamard_restore.zoo.available_models()``), e.g. ``"low-light"``.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` ...

    Returns:
        The derived network with float32 parameters (fp16-stored weights are widened).

    Raises:
        UnknownModelError: no model of that name (the message lists the names).
        ModelIntegrityError: the weight file does not match its card.
    """
    from hadamard_restore.net.model_file import load_model
    from hadamard_restore.zoo.registry import model_path

    model, _ = load_model(model_path(name), torch.device(device))
    return model.eval()


@lru_cache(maxsize=4)
def _cached(name: str, device: str) -> nn.Module:
    return load_pretrained(name, device)


def _to_tensor(image: Any) -> tuple[torch.Tensor, Any]:
    """``(image (1, 3, H, W) float32 CPU, restore)`` where ``restore(out)`` gives the input's kind."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return _from_pil(image)
    if isinstance(image, np.ndarray):
        return _from_numpy(image)
    if isinstance(image, torch.Tensor):
        return _from_tensor(image)
    raise DataError(
        f"enhance_image takes a PIL image, an (H, W, 3) numpy array or a (3, H, W) / "
        f"(1, 3, H, W) tensor, got {type(image).__name__}"
    )


def _from_pil(image: Any) -> tuple[torch.Tensor, Any]:
    from PIL import Image

    mode = image.mode
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    x = torch.from_numpy(rgb.astype(np.float32) / 255.0).permute(2, 0, 1)[None]

    def restore(out: torch.Tensor) -> Any:
        result = Image.fromarray(_quantise(out, np.uint8), mode="RGB")
        if mode == "L":
            return result.convert("L")
        if mode == "RGBA":
            result.putalpha(image.getchannel("A"))
        return result

    return x, restore


def _from_numpy(array: np.ndarray) -> tuple[torch.Tensor, Any]:
    if array.ndim != 3 or array.shape[2] != 3:
        raise DataError(f"enhance_image needs an (H, W, 3) RGB array, got shape {array.shape}")
    dtype = array.dtype
    if dtype == np.uint8 or dtype == np.uint16:
        x = array.astype(np.float32) / np.float32(np.iinfo(dtype).max)
    elif np.issubdtype(dtype, np.floating):
        x = np.clip(array.astype(np.float32), 0.0, 1.0)
    else:
        raise DataError(f"enhance_image takes uint8, uint16 or float arrays, got {dtype}")
    tensor = torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None]

    def restore(out: torch.Tensor) -> np.ndarray:
        if np.issubdtype(dtype, np.floating):
            return out[0].permute(1, 2, 0).numpy().astype(dtype)
        return _quantise(out, dtype)

    return tensor, restore


def _from_tensor(image: torch.Tensor) -> tuple[torch.Tensor, Any]:
    shape = tuple(image.shape)
    if not ((image.dim() == 3 and shape[0] == 3) or (image.dim() == 4 and shape[:2] == (1, 3))):
        raise DataError(f"enhance_image needs a (3, H, W) or (1, 3, H, W) tensor, got shape {shape}")
    if not image.is_floating_point():
        raise DataError(f"enhance_image needs a float tensor in [0, 1], got {image.dtype}; divide by 255 first")
    x = image.detach().to("cpu", torch.float32).reshape(1, *shape[-3:]).clamp(0.0, 1.0)

    def restore(out: torch.Tensor) -> torch.Tensor:
        return out.reshape(shape).to(image.device, image.dtype)

    return x, restore


def _quantise(out: torch.Tensor, dtype: Any) -> np.ndarray:
    peak = float(np.iinfo(dtype).max)
    array = (out[0].permute(1, 2, 0).numpy().astype(np.float64) * peak).round()
    return np.clip(array, 0, peak).astype(dtype)


def enhance_image(
    image: Any, model: str | nn.Module = "low-light", device: str | torch.device = "cpu", precision: str = "auto"
) -> Any:
    """Enhance one image with a bundled model (or your own network); see the module docstring.

    Args:
        image: PIL image, ``(H, W, 3)`` uint8/uint16/float numpy array, or float tensor
            ``(3, H, W)`` / ``(1, 3, H, W)`` in ``[0, 1]``.
        model: a bundled model name (loaded once and cached) or a network in eval mode.
        device: where the network runs (a given network is used where it is).
        precision: ``"auto"`` lets the fast path run in bfloat16 where bf16 is native and the
            clamped output stays within 0.02 of float32; ``"fp32"`` keeps full precision.

    Returns:
        The enhanced image, of the same kind, shape and dtype as ``image``.

    Raises:
        DataError: an unsupported kind, shape or dtype; UnknownModelError: unknown name;
        ConfigError: an unknown ``precision``.
    """
    from hadamard_restore.config import ConfigError, EnhanceConfig
    from hadamard_restore.inference.enhance import enhance_tensor
    from hadamard_restore.inference.fastpath import PRECISIONS
    from hadamard_restore.inference.progress import TileProgress

    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")

    x, restore = _to_tensor(image)
    if isinstance(model, str):
        net, run_on = _cached(model, str(torch.device(device))), torch.device(device)
    else:
        net = model
        run_on = next(model.parameters()).device if any(True for _ in model.parameters()) else torch.device("cpu")
    cfg = EnhanceConfig(precision=precision)  # the backend enhance uses; tile i/n lines when tiled
    out = enhance_tensor(net, x, cfg, run_on, progress=TileProgress("enhance_image"))
    return restore(out[None])
