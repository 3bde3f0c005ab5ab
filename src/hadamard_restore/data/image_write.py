"""Image files out: ``(3, H, W)`` float tensors in ``[0, 1]`` as 8- or 16-bit RGB PNGs.

Written atomically through :mod:`hadamard_restore.artifacts` (temporary file + rename);
:mod:`hadamard_restore.data.io` re-exports both functions.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from hadamard_restore.artifacts import atomic_write_bytes
from hadamard_restore.data.codec16 import encode_png16
from hadamard_restore.errors import DataError


def _to_array(img: torch.Tensor, bits: int) -> np.ndarray:
    if img.ndim == 4 and img.shape[0] == 1:
        img = img[0]
    if img.ndim != 3 or img.shape[0] not in (1, 3):
        raise DataError(f"write_image needs a (3, H, W) or (1, H, W) tensor, got shape {tuple(img.shape)}")
    if not torch.isfinite(img).all():
        raise DataError("write_image got NaN or infinite values; check the network output")
    peak = 255 if bits == 8 else 65535
    x = (img.detach().float().cpu().clamp(0, 1) * peak).round()
    array = x.permute(1, 2, 0).numpy().astype(np.uint8 if bits == 8 else np.uint16)
    return np.repeat(array, 3, axis=2) if array.shape[2] == 1 else array


def encode_image(img: torch.Tensor, bits: int = 8) -> bytes:
    """PNG bytes of a ``(3, H, W)`` tensor in ``[0, 1]`` (values outside are clipped, then rounded)."""
    if bits not in (8, 16):
        raise DataError(f"bits must be 8 or 16, got {bits}")
    array = _to_array(img, bits)
    if bits == 16:
        return encode_png16(array)
    buf = io.BytesIO()
    Image.fromarray(array, mode="RGB").save(buf, format="PNG")
    return buf.getvalue()


def write_image(path: str | Path, img: torch.Tensor, bits: int = 8) -> Path:
    """Atomically write ``img`` (``(3, H, W)`` float in ``[0, 1]``) as an 8- or 16-bit RGB PNG.

    Values are clipped to ``[0, 1]`` and rounded to the nearest code (``round(x * 255)``), so
    reading the file back gives the input to within ``0.5 / 255`` (or ``0.5 / 65535``).
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise DataError(f"{path}: write_image writes PNG only; give the file a .png suffix")
    return atomic_write_bytes(path, encode_image(img, bits))
