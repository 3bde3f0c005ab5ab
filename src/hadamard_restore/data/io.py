"""Image files in and out: ``(3, H, W)`` float32 RGB tensors in ``[0, 1]``.

Reading (Pillow; OpenCV through :mod:`.codec16` for 16-bit colour PNG/TIFF, which Pillow cuts to 8 bits):

- 8-bit images are divided by 255, 16-bit images (PNG, TIFF) by 65535; greyscale is repeated to
  three channels; palette images are expanded.
- An image above the pixel limit (:mod:`.pixel_limit`) is refused from its header, by that name.
- An alpha channel is dropped (not composited), said once per process (:class:`AlphaDroppedWarning`).
- The EXIF orientation tag (0x0112) is applied, so the tensor is upright as a viewer shows it.
- Unreadable, truncated or non-image files raise a :class:`~hadamard_restore.errors.DataError`.
- A PNG cut off before its ``IEND`` chunk is damaged even when its pixels decode, and Pillow's
  ``LOAD_TRUNCATED_IMAGES`` is ignored (:mod:`.damage`): missing data is never filled in.

Writing: :func:`write_image` stores 8-bit (default) or 16-bit RGB PNGs atomically.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFile, UnidentifiedImageError

from hadamard_restore.artifacts import atomic_write_bytes
from hadamard_restore.data.codec16 import decode16, encode_png16, png_bit_depth
from hadamard_restore.data.damage import end_marker_missing, read_regular, require_regular, strict_decoding
from hadamard_restore.data.pixel_limit import check_header, check_pixels, pillow_unlimited
from hadamard_restore.errors import DataError

__all__ = [
    "IMAGE_SUFFIXES",
    "AlphaDroppedWarning",
    "apply_orientation",
    "array_to_tensor",
    "encode_image",
    "image_size",
    "is_image_file",
    "looks_truncated",
    "read_image",
    "read_image_array",
    "reset_alpha_warning",
    "write_image",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
EXIF_ORIENTATION = 0x0112


class AlphaDroppedWarning(UserWarning):
    """An image had an alpha channel; it was dropped (said once per process)."""


_alpha_warned = False


def reset_alpha_warning() -> None:
    """Let the next image with alpha warn again (for tests)."""
    global _alpha_warned
    _alpha_warned = False


def _warn_alpha(path: Path) -> None:
    global _alpha_warned
    if not _alpha_warned:
        _alpha_warned = True
        warnings.warn(
            f"{path}: alpha channel dropped (transparent pixels keep their colour); "
            "further images with alpha are read the same way without this message",
            AlphaDroppedWarning,
            stacklevel=3,
        )


def is_image_file(path: Path) -> bool:
    """True for a visible file whose suffix is one of :data:`IMAGE_SUFFIXES` (any case)."""
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES


def refuse_special_files(paths: Iterable[Path]) -> None:
    """Refuse a FIFO, device or socket named like an image (``x.png``) without opening it.

    Raises:
        DataError: naming the first such path and what it is.
    """
    for p in paths:
        if p.suffix.lower() in IMAGE_SUFFIXES and p.exists() and not (p.is_file() or p.is_dir()):
            require_regular(p)


def apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an ``(H, W, ...)`` array the way EXIF orientation 1-8 asks (as PIL's exif_transpose)."""
    ops = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: np.swapaxes(a, 0, 1),
        6: lambda a: np.rot90(a, k=-1),
        7: lambda a: np.rot90(a, k=-1)[::-1],
        8: lambda a: np.rot90(a, k=1),
    }
    return np.ascontiguousarray(ops.get(orientation, ops[1])(array))


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1-8) without decoding pixels (1 when absent or unreadable).

    For PNG only an ``eXIf`` chunk before the image data counts (as the PNG spec asks);
    Pillow's ``getexif()`` would decode the whole image to look behind it.
    """
    try:
        if im.format == "PNG":
            raw = im.info.get("exif")
            if not raw:
                return 1
            exif = Image.Exif()
            exif.load(raw)
        else:
            exif = im.getexif()
        value = int(exif.get(EXIF_ORIENTATION, 1))
        return value if 1 <= value <= 8 else 1
    except Exception:  # a broken EXIF block must not make the pixels unreadable
        return 1


def _pil_to_array(im: Image.Image, path: Path) -> np.ndarray:
    """Pixels of a loaded PIL image as ``uint8`` or ``uint16`` ``(H, W, 3)``."""
    mode = im.mode
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        mode = im.mode
    if mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        _warn_alpha(path)
        im = im.convert("RGB") if mode != "LA" else im.getchannel("L")
        mode = im.mode
    if mode == "1":
        gray = np.asarray(im, dtype=np.uint8) * np.uint8(255)
    elif mode == "L":
        gray = np.asarray(im, dtype=np.uint8)
    elif mode.startswith("I;16") or mode == "I":
        gray = np.clip(np.asarray(im).astype(np.int64), 0, 65535).astype(np.uint16)
    elif mode == "F":
        gray = np.round(np.clip(np.asarray(im, dtype=np.float64), 0, 1) * 65535).astype(np.uint16)
    else:
        rgb = np.asarray(im if mode == "RGB" else im.convert("RGB"), dtype=np.uint8)
        return rgb
    return np.repeat(gray[:, :, None], 3, axis=2)


def _channels_to_rgb(array: np.ndarray, path: Path) -> np.ndarray:
    """``(H, W, C)`` with C in 1..4 (grey, grey+alpha, RGB, RGBA) -> ``(H, W, 3)``."""
    if array.shape[2] in (2, 4):
        _warn_alpha(path)
        array = array[:, :, :-1]
    return np.repeat(array, 3, axis=2) if array.shape[2] == 1 else array


def _is_16bit_colour_tiff(im: ImageFile.ImageFile) -> bool:
    """Pillow opens 16-bit RGB TIFFs as 8-bit RGB (high bytes); spot them by the raw mode."""
    rawmode = str(im.tile[0].args[0]) if im.tile and im.tile[0].args else ""
    return im.mode in ("RGB", "RGBA") and "16" in rawmode


def read_image_array(path: str | Path) -> np.ndarray:
    """Read an image as an upright ``uint8`` or ``uint16`` array ``(H, W, 3)`` (no scaling).

    Raises:
        DataError: the file is missing, not an image, truncated or otherwise undecodable.
    """
    path = Path(path)
    data = read_regular(path)  # a FIFO or a device is refused unopened
    check_header(data, path)  # too many pixels: said so before anything is decoded
    damaged = end_marker_missing(data)
    if damaged:
        raise DataError(f"{path}: image data is truncated or corrupt ({damaged}); copy or save the file again")
    try:
        with strict_decoding(), pillow_unlimited(), Image.open(io.BytesIO(data)) as im:
            orientation = _orientation(im)  # header only, before any decode error could be hidden
            sixteen_bit_png = png_bit_depth(data) == 16 and im.mode not in ("I", "I;16", "I;16B")
            if sixteen_bit_png or (im.format == "TIFF" and _is_16bit_colour_tiff(im)):
                array = _channels_to_rgb(decode16(data), path)
            else:
                im.load()
                array = _pil_to_array(im, path)
    except UnidentifiedImageError:
        raise DataError(
            f"{path}: not a readable image (Pillow does not recognise the format); "
            "remove it from the folder or convert it to PNG"
        ) from None
    except Exception as exc:  # OSError, ValueError, zlib/OpenCV errors ...: all mean a damaged file
        raise DataError(f"{path}: image data is truncated or corrupt ({exc}); copy or save the file again") from None
    return apply_orientation(array, orientation)


def array_to_tensor(array: np.ndarray) -> torch.Tensor:
    """``uint8``/``uint16`` ``(H, W, 3)`` -> float32 ``(3, H, W)`` in ``[0, 1]``."""
    peak = 65535.0 if array.dtype == np.uint16 else 255.0
    return torch.from_numpy(array.astype(np.float32) / np.float32(peak)).permute(2, 0, 1).contiguous()


def read_image(path: str | Path) -> torch.Tensor:
    """Read an image file as a float32 RGB tensor ``(3, H, W)`` in ``[0, 1]``.

    Args:
        path: any format Pillow reads; 8- or 16-bit; grey, palette, RGB, with or without alpha.

    Returns:
        ``(3, H, W)`` float32, upright per EXIF orientation.

    Raises:
        DataError: missing, unreadable, truncated or corrupt file (the message names it).
    """
    return array_to_tensor(read_image_array(path))


def image_size(path: str | Path) -> tuple[int, int]:
    """``(height, width)`` of an image, upright per EXIF, from its header (no pixel decode).

    Raises:
        DataError: the file is missing or not a recognisable image.
    """
    path = Path(path)
    require_regular(path)
    try:
        with pillow_unlimited(), Image.open(path) as im:
            w, h = im.size
            orientation = _orientation(im)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except UnidentifiedImageError:
        raise DataError(f"{path}: not a readable image (Pillow does not recognise the format)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: image header is unreadable ({exc})") from None
    check_pixels((w, h), path)
    return (w, h) if orientation in (5, 6, 7, 8) else (h, w)


def looks_truncated(path: str | Path) -> bool:
    """Cheap end-of-file test: a PNG must end with IEND, a JPEG with the EOI marker.

    Other formats return False (only a full decode can tell). Used by ``data check``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    require_regular(path)
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 32))
        tail = fh.read()
    if suffix == ".png":
        return b"IEND" not in tail[-12:]
    if suffix in (".jpg", ".jpeg"):
        return b"\xff\xd9" not in tail
    return False


# ---------------------------------------------------------------- writing
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
