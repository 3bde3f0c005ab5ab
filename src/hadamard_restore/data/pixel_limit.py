"""The largest image read: a limit in pixels, checked from the header before any pixel is decoded.

Pillow's own guard against decompression bombs raises an error that used to reach the user as
"image data is truncated or corrupt". Here the limit is ours, named in the message with the way to
raise it: :data:`DEFAULT_MAX_PIXELS` (Pillow's own error threshold, about 179 megapixels, e.g.
13,000 x 13,000), or the environment variable :data:`ENV` (``HADAMARD_RESTORE_MAX_PIXELS``).
Pillow's guard is lifted only while our check stands in for it (:func:`pillow_unlimited`).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

from hadamard_restore.errors import DataError

ENV = "HADAMARD_RESTORE_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 178_956_970  # 2 * Pillow's MAX_IMAGE_PIXELS: where Pillow itself refuses


class ImageTooLargeError(DataError):
    """An image has more pixels than the limit (the message says how to raise it)."""


def max_pixels() -> int:
    """The limit: ``$HADAMARD_RESTORE_MAX_PIXELS`` when set, else :data:`DEFAULT_MAX_PIXELS`."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise DataError(f"{ENV}={raw[:40]!r} is not a positive whole number of pixels (e.g. {ENV}=400000000)")
    return value


def check_pixels(size: tuple[int, int], path: Path | str) -> None:
    """Refuse an image of ``size`` (width, height) above :func:`max_pixels`, naming the limit."""
    width, height = size
    limit = max_pixels()
    if width * height > limit:
        raise ImageTooLargeError(
            f"{path}: the image is {width}x{height} = {width * height:,} pixels, larger than the limit "
            f"{limit:,} pixels (set {ENV} to raise it, e.g. {ENV}={width * height}; the image takes "
            f"{width * height * 12 / 2**30:.1f} GiB of memory as float32 RGB)"
        )


@contextmanager
def pillow_unlimited() -> Iterator[None]:
    """Inside the block Pillow does not refuse large images itself (:func:`check_pixels` does)."""
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def check_header(data: bytes, path: Path | str) -> None:
    """:func:`check_pixels` of an image file's bytes, from its header (nothing decoded).

    Bytes Pillow cannot identify pass: the decoder reports them.
    """
    try:
        with pillow_unlimited(), Image.open(io.BytesIO(data)) as im:
            size = im.size
    except Exception:  # not an image, or a broken header: the full read says which
        return
    check_pixels(size, path)
