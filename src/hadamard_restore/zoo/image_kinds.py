"""The image kinds ``enhance_image`` takes (PIL, numpy, torch) as a ``(1, 3, H, W)`` float32
tensor in ``[0, 1]``, each with the function that turns the result back into the kind given.

The rules (documented for users in :mod:`hadamard_restore.zoo.api`): float pixels must be finite;
floats below -0.5 or above 1.5 are refused (another scale, e.g. 0..255), other values outside
``[0, 1]`` are clipped with an :class:`OutOfRangeWarning`; PIL modes ``I;16``/``I;16B``/``I``
(16-bit grey, code / 65535) and ``F`` (floats) come back in their own mode and scale.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from PIL import Image

from hadamard_restore.errors import DataError

#: float input beyond these is taken for another scale (e.g. 0..255) and refused, not clipped
FLOAT_REFUSED_BELOW, FLOAT_REFUSED_ABOVE = -0.5, 1.5
_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, as PIL's convert("L")


class OutOfRangeWarning(UserWarning):
    """Float input slightly outside [0, 1] was clipped."""


def _checked_float(x: torch.Tensor) -> torch.Tensor:
    """Float pixels as given, clipped to [0, 1]; NaN/inf and another scale are refused."""
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).sum())
        raise DataError(
            f"enhance_image: {bad} of {x.numel()} input values are NaN or infinite; the network would "
            "spread them over the whole output. Replace them first (e.g. numpy.nan_to_num)"
        )
    if x.numel() == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    if lo < FLOAT_REFUSED_BELOW or hi > FLOAT_REFUSED_ABOVE:
        raise DataError(
            f"enhance_image: float pixels must be in [0, 1], but these range from {lo:g} to {hi:g}; "
            "divide 8-bit values by 255 (16-bit ones by 65535) first"
        )
    if lo < 0 or hi > 1:
        warnings.warn(
            f"enhance_image: float pixels range from {lo:g} to {hi:g}; clipped to [0, 1]",
            OutOfRangeWarning,
            stacklevel=5,
        )
    return x.clamp(0.0, 1.0)


def to_tensor(image: Any) -> tuple[torch.Tensor, Any]:
    """``(image (1, 3, H, W) float32 CPU, restore)`` where ``restore(out)`` gives the input's kind."""
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
    mode = image.mode
    if mode.startswith("I") or mode == "F":
        return _from_pil_grey(image)
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


def _from_pil_grey(image: Any) -> tuple[torch.Tensor, Any]:
    """Modes I;16 (any byte order), I (16-bit values) and F, kept in their mode and scale."""
    mode, grey = image.mode, np.asarray(image)
    if mode == "F":
        x = _checked_float(torch.from_numpy(grey.astype(np.float32)))
    else:
        lo, hi = (int(grey.min()), int(grey.max())) if grey.size else (0, 0)
        if lo < 0 or hi > 65535:
            raise DataError(
                f"enhance_image: a mode {mode} image is read as 16-bit grey (0..65535), but its values "
                f"range from {lo} to {hi}; scale it to 0..65535 (or give a mode F image in [0, 1])"
            )
        x = torch.from_numpy(grey.astype(np.float32) / np.float32(65535))
    tensor = x[None, None].expand(1, 3, *x.shape).contiguous()

    def restore(out: torch.Tensor) -> Any:
        luma = (out[0].float() * torch.tensor(_LUMA).view(3, 1, 1)).sum(0).clamp(0, 1).numpy()
        if mode == "F":
            return Image.fromarray(luma.astype(np.float32))
        codes = np.round(luma.astype(np.float64) * 65535)
        return Image.fromarray(codes.astype(np.int32 if mode == "I" else grey.dtype))  # I;16B stays big-endian

    return tensor, restore


def _from_numpy(array: np.ndarray) -> tuple[torch.Tensor, Any]:
    if array.ndim != 3 or array.shape[2] != 3:
        raise DataError(f"enhance_image needs an (H, W, 3) RGB array, got shape {array.shape}")
    dtype = array.dtype
    if dtype == np.uint8 or dtype == np.uint16:
        x = array.astype(np.float32) / np.float32(np.iinfo(dtype).max)
    elif np.issubdtype(dtype, np.floating):
        x = _checked_float(torch.from_numpy(array.astype(np.float32))).numpy()
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
    x = _checked_float(image.detach().to("cpu", torch.float32).reshape(1, *shape[-3:]))

    def restore(out: torch.Tensor) -> torch.Tensor:
        return out.reshape(shape).to(image.device, image.dtype)

    return x, restore


def _quantise(out: torch.Tensor, dtype: Any) -> np.ndarray:
    peak = float(np.iinfo(dtype).max)
    array = (out[0].permute(1, 2, 0).numpy().astype(np.float64) * peak).round()
    return np.clip(array, 0, peak).astype(dtype)
