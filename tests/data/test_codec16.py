import struct
import zlib

import numpy as np
import pytest

from hadamard_restore.data.codec16 import decode16, encode_png16, png_bit_depth


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def _filter_row(kind: int, cur: bytes, prev: bytes, bpp: int) -> bytes:
    """PNG spec section 9.2 filters, written byte by byte as a reference."""
    out = bytearray()
    for i, x in enumerate(cur):
        a = cur[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        pred = [0, a, b, (a + b) // 2, _paeth(a, b, c)][kind]
        out.append((x - pred) % 256)
    return bytes([kind]) + bytes(out)


def _png(array: np.ndarray, colour: int, interlace: int = 0) -> bytes:
    h, w, c = array.shape
    rows = array.astype(">u2").reshape(h, -1).view(np.uint8)
    prev, raw = bytes(w * c * 2), b""
    for y in range(h):
        cur = rows[y].tobytes()
        raw += _filter_row(y % 5, cur, prev, 2 * c)
        prev = cur

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour, 0, 0, interlace)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("colour,channels", [(0, 1), (2, 3), (4, 2), (6, 4)])
def test_decode_undoes_all_five_filters(rng, colour, channels):
    """A reference PNG written byte by byte here decodes to exactly its samples (RGB order)."""
    array = rng.integers(0, 65536, size=(11, 9, channels), dtype=np.uint16)
    data = _png(array, colour)
    assert png_bit_depth(data) == 16
    decoded = decode16(data)
    if colour == 4:  # grey + alpha: the grey repeated three times, then alpha
        assert np.array_equal(decoded, array[:, :, [0, 0, 0, 1]])
    else:
        assert np.array_equal(decoded, array)


def test_encode_decode_roundtrip(rng):
    array = rng.integers(0, 65536, size=(7, 5, 3), dtype=np.uint16)
    assert np.array_equal(decode16(encode_png16(array)), array)
    gray = array[:, :, 0]
    assert np.array_equal(decode16(encode_png16(gray))[:, :, 0], gray)


def test_truncated_and_unsupported(rng):
    data = _png(rng.integers(0, 65536, size=(6, 6, 3), dtype=np.uint16), 2)
    with pytest.raises(ValueError, match="truncated"):
        decode16(data[: len(data) - 20])
    with pytest.raises(ValueError, match="corrupt"):  # interlace flag set on non-interlaced data
        decode16(_png(np.zeros((2, 2, 3), np.uint16), 2, interlace=1))
    with pytest.raises(ValueError, match="uint16"):
        encode_png16(np.zeros((2, 2, 3), np.uint8))
