from pathlib import Path

import pytest

from hadamard_restore.data.layouts import (
    LAYOUTS,
    Pair,
    detect_layout,
    find_pairs,
    get_layout,
    layout_folders,
    natural_key,
)
from hadamard_restore.errors import DataError


def touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


# (layout, files to create, root relative to tmp, expected degraded folder relative to tmp)
TREES = [
    ("lol-v1", ["our485/low/1.png", "our485/high/1.png", "eval15/low/9.png", "eval15/high/9.png"], "", "our485/low"),
    ("lol-v1", ["our485/low/1.png", "our485/high/1.png"], "our485", "our485/low"),
    ("lol-v1", ["eval15/low/9.png", "eval15/high/9.png"], "eval15", "eval15/low"),
    (
        "lol-v2",
        [
            "Real_captured/Test/Low/a.png",
            "Real_captured/Test/Normal/a.png",
            "Real_captured/Train/Low/b.png",
            "Real_captured/Train/Normal/b.png",
            "Synthetic/Train/Low/c.png",
            "Synthetic/Train/Normal/c.png",
        ],
        "",
        "Real_captured/Train/Low",
    ),
    ("lol-v2", ["Synthetic/Train/Low/c.png", "Synthetic/Train/Normal/c.png"], "Synthetic", "Synthetic/Train/Low"),
    ("lol-v2", ["Test/Low/a.png", "Test/Normal/a.png"], "Test", "Test/Low"),
    ("reside", ["hazy/1400_1.png", "clear/1400.png"], "", "hazy"),
    (
        "reside",
        ["indoor/hazy/1_1_0.9.png", "indoor/gt/1.png", "outdoor/hazy/2_1.jpg", "outdoor/gt/2.png"],
        "",
        "indoor/hazy",
    ),
    ("uieb", ["raw-890/1_img_.png", "reference-890/1_img_.png"], "", "raw-890"),
    ("lsui", ["input/3.jpg", "GT/3.jpg"], "", "input"),
    ("euvp", ["test_samples/Inp/x.jpg", "test_samples/GTr/x.jpg"], "test_samples", "test_samples/Inp"),
    ("paired", ["degraded/q.png", "reference/q.png"], "", "degraded"),
]


@pytest.mark.parametrize("layout,files,root,degraded", TREES)
def test_detect_and_resolve_each_layout(tmp_path, layout, files, root, degraded):
    touch(tmp_path, *files)
    assert detect_layout(tmp_path / root) == layout
    name, folders = layout_folders(tmp_path / root)
    assert name == layout and folders[0][0] == tmp_path / degraded
    assert len(find_pairs(tmp_path / root, layout)) == 1


def test_euvp_reads_every_paired_subset(tmp_path):
    for sub in ("underwater_dark", "underwater_imagenet", "underwater_scenes"):
        touch(tmp_path, f"Paired/{sub}/trainA/{sub}_1.jpg", f"Paired/{sub}/trainB/{sub}_1.jpg")
    touch(tmp_path, "test_samples/Inp/t.jpg", "test_samples/GTr/t.jpg")
    pairs = find_pairs(tmp_path)
    assert sorted(p.degraded.parent.parent.name for p in pairs) == [
        "underwater_dark",
        "underwater_imagenet",
        "underwater_scenes",
    ]  # the test samples stay out


def test_many_to_one_names(tmp_path):
    touch(
        tmp_path,
        "hazy/1400_1.png",
        "hazy/1400_10.png",
        "hazy/1401_2.png",
        "hazy/7_3_0.91.png",
        "clear/1400.png",
        "clear/1401.png",
        "clear/7.png",
    )
    pairs = find_pairs(tmp_path, "reside")
    got = {p.degraded.name: p.reference.name for p in pairs}
    assert got == {
        "1400_1.png": "1400.png",
        "1400_10.png": "1400.png",
        "1401_2.png": "1401.png",
        "7_3_0.91.png": "7.png",
    }


def test_exact_stem_wins_and_extensions_may_differ(tmp_path):
    touch(tmp_path, "degraded/a_1.jpg", "degraded/a_2.png", "reference/a_1.png", "reference/a.png")
    got = {p.degraded.name: p.reference.name for p in find_pairs(tmp_path, "paired")}
    assert got == {"a_1.jpg": "a_1.png", "a_2.png": "a.png"}


def test_pairs_are_naturally_sorted(tmp_path):
    touch(tmp_path, *[f"low/{i}.png" for i in (10, 2, 1)], *[f"high/{i}.png" for i in (10, 2, 1)])
    assert [p.degraded.name for p in find_pairs(tmp_path)] == ["1.png", "2.png", "10.png"]
    assert sorted(["b10", "b9", "a"], key=natural_key) == ["a", "b9", "b10"]


def test_custom_dirs(tmp_path):
    touch(tmp_path, "in/x.png", "target/x.png", "in/notes.txt")
    pairs = find_pairs(tmp_path, "paired", degraded_dir="in", reference_dir="target")
    assert pairs == [Pair(tmp_path / "in/x.png", tmp_path / "target/x.png")]
    with pytest.raises(DataError, match="give both degraded_dir and reference_dir"):
        find_pairs(tmp_path, degraded_dir="in")
    with pytest.raises(DataError, match="go with layout 'paired', not 'lsui'"):
        find_pairs(tmp_path, "lsui", degraded_dir="in", reference_dir="target")


def test_names_that_do_not_match_list_a_few_of_each_side(tmp_path):
    touch(
        tmp_path,
        "input/a.jpg",
        "input/b.jpg",
        *[f"input/odd{i}.jpg" for i in range(7)],
        "GT/a.jpg",
        "GT/b.jpg",
        "GT/lonely.jpg",
    )
    with pytest.raises(DataError) as info:
        find_pairs(tmp_path, "lsui")
    msg = str(info.value)
    assert "names do not match" in msg
    assert "7 degraded without a reference: odd0.jpg, odd1.jpg, odd2.jpg, odd3.jpg, odd4.jpg and 2 more" in msg
    assert "1 references without a degraded image: lonely.jpg" in msg
    assert "matched by stem" in msg


def test_empty_and_missing_folders(tmp_path):
    touch(tmp_path, "low/readme.txt")
    (tmp_path / "high").mkdir()
    with pytest.raises(DataError, match=r"low: empty folder, no images in it .*1 other entries"):
        find_pairs(tmp_path, "lol-v1")
    with pytest.raises(DataError, match="dataset folder not found"):
        find_pairs(tmp_path / "nope")
    with pytest.raises(DataError, match=r"no lsui layout here .*input and GT"):
        find_pairs(tmp_path, "lsui")


def test_duplicate_reference_stem(tmp_path):
    touch(tmp_path, "low/a.png", "high/a.png", "high/a.jpg")
    with pytest.raises(DataError, match=r"two references share the name 'a'"):
        find_pairs(tmp_path)


def test_unknown_and_ambiguous_layouts(tmp_path):
    with pytest.raises(DataError, match=r"unknown layout 'foo'; known layouts: lol-v1, lol-v2"):
        get_layout("foo")
    assert get_layout("SOTS").name == "reside" and get_layout("LOL").name == "lol-v1"
    touch(tmp_path, "photos/x.png")
    with pytest.raises(DataError, match=r"no known dataset layout found \(sub-folders: \['photos'\]\).*paired"):
        detect_layout(tmp_path)
    touch(tmp_path, "low/x.png", "high/x.png", "input/x.png", "GT/x.png")
    with pytest.raises(DataError, match=r"several layouts match \(lol-v1, lsui\)"):
        detect_layout(tmp_path)


def test_every_layout_has_a_description():
    assert all(layout.description for layout in LAYOUTS.values())


def test_task_configs_name_known_layouts(monkeypatch):
    from hadamard_restore.config import load_config

    monkeypatch.setenv("HADAMARD_RESTORE_DATA", "/data")  # the configs' roots use it; nothing is read
    configs = sorted(Path(__file__).resolve().parents[2].joinpath("configs").glob("*.yaml"))
    assert configs
    for path in configs:
        layout = load_config(path).data.layout
        if layout is not None:
            assert get_layout(layout).name in LAYOUTS, path


@pytest.mark.parametrize(
    "degraded,reference",
    [("input", "target"), ("low", "high"), ("hazy", "clear"), ("degraded", "reference"), ("input", "gt")],
)
def test_paired_layout_finds_common_folder_names(tmp_path, degraded, reference):
    """`--layout paired` (configs/custom.yaml) reads input/target & co. without degraded_dir/reference_dir."""
    touch(tmp_path, f"{degraded}/a.png", f"{reference}/a.png", f"{degraded}/b.png", f"{reference}/b.png")
    name, folders = layout_folders(tmp_path, "paired")
    assert name == "paired" and folders == [(tmp_path / degraded, tmp_path / reference)]
    assert [p.reference.name for p in find_pairs(tmp_path, "paired")] == ["a.png", "b.png"]


def test_detection_prefers_a_named_layout_over_paired(tmp_path):
    touch(tmp_path, "in/input/a.png", "in/target/a.png", "lol/low/a.png", "lol/high/a.png")
    assert detect_layout(tmp_path / "in") == "paired"  # input/target: no benchmark uses these names
    assert detect_layout(tmp_path / "lol") == "lol-v1"  # low/high also fit paired; LOL's layout wins
