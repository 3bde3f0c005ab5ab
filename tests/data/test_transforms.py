import pytest
import torch

from hadamard_restore.data.transforms import center_crop, paired_random_crop, paired_random_flip, random_crop_box
from hadamard_restore.errors import DataError


def _coords(h: int, w: int) -> torch.Tensor:
    """A (3, H, W) image whose pixel values encode their position."""
    idx = torch.arange(h * w, dtype=torch.float32).reshape(1, h, w)
    return torch.cat([idx, idx * 2, idx * 3])


def test_same_window_on_both_images(gen):
    ref = _coords(37, 31)
    deg = ref * 0.5
    for _ in range(20):
        d, r = paired_random_crop(deg, ref, (8, 5), gen)
        assert d.shape == r.shape == (3, 8, 5) and torch.equal(d, r * 0.5)
        top, left = divmod(int(r[0, 0, 0]), 31)
        assert torch.equal(r, ref[:, top : top + 8, left : left + 5])


def test_crop_positions_cover_every_window_and_are_seeded():
    g = torch.Generator().manual_seed(0)
    seen = {random_crop_box(5, 6, 3, g)[:2] for _ in range(400)}
    assert seen == {(t, l) for t in range(3) for l in range(4)}
    a = [random_crop_box(37, 31, 7, torch.Generator().manual_seed(5)) for _ in range(2)]
    assert a[0] == a[1]


def test_crop_larger_than_image_is_an_error(gen):
    with pytest.raises(DataError, match=r"crop 40x40 is larger than the image \(37x31\); lower the crop size"):
        random_crop_box(37, 31, 40, gen)
    with pytest.raises(DataError, match=r"sizes differ, degraded \(37, 31\) vs reference \(36, 31\)"):
        paired_random_crop(torch.zeros(3, 37, 31), torch.zeros(3, 36, 31), 8, gen)


def test_flips_are_shared_and_balanced(gen):
    ref = _coords(5, 4)
    deg = ref + 1
    counts = {"h": 0, "v": 0}
    for _ in range(400):
        d, r = paired_random_flip(deg, ref, gen)
        assert torch.equal(d, r + 1)
        counts["h"] += int(r[0, 0, 0] in (3.0, 19.0))
        counts["v"] += int(r[0, 0, 0] in (16.0, 19.0))
        assert r[0, 0, 0] in (0.0, 3.0, 16.0, 19.0)
    assert 150 < counts["h"] < 250 and 150 < counts["v"] < 250
    for _ in range(50):
        _, r = paired_random_flip(deg, ref, gen, vertical=False)
        assert r[0, 0, 0] in (0.0, 3.0)


def test_center_crop():
    img = _coords(7, 6)
    assert torch.equal(center_crop(img, (3, 2)), img[:, 2:5, 2:4])
    with pytest.raises(DataError, match="larger than the image"):
        center_crop(img, 8)
