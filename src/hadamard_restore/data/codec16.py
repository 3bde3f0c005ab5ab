"""16-bit colour PNG and TIFF through OpenCV (Pillow truncates 16-bit colour to 8 bits).

OpenCV's libpng/libtiff decoders give ``uint16`` arrays in BGR(A) order; these helpers turn
them into RGB(A) ``(H, W, C)`` arrays and back. Grey images come back as ``(H, W, 1)``;
grey + alpha as four channels (the grey repeated, then alpha). :func:`encode_png16` writes EXIF
(``eXIf``) and ICC (``iCCP``) through OpenCV's ``imencodeWithMetadata`` (PNG ICC from OpenCV
4.13 on; 4.12 drops it with a warning). The PNG signature is defined here.
"""

from __future__ import annotations

import cv2
import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_bit_depth(data: bytes) -> int | None:
    """The IHDR bit depth of PNG bytes, or None when ``data`` is not a PNG."""
    if not data.startswith(PNG_SIGNATURE) or len(data) < 33:
        return None
    return data[24]


def decode16(data: bytes) -> np.ndarray:
    """A 16-bit PNG or TIFF (first page) as ``uint16`` ``(H, W, C)`` in RGB(A) order.

    Raises:
        ValueError: the data are truncated or corrupt, or not 16-bit.
    """
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ValueError("OpenCV cannot decode the image: truncated or corrupt")
    if array.dtype != np.uint16:
        raise ValueError(f"expected 16-bit samples, the decoder gave {array.dtype}")
    if array.ndim == 2:
        return array[:, :, None]
    order = [2, 1, 0, 3][: array.shape[2]] if array.shape[2] in (3, 4) else list(range(array.shape[2]))
    return np.ascontiguousarray(array[:, :, order])


def encode_png16(array: np.ndarray, exif: bytes | None = None, icc: bytes | None = None) -> bytes:
    """PNG bytes of a ``uint16`` ``(H, W)`` or ``(H, W, 3)`` RGB array, with ``exif`` (an EXIF block,
    with or without Pillow's ``Exif\\0\\0`` header) and ``icc`` (an ICC profile) where given.

    Raises:
        ValueError: the array is not ``uint16`` grey or RGB.
    """
    if array.dtype != np.uint16 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError(f"encode_png16 needs a uint16 (H, W) or (H, W, 3) array, got {array.dtype} {array.shape}")
    bgr = array if array.ndim == 2 else np.ascontiguousarray(array[:, :, ::-1])
    kinds, blocks = [], []
    if exif:
        kinds.append(cv2.IMAGE_METADATA_EXIF)
        blocks.append(np.frombuffer(exif.removeprefix(b"Exif\x00\x00"), np.uint8))
    if icc:
        kinds.append(cv2.IMAGE_METADATA_ICCP)
        blocks.append(np.frombuffer(icc, np.uint8))
    ok, buf = cv2.imencodeWithMetadata(".png", bgr, kinds, blocks) if kinds else cv2.imencode(".png", bgr)
    if not ok:
        raise ValueError("OpenCV could not encode the PNG")
    return buf.tobytes()
