import pytest

from hadamard_restore.config import RunConfig
from hadamard_restore.data.split import Split
from hadamard_restore.data.task_data import cache_root, load_pairs, load_test_pairs
from hadamard_restore.errors import DataError
from tests.data.helpers import make_folder_pairs, random_array, save_png


def _cfg(**data) -> RunConfig:
    cfg = RunConfig()
    for key, value in data.items():
        setattr(cfg.data, key, value)
    return cfg


def test_demo_source_into_run_dir(tmp_path):
    cfg = _cfg(source="demo", val_ratio=0.25)
    cfg.data.demo.size, cfg.data.demo.crops_per_image = 16, 2
    train, val = load_pairs(cfg.data, cfg.seed, run_dir=tmp_path)
    assert (tmp_path / "demo-data" / "demo.json").is_file() and (tmp_path / "split.json").is_file()
    assert not {p.degraded for p in train} & {p.degraded for p in val}
    assert len(val) == round(0.25 * (len(train) + len(val)))
    assert all(p.degraded.is_file() and p.reference.is_file() for p in train + val)


def test_demo_without_run_dir_uses_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HADAMARD_RESTORE_CACHE", str(tmp_path / "cache"))
    assert cache_root() == tmp_path / "cache"
    cfg = _cfg(source="demo")
    cfg.data.demo.size, cfg.data.demo.crops_per_image = 16, 1
    train, val = load_pairs(cfg.data, cfg.seed)
    assert train[0].degraded.is_relative_to(tmp_path / "cache")


def test_split_file_is_created_then_pinned(tmp_path, rng):
    names = {f"{s}_{k}.png": f"{s}.png" for s in range(8) for k in (1, 2)}
    make_folder_pairs(tmp_path / "ds", "hazy", "clear", names, rng, 6, 5)
    cfg = _cfg(root=tmp_path / "ds", split_file=tmp_path / "split.json", group_key="scene", val_ratio=0.25)
    train, val = load_pairs(cfg.data, cfg.seed)
    assert Split.load(tmp_path / "split.json").group_key == "scene"
    assert not {p.reference for p in train} & {p.reference for p in val}
    cfg.seed = 99  # a pinned split ignores the seed: the file decides
    assert load_pairs(cfg.data, cfg.seed) == (train, val)
    save_png(train[0].degraded, random_array(rng, 6, 5))
    with pytest.raises(DataError, match=r"content changed .*hazy/"):
        load_pairs(cfg.data, cfg.seed)


def test_max_pairs_is_a_deterministic_group_subset(tmp_path, rng):
    make_folder_pairs(tmp_path, "low", "high", {f"{i}.png": f"{i}.png" for i in range(20)}, rng, 5, 5)
    cfg = _cfg(root=tmp_path, max_pairs=6, layout="lol-v1")
    train, val = load_pairs(cfg.data, cfg.seed)
    assert len(train) + len(val) == 6 and len(val) == 1
    assert load_pairs(cfg.data, cfg.seed) == (train, val)


def test_missing_root_and_custom_folders(tmp_path, rng):
    with pytest.raises(DataError, match=r"data.root is not set"):
        load_pairs(_cfg().data, RunConfig().seed)
    make_folder_pairs(tmp_path, "in", "target", {f"{i}.png": f"{i}.png" for i in range(5)}, rng, 5, 5)
    train, val = load_pairs(
        _cfg(root=tmp_path, layout="paired", degraded_dir="in", reference_dir="target").data, seed=0
    )
    assert len(train) == 4 and len(val) == 1 and val[0].degraded.parent.name == "in"


def test_test_pairs_from_test_root_or_validation(tmp_path, rng):
    make_folder_pairs(tmp_path / "train", "low", "high", {f"{i}.png": f"{i}.png" for i in range(5)}, rng, 5, 5)
    make_folder_pairs(tmp_path / "eval", "low", "high", {f"e{i}.png": f"e{i}.png" for i in range(3)}, rng, 5, 5)
    cfg = _cfg(root=tmp_path / "train")
    assert load_test_pairs(cfg.data, cfg.seed) == load_pairs(cfg.data, cfg.seed)[1]
    cfg.data.test_root = tmp_path / "eval"
    assert [p.degraded.name for p in load_test_pairs(cfg.data, cfg.seed)] == ["e0.png", "e1.png", "e2.png"]
