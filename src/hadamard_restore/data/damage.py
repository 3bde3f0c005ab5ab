"""Damaged image files: found, never decoded into an image with made-up pixels.

* :func:`end_marker_missing`: a PNG without its ``IEND`` chunk was cut off, even when the
  pixels that remain happen to decode;
* :func:`strict_decoding`: decode with Pillow's ``LOAD_TRUNCATED_IMAGES`` off, whatever another
  library set it to, so a truncated JPEG is an error, not an image padded with grey or zeros.

:func:`hadamard_restore.data.io.read_image_array` uses both, so ``enhance``, ``evaluate`` and
``data check --full`` judge a file alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PIL import ImageFile

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_IEND = b"IEND\xaeB`\x82"  # the IEND chunk type and its (constant) CRC


def end_marker_missing(data: bytes) -> str | None:
    """Why the file's bytes look cut off (a PNG without its IEND chunk), else None."""
    if data.startswith(PNG_SIGNATURE) and PNG_IEND not in data:
        return "the PNG ends without its IEND chunk (the file was cut off)"
    return None


@contextmanager
def strict_decoding() -> Iterator[None]:
    """Decode with Pillow's ``LOAD_TRUNCATED_IMAGES`` off inside the block (restored after):
    a truncated file is an error, never an image whose missing part the decoder fills in."""
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous
