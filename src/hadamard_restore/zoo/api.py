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
PIL image I;16 / I;16B / I / F     the same mode: 16-bit grey (I;16*, and I holding 0..65535)
                                   is read as code / 65535, F as floats in [0, 1]; the result's
                                   luma comes back on the same scale
``(H, W, 3)`` numpy uint8/uint16   same dtype, rounded to the nearest code
``(H, W, 3)`` numpy float in [0,1] same dtype
``(3, H, W)`` / ``(1, 3, H, W)``   same shape, dtype and device
tensor, float in [0, 1]
=================================  ==========================================================

Float input (numpy, tensor, PIL ``F``) must be finite: NaN or infinity is a ``DataError`` (a
``ValueError``). Values outside ``[0, 1]`` are refused when they clearly use another scale (below
-0.5 or above 1.5, e.g. 0..255 floats: divide by 255 first) and otherwise clipped to ``[0, 1]``
with an :class:`OutOfRangeWarning` (e.g. a resampling overshoot of 1.02).

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

import torch
from torch import nn

from hadamard_restore.config import ConfigError, EnhanceConfig
from hadamard_restore.inference.enhance import enhance_tensor
from hadamard_restore.inference.fastpath.precision import PRECISIONS
from hadamard_restore.inference.progress import TileProgress
from hadamard_restore.net.model_file import load_model
from hadamard_restore.runtime.process import pick_device
from hadamard_restore.zoo.image_kinds import to_tensor
from hadamard_restore.zoo.registry import model_path

__all__ = ["enhance_image", "load_pretrained"]


def load_pretrained(name: str, device: str | torch.device = "cpu") -> nn.Module:
    """A bundled model, its weights' sha256 checked against its card, in eval mode on ``device``.

    Args:
        name: a bundled model (``hadamard_restore.available_models()``), e.g. ``"low-light"``.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` ...

    Returns:
        The derived network with float32 parameters (fp16-stored weights are widened).

    Raises:
        UnknownModelError: no model of that name (the message lists the names).
        ModelIntegrityError: the weight file does not match its card.
    """
    model, _ = load_model(model_path(name), pick_device(device))
    return model.eval()


@lru_cache(maxsize=4)
def _cached(name: str, device: str) -> nn.Module:
    return load_pretrained(name, device)


def enhance_image(
    image: Any, model: str | nn.Module = "low-light", device: str | torch.device = "auto", precision: str = "auto"
) -> Any:
    """Enhance one image with a bundled model (or your own network); see the module docstring.

    Args:
        image: PIL image, ``(H, W, 3)`` uint8/uint16/float numpy array, or float tensor
            ``(3, H, W)`` / ``(1, 3, H, W)`` in ``[0, 1]``.
        model: a bundled model name (loaded once and cached) or a network in eval mode.
        device: where a bundled network runs: ``"auto"`` (CUDA when present, else the CPU, as the
            command line), ``"cpu"``, ``"cuda[:N]"``; a given network is used where it is.
        precision: ``"auto"`` lets the fast path run in bfloat16 where bf16 is native and the
            clamped output stays within 0.02 of float32; ``"fp32"`` keeps full precision.

    Returns:
        The enhanced image, of the same kind, shape and dtype as ``image``.

    Raises:
        DataError: an unsupported kind, shape or dtype, NaN/inf, or floats on another scale (a
        ``ValueError``); TypeError: ``model`` is neither a name nor a network; DeviceError: an
        unknown ``device``; UnknownModelError: unknown name; ConfigError: an unknown ``precision``.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")

    if not isinstance(model, (str, nn.Module)):
        raise TypeError(
            f"enhance_image: model must be a bundled model name (e.g. 'low-light'; see "
            f"hadamard_restore.available_models()) or a torch network, got {type(model).__name__}"
        )
    x, restore = to_tensor(image)
    if isinstance(model, str):
        run_on = pick_device(device)
        net = _cached(model, str(run_on))
    else:
        net = model
        run_on = next(model.parameters()).device if any(True for _ in model.parameters()) else torch.device("cpu")
    cfg = EnhanceConfig(precision=precision)  # the backend enhance uses; tile i/n lines when tiled
    out = enhance_tensor(net, x, cfg, run_on, progress=TileProgress("enhance_image"))
    return restore(out[None])
