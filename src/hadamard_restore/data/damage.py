"""Damaged image files: found, never decoded into an image with made-up pixels.

* :func:`end_marker_missing`: a PNG without its ``IEND`` chunk was cut off, even when the
  pixels that remain happen to decode;
* a JPEG whose scan ends early is cut off even when an end marker (``FFD9``) was put back
  after the cut: libjpeg then fills the rest with grey and only warns ("premature end of data
  segment"), which Pillow never reports, so :func:`jpeg_cut_short` decodes it once more with
  OpenCV and listens for that warning;
* :func:`strict_decoding`: decode with Pillow's ``LOAD_TRUNCATED_IMAGES`` off, whatever another
  library set it to, so a truncated JPEG is an error, not an image padded with grey or zeros;
* :func:`read_regular`: only a regular file is read; a FIFO, a device (``/dev/zero``) or a
  socket named like an image is refused before it is opened (reading one could hang or never end).

:func:`hadamard_restore.data.io.read_image_array` uses both, so ``enhance``, ``evaluate`` and
``data check --full`` judge a file alike.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
from PIL import ImageFile

from hadamard_restore.data.codec16 import PNG_SIGNATURE
from hadamard_restore.errors import DataError

PNG_IEND = b"IEND\xaeB`\x82"  # the IEND chunk type and its (constant) CRC
JPEG_SOI = b"\xff\xd8"
#: libjpeg's warnings for scan data that ends before every block was decoded
JPEG_CUT_WARNINGS = ("premature end of data segment", "premature end of jpeg file")
_stderr_lock = threading.Lock()


def require_regular(path: str | Path) -> None:
    """Refuse a path that is not a regular file (checked with ``stat``, which never blocks).

    Raises:
        DataError: missing, or a FIFO, device, socket or folder.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        kind = next((k for test, k in _KINDS if test(mode)), "not a regular file")
        raise DataError(f"{path} is {kind}, not an image file; pass regular image files (nothing was read from it)")


_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


def read_regular(path: str | Path) -> bytes:
    """The bytes of a regular file (:func:`require_regular` first).

    Raises:
        DataError: missing, not a regular file, or unreadable.
    """
    require_regular(path)
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror})") from None


def jpeg_cut_short(data: bytes) -> bool:
    """True when libjpeg reports that a JPEG's scan data ends before the image is complete.

    The decode runs in OpenCV at 1/8 scale in grey (every entropy-coded block is still read),
    with file descriptor 2 caught for libjpeg's warning; other text it wrote there is passed on.
    """
    with _stderr_lock, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(sink.fileno(), 2)
            cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        text = sink.read().decode("utf-8", "replace")
    lines = text.splitlines(keepends=True)
    cut = [line for line in lines if any(w in line.lower() for w in JPEG_CUT_WARNINGS)]
    rest = "".join(line for line in lines if line not in cut and "corrupt jpeg data" not in line.lower())
    if rest:
        sys.stderr.write(rest)
    return bool(cut)


def end_marker_missing(data: bytes) -> str | None:
    """Why the file's bytes look cut off (a PNG without its IEND chunk, a JPEG whose scan ends
    early), else None."""
    if data.startswith(PNG_SIGNATURE) and PNG_IEND not in data:
        return "the PNG ends without its IEND chunk (the file was cut off)"
    if data.startswith(JPEG_SOI) and jpeg_cut_short(data):
        return "the JPEG's image data ends early (premature end of data segment): the file was cut off"
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
