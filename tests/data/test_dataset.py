import pytest
import torch

from hadamard_restore.data.dataset import PairedImages
from hadamard_restore.data.io import read_image
from hadamard_restore.data.layouts import find_pairs
from hadamard_restore.data.transforms import random_crop_box
from hadamard_restore.errors import DataError
from tests.data.helpers import random_array, save_png


def test_full_access_matches_files(tiny_pairs):
    pairs = find_pairs(tiny_pairs)
    ds = PairedImages(pairs, crop=9)
    deg, ref = ds[2]
    assert deg.shape == (3, 37, 31)
    assert torch.equal(deg, read_image(pairs[2].degraded)) and torch.equal(ref, read_image(pairs[2].reference))
    assert len(ds) == 6


def test_sample_batch_keeps_pairs_aligned_and_is_seeded(tiny_pairs):
    ds = PairedImages(find_pairs(tiny_pairs), crop=(9, 7), flip=True)
    deg, ref = ds.sample_batch(4, torch.Generator().manual_seed(3))
    assert deg.shape == ref.shape == (4, 3, 9, 7) and deg.dtype == torch.float32
    assert torch.allclose(deg + ref, torch.ones_like(deg))  # degraded = 255 - reference, pixel for pixel
    again = ds.sample_batch(4, torch.Generator().manual_seed(3))
    assert torch.equal(again[0], deg)
    other = ds.sample_batch(4, torch.Generator().manual_seed(4))
    assert not torch.equal(other[0], deg)
    big = ds.sample_batch(10, torch.Generator().manual_seed(0))  # more than len: with replacement
    assert big[0].shape[0] == 10


def test_getitem_with_generator_is_sample(tiny_pairs):
    ds = PairedImages(find_pairs(tiny_pairs), crop=5)
    a = ds.__getitem__(1, torch.Generator().manual_seed(1))
    b = ds.sample(1, torch.Generator().manual_seed(1))
    assert a[0].shape == (3, 5, 5) and torch.equal(a[0], b[0])


def test_sample_crop_equals_crop_of_full_image(tiny_pairs):
    ds = PairedImages(find_pairs(tiny_pairs), crop=(6, 4))
    deg, ref = ds.sample(-1, torch.Generator().manual_seed(9))
    full_deg, full_ref = ds.full(5)
    top, left, _, _ = random_crop_box(37, 31, (6, 4), torch.Generator().manual_seed(9))
    assert torch.equal(deg, full_deg[:, top : top + 6, left : left + 4])
    assert torch.equal(ref, full_ref[:, top : top + 6, left : left + 4])
    with pytest.raises(DataError, match=r"img0\.png: crop 40x40 is larger than the image \(37x31\)"):
        PairedImages(find_pairs(tiny_pairs), crop=40).sample(0, torch.Generator())
    with pytest.raises(IndexError, match="out of range"):
        ds.full(6)


def test_images_are_cached(tiny_pairs):
    pairs = find_pairs(tiny_pairs)
    ds = PairedImages(pairs)
    first = ds[0]
    pairs[0].degraded.unlink()
    assert torch.equal(ds[0][0], first[0])
    with pytest.raises(DataError, match="file not found"):
        PairedImages(pairs, cache=False)[0]


def test_pair_sizes_differ(tmp_path, rng):
    save_png(tmp_path / "degraded/a.png", random_array(rng, 10, 12))
    save_png(tmp_path / "reference/a.png", random_array(rng, 10, 11))
    with pytest.raises(DataError, match=r"pair sizes differ: .*a\.png is 12x10 but its reference .*a\.png is 11x10"):
        PairedImages(find_pairs(tmp_path))[0]


def test_batch_without_crop_needs_equal_sizes(tmp_path, rng):
    for name, (h, w) in {"a.png": (10, 12), "b.png": (11, 12)}.items():
        arr = random_array(rng, h, w)
        save_png(tmp_path / "degraded" / name, arr)
        save_png(tmp_path / "reference" / name, arr)
    ds = PairedImages(find_pairs(tmp_path))
    with pytest.raises(DataError, match=r"cannot batch images of different sizes .*set a crop size"):
        ds.sample_batch(2, torch.Generator().manual_seed(0))
    assert ds.sample_batch(1, torch.Generator().manual_seed(0))[0].shape[0] == 1


def test_bad_construction():
    with pytest.raises(DataError, match="got no pairs"):
        PairedImages([])


def test_training_batches_decode_each_file_once(tiny_pairs, monkeypatch):
    """The sampler that training and search draw from every step never decodes a PNG twice."""
    from hadamard_restore.data import dataset
    from hadamard_restore.data.io import read_image_array

    calls = []
    real = read_image_array
    monkeypatch.setattr(dataset, "read_image_array", lambda path: calls.append(path) or real(path))
    pairs = find_pairs(tiny_pairs)
    ds = PairedImages(pairs, crop=8, flip=True)
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        ds.sample_batch(2, gen)
    assert len(calls) == len(set(calls)) <= 2 * len(pairs)
