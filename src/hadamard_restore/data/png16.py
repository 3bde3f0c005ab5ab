"""Minimal 16-bit PNG codec (Pillow reads 16-bit RGB PNGs as 8-bit and cannot write them).

Only what :mod:`hadamard_restore.data.io` needs: decode non-interlaced 16-bit greyscale, RGB,
grey+alpha and RGBA PNGs to a ``uint16`` array ``(H, W, C)``, and encode ``(H, W, 3)`` or
``(H, W)`` ``uint16`` arrays. The five PNG row filters (None, Sub, Up, Average, Paeth;
PNG spec section 9) are undone with NumPy, one row at a time.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # PNG colour type -> samples per pixel


def _chunks(data: bytes):
    """Yield ``(type, payload)`` for each chunk; raise ValueError on a truncated stream."""
    pos = len(_SIGNATURE)
    while pos < len(data):
        if pos + 8 > len(data):
            raise ValueError("PNG stream ends inside a chunk header (truncated file)")
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise ValueError(f"PNG chunk {kind!r} runs past the end of the file (truncated file)")
        yield kind, data[pos + 8:pos + 8 + length]
        if kind == b"IEND":
            return
        pos = end
    raise ValueError("PNG stream has no IEND chunk (truncated file)")


def png_bit_depth(data: bytes) -> int | None:
    """The IHDR bit depth of PNG bytes, or None when ``data`` is not a PNG."""
    if not data.startswith(_SIGNATURE) or len(data) < 33:
        return None
    return data[24]


def _unfilter(raw: np.ndarray, height: int, stride: int, bpp: int) -> np.ndarray:
    """Undo the per-row PNG filters. ``raw`` holds ``height * (1 + stride)`` bytes."""
    rows = raw.reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prior = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:]
        if kind == 0:
            cur = line.copy()
        elif kind == 1:  # Sub: running sum along the pixels, per byte position, mod 256
            cur = np.cumsum(line.reshape(-1, bpp), axis=0, dtype=np.uint8).reshape(-1)
        elif kind == 2:  # Up
            cur = line + prior
        elif kind in (3, 4):
            cur = np.zeros(stride, dtype=np.uint8)
            above = prior.astype(np.int16)
            for x in range(0, stride, bpp):
                left = cur[x - bpp:x].astype(np.int16) if x else np.zeros(bpp, np.int16)
                up = above[x:x + bpp]
                if kind == 3:  # Average
                    pred = (left + up) // 2
                else:  # Paeth
                    upleft = above[x - bpp:x] if x else np.zeros(bpp, np.int16)
                    p = left + up - upleft
                    pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - upleft)
                    pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
                cur[x:x + bpp] = (line[x:x + bpp].astype(np.int16) + pred).astype(np.uint8)
        else:
            raise ValueError(f"PNG row {y} uses unknown filter type {kind}")
        out[y] = cur
        prior = cur
    return out


def decode_png16(data: bytes) -> np.ndarray:
    """Decode a 16-bit PNG to ``uint16 (H, W, C)`` with C in {1, 2, 3, 4}.

    Raises:
        ValueError: not a 16-bit PNG, interlaced, palette-based, or truncated/corrupt.
    """
    if not data.startswith(_SIGNATURE):
        raise ValueError("not a PNG file")
    header, idat = None, []
    for kind, payload in _chunks(data):
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", payload)
        elif kind == b"IDAT":
            idat.append(payload)
    if header is None:
        raise ValueError("PNG has no IHDR chunk")
    width, height, depth, colour, _, _, interlace = header
    if depth != 16 or colour not in _CHANNELS:
        raise ValueError(f"decode_png16 handles 16-bit grey/RGB(A) PNGs, got depth {depth} colour type {colour}")
    if interlace:
        raise ValueError("interlaced 16-bit PNGs are not supported; re-save the file without interlacing")
    channels = _CHANNELS[colour]
    bpp = 2 * channels
    stride = width * bpp
    try:
        raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8)
    except zlib.error as exc:
        raise ValueError(f"PNG image data is corrupt or truncated ({exc})") from None
    if raw.size != height * (stride + 1):
        raise ValueError(f"PNG image data has {raw.size} bytes, expected {height * (stride + 1)} (truncated file)")
    rows = _unfilter(raw, height, stride, bpp)
    return rows.view(">u2").reshape(height, width, channels).astype(np.uint16)


def encode_png16(array: np.ndarray, level: int = 6) -> bytes:
    """Encode ``uint16 (H, W)`` or ``(H, W, 3)`` as a 16-bit PNG (filter None on every row)."""
    if array.dtype != np.uint16 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError(f"encode_png16 needs uint16 (H, W) or (H, W, 3), got {array.dtype} {array.shape}")
    height, width = array.shape[:2]
    colour = 0 if array.ndim == 2 else 2
    big = np.ascontiguousarray(array.astype(">u2")).reshape(height, -1).view(np.uint8)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), big], axis=1).tobytes()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 16, colour, 0, 0, 0)
    return _SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, level)) + chunk(b"IEND", b"")
