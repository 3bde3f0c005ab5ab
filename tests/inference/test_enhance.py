"""enhance: same names out, odd types in (16-bit, grey, RGBA, EXIF), tiling, bad files skipped."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.config import ConfigError, EnhanceConfig
from hadamard_restore.data.codec16 import png_bit_depth
from hadamard_restore.data.io import read_image, write_image
from hadamard_restore.errors import DataError
from hadamard_restore.inference.enhance import enhance, enhance_tensor, stats_image
from hadamard_restore.inference.norm_stats import record_norm_stats, replay_norm_stats
from hadamard_restore.inference.tiling import tiled_apply
from hadamard_restore.net.genotype import load_genotype
from hadamard_restore.net.network import HadamardNet
from tests.tiny import random_model_file


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return random_model_file(tmp_path_factory.mktemp("ck"), channels=8)


def _rgb(gen, h=37, w=31):
    return (torch.rand(h, w, 3, generator=gen).numpy() * 255).astype(np.uint8)


def _expected(model, src) -> torch.Tensor:
    with torch.inference_mode():
        return model(read_image(src)[None])[0].clamp(0, 1)


def test_enhance_formats_and_a_bad_file(model_file, model, tmp_path, gen):
    import tifffile

    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_rgb(gen)).save(src / "rgb.png")
    Image.fromarray(_rgb(gen)).save(src / "photo.jpg", quality=95)
    Image.fromarray(_rgb(gen)[..., 0], mode="L").save(src / "grey.png")
    rgba = np.concatenate([_rgb(gen), np.full((37, 31, 1), 128, np.uint8)], axis=2)
    Image.fromarray(rgba, mode="RGBA").save(src / "alpha.png")
    write_image(src / "deep.png", torch.rand(3, 29, 35, generator=gen), bits=16)
    tifffile.imwrite(
        src / "scan.tif", (torch.rand(33, 27, 3, generator=gen).numpy() * 65535).astype(np.uint16), photometric="rgb"
    )
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    Image.fromarray(_rgb(gen, 37, 31)).save(src / "rotated.jpg", exif=exif, quality=95)
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "out"
    seen = []
    with pytest.warns(UserWarning, match="alpha"):
        report = enhance(model_file, [src], out, EnhanceConfig(), "cpu", on_image=lambda s, d: seen.append(s.name))
    names = sorted(d.name for _, d in report.written)
    assert names == ["alpha.png", "deep.png", "grey.png", "photo.jpg", "rgb.png", "rotated.jpg", "scan.tif"]
    assert [s.name for s, _ in report.failed] == ["broken.png"] and "broken.png" in report.failed[0][1]
    assert not report.ok and "1 failed" in report.summary() and len(seen) == 8
    for src_file, dst in report.written:
        got = read_image(dst)
        want = _expected(model, src_file)
        assert got.shape == want.shape
        if dst.suffix == ".jpg":  # lossy: close to the network output, not exact
            assert (got - want).abs().mean() < 0.02
            continue
        bits = 16 if src_file.name in ("deep.png", "scan.tif") else 8
        assert bits == (png_bit_depth(dst.read_bytes()) if dst.suffix == ".png" else 16)
        assert (got - want).abs().max() <= 0.5 / (2**bits - 1) + 1e-6
    assert read_image(out / "rotated.jpg").shape == (3, 31, 37)  # upright: EXIF applied
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left


def test_large_images_are_tiled_and_blended(model, gen):
    img = torch.rand(3, 45, 53, generator=gen)
    cfg = EnhanceConfig(tile=32, overlap=12, max_untiled_pixels=45 * 53 - 1, norm_stats="tile")
    tiled = enhance_tensor(model, img, cfg)
    whole = enhance_tensor(model, img, cfg.model_copy(update={"max_untiled_pixels": 45 * 53}))
    with torch.inference_mode():
        assert torch.equal(whole, model(img[None])[0].clamp(0, 1))
        assert torch.allclose(tiled, tiled_apply(model, img[None], 32, 12)[0].clamp(0, 1), atol=1e-6)
    assert tiled.shape == (3, 45, 53) and 0 <= tiled.min() and tiled.max() <= 1
    # instance norm sees per-tile statistics, so a tiled run is not the one-pass result
    assert (tiled - whole).abs().max() > 1e-3


def test_global_norm_stats_remove_the_tiling_error_of_instance_norm(gen):
    # all-1x1 network: apart from instance norm every output pixel depends on its own 4x4 block,
    # so with tiles aligned to 4 the only tiling error comes from the normalisation statistics
    net = HadamardNet(load_genotype("all-1c"), channels=8, generator=torch.Generator().manual_seed(2)).eval()
    img = torch.rand(1, 3, 64, 80, generator=gen) * 0.5
    with torch.inference_mode():
        whole = net(img)
        per_tile = tiled_apply(net, img, 32, 8)
        with replay_norm_stats(net, record_norm_stats(net, img)):
            replayed = tiled_apply(net, img, 32, 8)
    assert (per_tile - whole).abs().mean() > 1e-2
    # the same statistics through two float32 formulas (PyTorch's fused instance norm for the whole
    # image, the given mean/var for the replay): rounding only, 1.6e-5 at most here
    assert torch.allclose(replayed, whole, atol=1e-4)


def test_enhance_global_mode_uses_statistics_of_the_downscaled_image(model, gen):
    img = torch.rand(3, 45, 53, generator=gen)
    cfg = EnhanceConfig(tile=32, overlap=12, max_untiled_pixels=600, norm_stats="global")
    got = enhance_tensor(model, img, cfg)
    with torch.inference_mode():
        small = stats_image(img[None], 600)
        assert small.shape[-2:] == (22, 26)  # floor(side * sqrt(600 / (45 * 53)))
        with replay_norm_stats(model, record_norm_stats(model, small)):
            want = tiled_apply(model, img[None], 32, 12)[0].clamp(0, 1)
    assert torch.allclose(got, want, atol=1e-6)
    assert all("forward" not in vars(m) for m in model.modules() if type(m).__name__ == "InstanceNorm")


def test_stats_image_fits_the_budget():
    x = torch.rand(1, 3, 400, 600)
    small = stats_image(x, 60_000)
    assert small.shape[-2:] == (200, 300) and small.shape[-2] * small.shape[-1] <= 60_000
    assert stats_image(x, 10**6) is x
    assert torch.allclose(small.mean(), x.mean(), atol=1e-5)  # area resampling keeps the mean


def test_collisions_and_overwrites_are_refused(model_file, tmp_path, gen):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    Image.fromarray(_rgb(gen)).save(a / "x.png")
    Image.fromarray(_rgb(gen)).save(b / "x.jpg")
    Image.fromarray(_rgb(gen)).save(b / "x.png")
    with pytest.raises(DataError, match="would both be written to"):
        enhance(model_file, [a, b], tmp_path / "out")
    with pytest.raises(DataError, match="would overwrite the input"):
        enhance(model_file, [a / "x.png"], a)
    assert not (tmp_path / "out").exists()  # refused before any work


def test_bad_tiling_config_is_explained(model_file, tmp_path, gen):
    Image.fromarray(_rgb(gen)).save(tmp_path / "x.png")
    with pytest.raises(ConfigError, match="multiple of 4"):
        enhance(model_file, [tmp_path / "x.png"], tmp_path / "o", EnhanceConfig(tile=34, overlap=8))


def _cli_enhance(model_file, images, out, *options):
    """``hadamard-restore enhance MODEL IMAGES --out OUT OPTIONS`` in this process."""
    return CliRunner().invoke(
        app, ["enhance", str(model_file), *map(str, images), "--out", str(out), *map(str, options)]
    )


def test_cli_enhance_exit_code_and_summary(model_file, tmp_path, gen):
    good, bad = tmp_path / "good.png", tmp_path / "bad.jpg"
    Image.fromarray(_rgb(gen)).save(good)
    bad.write_bytes(b"not an image")
    tiling = ("--tile", 32, "--overlap", 8, "--max-untiled-pixels", 100, "--norm-stats", "tile")
    res = _cli_enhance(model_file, [good], tmp_path / "o", *tiling)
    assert res.exit_code == 0, res.output
    assert "enhanced 1 image(s), 0 failed" in res.output and (tmp_path / "o" / "good.png").is_file()
    res = _cli_enhance(model_file, [good, bad], tmp_path / "o2")
    assert res.exit_code == 1
    assert "1 failed" in res.output and "bad.jpg" in res.output and (tmp_path / "o2" / "good.png").is_file()
    res = _cli_enhance(model_file, [good], tmp_path / "o3", "--tile", 34)
    assert res.exit_code == 2 and "multiple of 4" in res.output
    res = _cli_enhance(model_file, [good], tmp_path / "o4", "--norm-stats", "batch")
    assert res.exit_code == 2 and "norm_stats" in res.output


def test_cli_enhance_bad_device_and_missing_input(model_file, tmp_path):
    res = _cli_enhance(model_file, [tmp_path / "nope.png"], tmp_path / "o")
    assert res.exit_code == 2 and "does not exist" in res.output
    res = _cli_enhance(model_file, [tmp_path], tmp_path / "o", "--device", "bogus")
    assert res.exit_code == 2 and "error" in res.output


def test_16_bit_photos_run_in_full_precision(model_file, tmp_path, gen, monkeypatch):
    from hadamard_restore.inference import enhance as E

    src = tmp_path / "in"
    src.mkdir()
    write_image(src / "deep.png", torch.rand(3, 20, 24, generator=gen), bits=16)
    Image.fromarray(_rgb(gen, 20, 24)).save(src / "flat.png")
    asked: list[str] = []
    real = E.enhance_tensor

    def spy(model, image, cfg, *a, **k):
        asked.append(cfg.precision)
        return real(model, image, cfg, *a, **k)

    monkeypatch.setattr(E, "enhance_tensor", spy)
    for precision in ("auto", "fp32"):
        asked.clear()
        report = enhance(model_file, [src], tmp_path / f"out-{precision}", EnhanceConfig(precision=precision), "cpu")
        assert report.ok
        assert sorted(asked) == (["auto", "fp32"] if precision == "auto" else ["fp32", "fp32"])


def test_a_tiled_photo_logs_tile_progress(tmp_path, caplog):
    import logging

    from hadamard_restore.data.io import write_image

    model = HadamardNet(load_genotype("all-1c"), channels=4, generator=torch.Generator().manual_seed(1)).eval()
    write_image(tmp_path / "big.png", torch.rand(3, 90, 100, generator=torch.Generator().manual_seed(0)))
    cfg = EnhanceConfig(tile=32, overlap=8, max_untiled_pixels=32 * 32, backend="eager")
    with caplog.at_level(logging.INFO, logger="hadamard_restore"):
        assert enhance(model, [tmp_path / "big.png"], tmp_path / "out", cfg).ok
    lines = [r.getMessage() for r in caplog.records if ": tile " in r.getMessage()]
    total = int(lines[0].split("/")[1].split()[0])
    assert (
        total > 1 and lines[0].startswith("big.png: tile 1/") and lines[-1].startswith(f"big.png: tile {total}/{total}")
    )
