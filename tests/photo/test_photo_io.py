"""Photo I/O: the format, the bit depth, the EXIF (orientation 1) and the ICC profile survive enhance."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.data.codec16 import png_bit_depth
from hadamard_restore.data.io import read_image, write_image
from hadamard_restore.photo.io import Photo, read_photo, write_photo
from tests.photo.helpers import smooth_rgb, srgb_icc

runner = CliRunner()
MAKE = 0x010F  # EXIF "Make"


def _expected(model, src) -> torch.Tensor:
    with torch.inference_mode():
        return model(read_image(src)[None])[0].clamp(0, 1)


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112], exif[MAKE] = orientation, "TestCam"
    return exif


def test_jpeg_in_jpeg_out_upright_with_exif_and_icc(model_file, model, tmp_path):
    src = tmp_path / "in" / "photo.jpg"
    src.parent.mkdir()
    icc = srgb_icc()
    Image.fromarray(smooth_rgb(1, 37, 31)).save(src, exif=_exif(6), icc_profile=icc, quality=98)
    res = runner.invoke(app, ["enhance", str(model_file), str(src), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    out = tmp_path / "o" / "photo.jpg"
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.size == (37, 31)  # stored upright: 37 wide after the 90 degree turn
        exif = im.getexif()
        assert exif[0x0112] == 1 and exif[MAKE] == "TestCam"
        assert im.info["icc_profile"] == icc
    assert (read_image(out) - _expected(model, src)).abs().mean() < 0.01


def test_jpeg_quality_option(model_file, tmp_path):
    src = tmp_path / "p.jpg"
    Image.fromarray(smooth_rgb(2, 64, 64)).save(src, quality=95)
    sizes = {}
    for q in (30, 98):
        res = runner.invoke(
            app, ["enhance", str(model_file), str(src), "--out", str(tmp_path / f"q{q}"), "--quality", str(q)]
        )
        assert res.exit_code == 0, res.output
        sizes[q] = (tmp_path / f"q{q}" / "p.jpg").stat().st_size
    assert sizes[30] < sizes[98]
    res = runner.invoke(app, ["enhance", str(model_file), str(src), "--out", str(tmp_path / "bad"), "--quality", "0"])
    assert res.exit_code == 2 and "quality" in res.output


def test_16bit_png_stays_16bit_with_metadata(model_file, model, tmp_path):
    src = tmp_path / "deep.png"
    write_image(src, torch.from_numpy(smooth_rgb(3, 29, 35, np.uint16) / 65535.0).permute(2, 0, 1), bits=16)
    photo = read_photo(src)
    assert photo.bits == 16 and photo.exif is None and photo.icc is None
    icc = srgb_icc()
    out = write_photo(tmp_path / "o" / "deep.png", _expected(model, src), Photo(photo.pixels, _exif(1).tobytes(), icc))
    assert png_bit_depth(out.read_bytes()) == 16
    back = read_photo(out)
    assert back.pixels.dtype == np.uint16 and back.icc == icc
    exif = Image.Exif()
    exif.load(back.exif)
    assert exif[MAKE] == "TestCam" and exif[0x0112] == 1
    got = torch.from_numpy(back.pixels.astype(np.float64) / 65535).permute(2, 0, 1)
    assert (got - _expected(model, src).double()).abs().max() <= 0.5 / 65535 + 1e-7


def test_png_and_tiff_keep_format_bits_and_icc(model_file, tmp_path):
    import tifffile

    icc = srgb_icc()
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(smooth_rgb(4)).save(src / "a.png", icc_profile=icc, exif=_exif(3))
    tifffile.imwrite(src / "scan.tif", smooth_rgb(5, dtype=np.uint16), photometric="rgb", iccprofile=icc)
    Image.fromarray(smooth_rgb(6)).save(src / "b.webp", quality=90, icc_profile=icc)
    res = runner.invoke(app, ["enhance", str(model_file), str(src), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    png, tif, webp = (read_photo(tmp_path / "o" / n) for n in ("a.png", "scan.tif", "b.webp"))
    assert png.pixels.dtype == np.uint8 and png.icc == icc and png.exif is not None
    with Image.open(tmp_path / "o" / "a.png") as im:
        assert im.format == "PNG" and im.getexif()[0x0112] == 1 and im.getexif()[MAKE] == "TestCam"
    assert tif.pixels.dtype == np.uint16 and tif.icc == icc
    assert webp.icc == icc and Image.open(tmp_path / "o" / "b.webp").format == "WEBP"


def test_read_photo_bits_of_16bit_tiffs(tmp_path):
    import tifffile

    grey16 = (np.arange(35).reshape(5, 7) * 1000).astype(np.uint16)
    Image.fromarray(grey16).save(tmp_path / "g16.tif")
    colour16 = smooth_rgb(7, 5, 7, np.uint16)
    tifffile.imwrite(tmp_path / "c16.tif", colour16, photometric="rgb")
    write_image(tmp_path / "8.png", torch.rand(3, 5, 7))
    assert [read_photo(tmp_path / n).bits for n in ("g16.tif", "c16.tif", "8.png")] == [16, 16, 8]
    assert np.array_equal(read_photo(tmp_path / "c16.tif").pixels, colour16)
    assert np.array_equal(read_photo(tmp_path / "g16.tif").pixels[..., 1], grey16)


def test_write_photo_rejects_bad_values(tmp_path):
    photo = Photo(np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(Exception, match="NaN"):
        write_photo(tmp_path / "x.png", torch.full((3, 2, 2), float("nan")), photo)
    with pytest.raises(Exception, match="quality"):
        write_photo(tmp_path / "x.jpg", torch.zeros(3, 2, 2), photo, quality=101)
