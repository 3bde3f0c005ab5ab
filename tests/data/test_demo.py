import json

import pytest
import torch

from hadamard_restore.config import DemoDataConfig
from hadamard_restore.data import demo
from hadamard_restore.data.dataset import PairedImages
from hadamard_restore.data.layouts import detect_layout, find_pairs
from hadamard_restore.errors import DataError


def test_bundled_photos_are_local():
    photos = dict(demo.clean_photos())
    assert {"astronaut", "chelsea", "coffee", "grace_hopper"} <= set(photos)
    assert all(p.is_file() for p in photos.values())


def test_make_demo_pairs(tmp_path):
    cfg = DemoDataConfig(size=24, crops_per_image=2, task="low-light")
    out = demo.make_demo_pairs(cfg, tmp_path / "d", seed=3)
    n = 2 * len(demo.clean_photos())
    assert detect_layout(out) == "paired"
    pairs = find_pairs(out)
    assert len(pairs) == n
    ds = PairedImages(pairs)
    deg, ref = ds.sample_batch(n, torch.Generator().manual_seed(0))
    assert deg.shape == (n, 3, 24, 24)
    assert (deg.mean(dim=(1, 2, 3)) < ref.mean(dim=(1, 2, 3))).all()  # low light is darker
    manifest = json.loads((out / "demo.json").read_text())
    assert manifest["task"] == "low-light" and len(manifest["params"]) == n
    assert {"gamma", "gain", "shot", "read", "source"} <= set(next(iter(manifest["params"].values())))


def test_demo_is_reused_and_seeded(tmp_path):
    cfg = DemoDataConfig(size=16, crops_per_image=1, task="underwater")
    out = demo.make_demo_pairs(cfg, tmp_path / "a", seed=0)
    stamp = (out / "demo.json").stat().st_mtime_ns
    demo.make_demo_pairs(cfg, out, seed=0)
    assert (out / "demo.json").stat().st_mtime_ns == stamp  # same settings: reused
    other = demo.make_demo_pairs(cfg, tmp_path / "b", seed=0)
    assert (other / "degraded" / "chelsea_00.png").read_bytes() == (out / "degraded" / "chelsea_00.png").read_bytes()
    demo.make_demo_pairs(cfg, out, seed=1)
    assert (out / "degraded" / "chelsea_00.png").read_bytes() != (other / "degraded" / "chelsea_00.png").read_bytes()


def test_no_photos_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "clean_photos", lambda: [])
    with pytest.raises(DataError, match="no bundled sample photos found"):
        demo.make_demo_pairs(DemoDataConfig(), tmp_path)
