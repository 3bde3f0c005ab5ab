"""Round 3, image-size limits: an image above the pixel limit is reported as such (with the
setting that raises it), from its header and before any decoding, never as "truncated or corrupt"."""

from __future__ import annotations

import struct
import zlib

import pytest
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.data.io import image_size, read_image
from hadamard_restore.data.pixel_limit import DEFAULT_MAX_PIXELS, ENV, ImageTooLargeError
from hadamard_restore.errors import DataError

runner = CliRunner()


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def png_header(width: int, height: int) -> bytes:
    """A complete, tiny PNG file whose header declares ``width`` x ``height`` RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b"")
    )


def test_a_60000_square_header_is_too_large_not_corrupt(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    path = tmp_path / "huge.png"
    path.write_bytes(png_header(60000, 60000))
    with pytest.raises(ImageTooLargeError) as info:
        read_image(path)
    message = str(info.value)
    assert f"larger than the limit {DEFAULT_MAX_PIXELS:,} pixels" in message
    assert f"set {ENV} to raise it" in message and "60000x60000" in message
    assert "truncated or corrupt" not in message
    with pytest.raises(ImageTooLargeError):
        image_size(path)


def test_a_valid_image_above_a_lowered_limit_names_the_limit(tmp_path, pairs, monkeypatch):
    monkeypatch.setenv(ENV, "500")
    with pytest.raises(ImageTooLargeError, match="31x37 = 1,147 pixels, larger than the limit 500 pixels"):
        read_image(pairs / "degraded" / "img0.png")


def test_raising_the_limit_lets_pillow_read_beyond_its_own_guard(tmp_path, monkeypatch):
    """Pillow refuses above about 179 MP itself; with the setting raised, our limit is the one that counts."""
    from PIL import Image

    monkeypatch.setenv(ENV, str(10**12))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow's guard far below this image
    img = read_image(_small_png(tmp_path))
    assert img.shape == (3, 20, 30)
    assert Image.MAX_IMAGE_PIXELS == 100  # restored after the read


def _small_png(tmp_path):
    from PIL import Image

    path = tmp_path / "small.png"
    Image.new("RGB", (30, 20), (10, 20, 30)).save(path)
    return path


def test_enhance_reports_the_limit_and_the_setting(model_file, tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "huge.png").write_bytes(png_header(60000, 60000))
    res = runner.invoke(app, ["enhance", str(model_file), str(photos), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1, res.output
    assert "larger than the limit" in res.output and ENV in res.output
    assert "truncated or corrupt" not in res.output


@pytest.mark.parametrize("value", ["lots", "0", "-3"])
def test_a_bad_limit_setting_is_named(pairs, monkeypatch, value):
    monkeypatch.setenv(ENV, value)
    with pytest.raises(DataError, match=f"{ENV}=.* is not a positive whole number"):
        read_image(pairs / "degraded" / "img0.png")
