import warnings

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from hadamard_restore.data import io as hio
from hadamard_restore.data.io import (
    AlphaDroppedWarning,
    image_size,
    looks_truncated,
    read_image,
    reset_alpha_warning,
    write_image,
)
from hadamard_restore.errors import DataError
from tests.data.helpers import random_array, save_png


def test_read_8bit_rgb_exact(tmp_path, rng):
    arr = random_array(rng)
    img = read_image(save_png(tmp_path / "a.png", arr))
    assert img.dtype == torch.float32 and img.shape == (3, 37, 31)
    assert torch.equal(img, torch.from_numpy(arr).permute(2, 0, 1).float() / 255)


@pytest.mark.parametrize("bits,tol", [(8, 0.5 / 255), (16, 0.5 / 65535)])
def test_write_read_roundtrip(tmp_path, gen, bits, tol):
    x = torch.rand(3, 37, 31, generator=gen)
    path = write_image(tmp_path / "x.png", x, bits=bits)
    y = read_image(path)
    assert (y - x).abs().max() <= tol + 1e-7
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]  # no temporary file left behind


def test_write_clips_and_rounds(tmp_path):
    x = torch.tensor([-0.5, 0.5 / 255 + 1e-4, 1.7]).reshape(3, 1, 1).expand(3, 2, 3).contiguous()
    arr = np.asarray(Image.open(write_image(tmp_path / "c.png", x)))
    assert arr[0, 0].tolist() == [0, 1, 255]


def test_16bit_rgb_keeps_precision_and_agrees_with_pillow_high_byte(tmp_path, gen):
    x = torch.rand(3, 37, 31, generator=gen)
    path = write_image(tmp_path / "x16.png", x, bits=16)
    codes = hio.read_image_array(path)
    assert codes.dtype == np.uint16
    assert np.array_equal(codes, np.round(x.permute(1, 2, 0).numpy() * 65535).astype(np.uint16))
    # Pillow reads 16-bit RGB as 8-bit: the high byte of each sample.
    assert np.array_equal(np.asarray(Image.open(path)), (codes >> 8).astype(np.uint8))


def test_16bit_rgb_tiff(tmp_path, rng):
    tifffile = pytest.importorskip("tifffile")
    codes = rng.integers(0, 65536, size=(5, 7, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "x.tif", codes, photometric="rgb")
    assert np.array_equal(hio.read_image_array(tmp_path / "x.tif"), codes)
    assert torch.equal(read_image(tmp_path / "x.tif"), torch.from_numpy(codes / np.float32(65535)).permute(2, 0, 1))


def test_16bit_grayscale_to_rgb(tmp_path):
    g = np.array([[0, 1000, 65535]], dtype=np.uint16)
    Image.fromarray(g).save(tmp_path / "g.png")
    img = read_image(tmp_path / "g.png")
    assert img.shape == (3, 1, 3)
    assert torch.allclose(img[0, 0], torch.tensor([0, 1000 / 65535, 1.0]))
    assert torch.equal(img[0], img[1]) and torch.equal(img[1], img[2])


def test_8bit_grayscale_and_palette_to_rgb(tmp_path, rng):
    g = rng.integers(0, 256, size=(5, 7), dtype=np.uint8)
    Image.fromarray(g, mode="L").save(tmp_path / "l.png")
    img = read_image(tmp_path / "l.png")
    assert torch.equal(img, torch.from_numpy(g).float().div(255).expand(3, 5, 7))
    pal = Image.fromarray(random_array(rng, 5, 7)).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    pal.save(tmp_path / "p.png")
    expected = np.asarray(pal.convert("RGB")).astype(np.float32) / 255
    assert torch.equal(read_image(tmp_path / "p.png"), torch.from_numpy(expected).permute(2, 0, 1))


def test_rgba_alpha_dropped_and_warned_once(tmp_path, rng):
    rgba = np.concatenate([random_array(rng, 5, 7), rng.integers(0, 256, (5, 7, 1), dtype=np.uint8)], axis=2)
    for name in ("a.png", "b.png"):
        Image.fromarray(rgba, mode="RGBA").save(tmp_path / name)
    reset_alpha_warning()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = read_image(tmp_path / "a.png")
        read_image(tmp_path / "b.png")
    alpha = [w for w in caught if issubclass(w.category, AlphaDroppedWarning)]
    assert len(alpha) == 1 and "alpha channel dropped" in str(alpha[0].message)
    assert torch.equal(a, torch.from_numpy(rgba[:, :, :3]).permute(2, 0, 1).float() / 255)
    reset_alpha_warning()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path, rng, orientation):
    im = Image.fromarray(random_array(rng, 5, 7))
    exif = Image.Exif()
    exif[hio.EXIF_ORIENTATION] = orientation
    im.save(tmp_path / "o.png", exif=exif.tobytes())
    upright = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.png")).convert("RGB"))
    got = read_image(tmp_path / "o.png")
    assert torch.equal(got, torch.from_numpy(upright.astype(np.float32) / 255).permute(2, 0, 1))
    assert image_size(tmp_path / "o.png") == upright.shape[:2]


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_jpeg(tmp_path, rng, orientation):
    exif = Image.Exif()
    exif[hio.EXIF_ORIENTATION] = orientation
    Image.fromarray(random_array(rng, 16, 24)).save(tmp_path / "o.jpg", exif=exif.tobytes(), quality=95)
    upright = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.jpg")))
    assert upright.shape[:2] == ((24, 16) if orientation in (6, 8) else (16, 24))
    assert torch.equal(read_image(tmp_path / "o.jpg"), torch.from_numpy(upright / np.float32(255)).permute(2, 0, 1))
    assert image_size(tmp_path / "o.jpg") == upright.shape[:2]


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_file_is_a_clear_error(tmp_path, rng, suffix):
    path = tmp_path / f"t{suffix}"
    Image.fromarray(random_array(rng, 64, 64)).save(path)
    data = path.read_bytes()
    assert not looks_truncated(path)
    path.write_bytes(data[: len(data) // 2])
    assert looks_truncated(path)
    with pytest.raises(DataError, match=rf"t\{suffix}: image data is truncated or corrupt .*copy or save the file"):
        read_image(path)


def test_not_an_image_and_missing_file(tmp_path):
    (tmp_path / "notes.png").write_text("hello")
    with pytest.raises(DataError, match=r"notes\.png: not a readable image"):
        read_image(tmp_path / "notes.png")
    with pytest.raises(DataError, match=r"gone\.png: file not found"):
        read_image(tmp_path / "gone.png")
    with pytest.raises(DataError, match=r"gone\.png: file not found"):
        image_size(tmp_path / "gone.png")


def test_write_rejects_bad_input(tmp_path):
    with pytest.raises(DataError, match=r"writes PNG only"):
        write_image(tmp_path / "x.jpg", torch.zeros(3, 2, 2))
    with pytest.raises(DataError, match=r"NaN or infinite"):
        write_image(tmp_path / "x.png", torch.full((3, 2, 2), float("nan")))
    with pytest.raises(DataError, match=r"\(3, H, W\).*got shape \(2, 2\)"):
        write_image(tmp_path / "x.png", torch.zeros(2, 2))
    with pytest.raises(DataError, match=r"bits must be 8 or 16"):
        write_image(tmp_path / "x.png", torch.zeros(3, 2, 2), bits=12)
