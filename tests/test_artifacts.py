import os
import stat

import pytest
import torch

from hadamard_restore.artifacts import atomic_torch_save, atomic_write_text, read_json, write_json


def test_write_json_round_trip(tmp_path):
    write_json(tmp_path / "a" / "x.json", {"b": [1, 2]})
    assert read_json(tmp_path / "a" / "x.json") == {"b": [1, 2]}


def test_failed_write_keeps_previous_version(tmp_path):
    target = tmp_path / "m.pt"
    atomic_torch_save({"v": torch.ones(2)}, target)

    class Boom:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        atomic_torch_save({"v": Boom()}, target)
    assert torch.equal(torch.load(target, weights_only=True)["v"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temp file left behind


def test_files_get_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        p = atomic_write_text(tmp_path / "t.txt", "hi")
    finally:
        os.umask(old)
    assert stat.S_IMODE(p.stat().st_mode) == 0o644


def test_read_json_truncated(tmp_path):
    (tmp_path / "t.json").write_text('{"a": ')
    with pytest.raises(ValueError, match="truncated"):
        read_json(tmp_path / "t.json")
