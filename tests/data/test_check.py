import pytest

from hadamard_restore.data.check import check_dataset
from tests.data.helpers import random_array, save_png


def test_clean_folder_report(tiny_pairs):
    report = check_dataset(tiny_pairs)
    assert report.ok and report.layout == "paired" and len(report.pairs) == 6
    text = report.format()
    assert "layout:  paired" in text and "pairs:   6 (6 distinct reference files)" in text
    assert "sizes:   31x37 (6)" in text and "problems: none" in text


def test_every_problem_is_listed(tiny_pairs, rng):
    save_png(tiny_pairs / "degraded" / "odd.png", random_array(rng))
    save_png(tiny_pairs / "reference" / "img1.png", random_array(rng, 20, 31))
    cut = tiny_pairs / "reference" / "img2.png"
    cut.write_bytes(cut.read_bytes()[:-30])
    report = check_dataset(tiny_pairs)
    assert not report.ok and len(report.problems) == 3
    text = report.format()
    assert "1 degraded without a reference: odd.png" in text
    assert "sizes differ: img1.png is 31x37 but its reference" in text and "is 31x20 (W x H)" in text
    assert "img2.png: file looks truncated" in text
    assert "problems (3):" in text and len(report.pairs) == 6


def test_full_decode_finds_corrupt_pixel_data(tiny_pairs):
    path = tiny_pairs / "degraded" / "img3.png"
    data = bytearray(path.read_bytes())
    start = data.index(b"IDAT") + 8
    data[start : start + 200] = bytes(200)  # garbage inside the compressed stream, end marker intact
    path.write_bytes(bytes(data))
    assert check_dataset(tiny_pairs).ok  # the quick check only reads headers and file ends
    report = check_dataset(tiny_pairs, full=True)
    assert len(report.problems) == 1 and "img3.png: image data is truncated or corrupt" in report.problems[0]


def test_layout_problems_do_not_raise(tmp_path):
    (tmp_path / "low").mkdir()
    (tmp_path / "high").mkdir()
    report = check_dataset(tmp_path)
    assert report.layout == "lol-v1" and "empty folder" in report.problems[0]
    report = check_dataset(tmp_path / "missing")
    assert report.layout is None and "dataset folder not found" in report.format()


def test_many_sizes_are_summarised(tmp_path, rng):
    for i in range(8):
        arr = random_array(rng, 10 + i, 12)
        save_png(tmp_path / "input" / f"{i}.png", arr)
        save_png(tmp_path / "GT" / f"{i}.png", arr)
    text = check_dataset(tmp_path).format()
    assert "8 distinct sizes (W x H), smallest 12x10, largest 12x17" in text


@pytest.mark.realdata
@pytest.mark.parametrize(
    "folder,layout,pairs,refs",
    [("lol-v1/our485", "lol-v1", 160, 160), ("sots-indoor", "reside", 120, 40), ("lsui", "lsui", 108, 108)],
)
def test_real_datasets(data_root, folder, layout, pairs, refs):
    report = check_dataset(data_root / folder)
    assert report.problems == []
    assert report.layout == layout and len(report.pairs) == pairs and report.num_references == refs
    assert sum(report.sizes.values()) == pairs
    if folder == "lsui":
        assert len(report.sizes) > 1  # LSUI sizes differ from pair to pair
