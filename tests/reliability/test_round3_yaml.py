"""Round 3, YAML: a nested-alias bomb is refused quickly and with little memory, a key given twice
is refused by name, a non-UTF-8 config is a clear error, and no message repr()s a huge value."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.config import ConfigError, load_config

runner = CliRunner()


def billion_laughs(levels: int = 10) -> str:
    """About 1 KB of YAML whose aliases expand to 9**levels strings."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    lines.append(f"train: {{steps: *a{levels - 1}}}")
    return "\n".join(lines) + "\n"


def _limit_memory() -> None:
    two_gib = 2 * 2**30
    resource.setrlimit(resource.RLIMIT_DATA, (two_gib, two_gib))


def test_a_1kb_alias_bomb_is_refused_fast_and_small(tmp_path):
    """Run in a child limited to 2 GiB and 60 s: the old loader took 80 s and 6 GB, then a MemoryError."""
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs())
    assert path.stat().st_size < 1200
    code = (
        "import sys, time\n"
        "from hadamard_restore.config import ConfigError, load_config\n"
        "t = time.perf_counter()\n"
        "try:\n"
        f"    load_config({str(path)!r})\n"
        "except ConfigError as exc:\n"
        "    print('REFUSED', round(time.perf_counter() - t, 3), len(str(exc)))\n"
        "    print(exc)\n"
    )
    start = time.perf_counter()
    try:
        res = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=_limit_memory,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
    except subprocess.TimeoutExpired:
        pytest.fail("loading a 1 KB alias bomb did not finish in 60 s")
    assert res.returncode == 0, res.stderr[-2000:]
    first, message = res.stdout.split("\n", 1)
    assert first.startswith("REFUSED"), res.stdout
    seconds, length = float(first.split()[1]), int(first.split()[2])
    assert seconds < 2.0 and length < 1000
    assert "aliases" in message and "100000" in message
    assert time.perf_counter() - start < 60


def test_the_alias_bomb_through_the_cli_exits_2(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs(levels=7))  # 9**7 values: small enough for the old code too
    res = runner.invoke(app, ["train", str(path), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "aliases" in res.output and len(res.output) < 1000


def test_ordinary_anchors_and_merge_keys_still_work(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("train:\n  <<: &crop {crop: 24}\n  steps: 5\nsearch:\n  <<: *crop\n  crop: 32\n")
    cfg = load_config(path)
    assert (cfg.train.crop, cfg.train.steps, cfg.search.crop) == (24, 5, 32)


def test_a_duplicate_key_is_refused_naming_it_and_its_lines(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("train:\n  steps: 5\n  lr: 0.1\n  steps: 7\n")
    with pytest.raises(ConfigError, match=r"duplicate key 'steps' \(lines 2 and 4\)"):
        load_config(path)


def test_a_duplicate_section_is_refused(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("train:\n  steps: 5\nnet:\n  channels: 8\ntrain:\n  lr: 0.1\n")
    with pytest.raises(ConfigError, match="duplicate key 'train'"):
        load_config(path)


def test_a_non_utf8_config_exits_2_with_a_clear_message(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    res = runner.invoke(app, ["train", str(path), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2, res.output
    assert "not UTF-8" in res.output and "0xe9" in res.output and "Traceback" not in res.output


def test_a_utf8_config_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes("\ufeffname: café\n".encode())
    assert load_config(path).name == "café"


def test_error_messages_never_repr_a_huge_value(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("train:\n  steps: [" + ", ".join(str(i) for i in range(20000)) + "]\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "train.steps" in message and len(message) < 400


def test_a_huge_override_value_is_cut_in_the_message():
    with pytest.raises(ConfigError) as info:
        load_config(None, ["name=[" + ",".join(["x" * 50] * 2000) + "]"])
    assert len(str(info.value)) < 400
