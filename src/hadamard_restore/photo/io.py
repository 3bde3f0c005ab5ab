"""Photos with their metadata: read upright with EXIF and ICC, write back in the same format.

=============  ==============  =========  ==================================================
input          output          bits       metadata carried over
=============  ==============  =========  ==================================================
.jpg / .jpeg   same suffix     8          EXIF (orientation reset to 1), ICC; ``quality``
                                          (chroma 4:4:4 at quality >= 90, else 4:2:0)
.png           .png            8 or 16    EXIF (eXIf chunk, orientation 1), ICC (iCCP)
.webp          .webp           8          EXIF (orientation 1), ICC; ``quality``
.tif / .tiff   same suffix     8 or 16    8-bit: EXIF and ICC; 16-bit: ICC only
.bmp           .bmp            8          none (the format has no place for it)
other          .png            8 or 16    EXIF and ICC as for PNG
=============  ==============  =========  ==================================================

The pixels are read by :func:`hadamard_restore.data.io.read_image_array` (8/16-bit, grey and
palette to RGB, alpha dropped with a warning, **EXIF orientation applied**), so an output is
upright and its EXIF says orientation 1: a viewer shows it the way it showed the input.
XMP and other blocks are not carried over. Writes are atomic.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
import torch
from PIL import Image

from hadamard_restore.artifacts import atomic_write_bytes
from hadamard_restore.data.codec16 import encode_png16
from hadamard_restore.data.io import EXIF_ORIENTATION, array_to_tensor, read_image_array
from hadamard_restore.errors import DataError

KEEP_FORMAT = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
SIXTEEN_BIT = ("PNG", "TIFF")


@dataclass
class Photo:
    """An upright ``(H, W, 3)`` uint8/uint16 image with the metadata to write back."""

    pixels: np.ndarray
    exif: bytes | None = None
    icc: bytes | None = None

    @property
    def bits(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    def tensor(self) -> torch.Tensor:
        """``(3, H, W)`` float32 in ``[0, 1]``."""
        return array_to_tensor(self.pixels)


def output_suffix(path: Path) -> str:
    """The suffix of ``path``'s output: its own for JPEG/PNG/WebP/TIFF/BMP, else ``.png``."""
    return path.suffix if path.suffix.lower() in KEEP_FORMAT else ".png"


def _metadata(path: Path) -> tuple[bytes | None, bytes | None]:
    """``(EXIF with orientation 1, ICC profile)`` from the header (None where absent or unreadable)."""
    try:
        with Image.open(path) as im:
            icc = im.info.get("icc_profile") or None
            if im.format == "PNG":
                raw = im.info.get("exif")
                exif = Image.Exif()
                if raw:
                    exif.load(raw)
            else:
                exif = im.getexif()
    except Exception:  # metadata is a courtesy: the pixels decide whether the file is readable
        return None, None
    if not len(exif):
        return None, icc
    if EXIF_ORIENTATION in exif:
        exif[EXIF_ORIENTATION] = 1
    try:
        return exif.tobytes(), icc
    except Exception:  # an EXIF block Pillow cannot re-encode is dropped, not fatal
        return None, icc


def read_photo(path: str | Path) -> Photo:
    """Read an image upright with its EXIF (orientation reset to 1) and ICC profile.

    Raises:
        DataError: missing, unreadable, truncated or corrupt file (the message names it).
    """
    path = Path(path)
    pixels = read_image_array(path)
    exif, icc = _metadata(path)
    return Photo(pixels, exif, icc)


def _to_array(img: torch.Tensor, bits: int) -> np.ndarray:
    if img.ndim != 3 or img.shape[0] != 3:
        raise DataError(f"write_photo needs a (3, H, W) tensor, got shape {tuple(img.shape)}")
    if not torch.isfinite(img).all():
        raise DataError("write_photo got NaN or infinite values; check the network output")
    peak = 255 if bits == 8 else 65535
    x = (img.detach().float().cpu().clamp(0, 1) * peak).round()
    return np.ascontiguousarray(x.permute(1, 2, 0).numpy().astype(np.uint8 if bits == 8 else np.uint16))


def _tiff16(array: np.ndarray, photo: Photo) -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, array, photometric="rgb", iccprofile=photo.icc)
    return buf.getvalue()


def encode_photo(img: torch.Tensor, fmt: str, photo: Photo, quality: int = 95) -> bytes:
    """Bytes of ``img`` ((3, H, W) in [0, 1]) in ``fmt`` with ``photo``'s bit depth and metadata."""
    bits = photo.bits if fmt in SIXTEEN_BIT else 8
    array = _to_array(img, bits)
    if bits == 16:
        return encode_png16(array, photo.exif, photo.icc) if fmt == "PNG" else _tiff16(array, photo)
    options: dict = {}
    if fmt != "BMP":
        options.update({k: v for k, v in (("exif", photo.exif), ("icc_profile", photo.icc)) if v})
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = quality
    if fmt == "JPEG":
        options["subsampling"] = 0 if quality >= 90 else 2  # full-resolution colour at high quality
    buf = io.BytesIO()
    Image.fromarray(array, mode="RGB").save(buf, format=fmt, **options)
    return buf.getvalue()


def write_photo(path: str | Path, img: torch.Tensor, photo: Photo, quality: int = 95) -> Path:
    """Atomically write ``img`` in the format of ``path``'s suffix (PNG for unknown suffixes)."""
    path = Path(path)
    if not 1 <= quality <= 100:
        raise DataError(f"JPEG/WebP quality must be between 1 and 100, got {quality}")
    return atomic_write_bytes(path, encode_photo(img, KEEP_FORMAT.get(path.suffix.lower(), "PNG"), photo, quality))
