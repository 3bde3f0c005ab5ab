"""The benchmark scripts still run end to end at toy sizes (they are not unit tests; this keeps
them from rotting). Speed is never asserted: only that every section produced its rows."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def test_measure_interleaves_and_summarises():
    from benchmarks.timing import Stats, measure

    calls: list[str] = []
    stats = measure({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, warmup=1, repeats=3)
    # warm-up a, b; then rounds a b | b a | a b (order rotated each round)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]
    assert set(stats) == {"a", "b"} and all(s.n == 3 for s in stats.values())
    s = Stats.of([4.0, 1.0, 3.0, 2.0, 5.0])
    assert (s.median, s.q1, s.q3, s.min, s.max) == (3.0, 2.0, 4.0, 1.0, 5.0)


def test_measure_records_a_failing_variant_instead_of_stopping():
    from benchmarks.timing import measure

    def boom():
        raise RuntimeError("no such kernel")

    errors: dict[str, str] = {}
    stats = measure({"ok": lambda: None, "bad": boom}, warmup=0, repeats=2, errors=errors)
    assert list(stats) == ["ok"] and "no such kernel" in errors["bad"]
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        measure({"ok": lambda: None}, repeats=0)


def test_traffic_counter_counts_inputs_and_outputs():
    import torch

    from benchmarks.roofline import TrafficCounter, device_peaks, roofline_row

    x = torch.zeros(10)
    with TrafficCounter() as c:
        x + 1  # reads 10 floats, writes 10 floats
    assert c.bytes == 80
    assert device_peaks("NVIDIA H100 80GB HBM3")["bandwidth"] == 3.35e12
    assert device_peaks("NVIDIA H100 PCIe")["bandwidth"] == 2.0e12
    assert device_peaks("Some Laptop GPU") is None
    row = roofline_row(flops=2e12, nbytes=1e12, seconds=1.0, peaks={"bandwidth": 2e12, "tf32": 4e12})
    assert row["flop_pct"] == pytest.approx(50.0) and row["bw_pct"] == pytest.approx(50.0) and row["intensity"] == 2.0


def test_speed_script_writes_every_section(tmp_path):
    from benchmarks import speed

    out = tmp_path / "speed.md"
    speed.main(["--genotypes", "all-1c", "--sizes", "33x21", "--channels", "4", "--num-hnu", "1",
                "--variants", "eager,channels_last,cuda_graphs,onnxruntime", "--warmup", "0", "--repeats", "2",
                "--train-crop", "16", "--train-repeats", "1", "--search-crop", "16", "--search-repeats", "1",
                "--skip", "search", "--out", str(out)])
    res = json.loads(out.with_suffix(".json").read_text())
    variants = {r["variant"] for r in res["inference"]}
    assert {"eager", "channels_last", "onnxruntime"} <= variants
    assert res["info"][0]["parameters"] > 0 and res["train"]
    text = out.read_text()
    assert "## Inference" in text and "## Training step" in text and "| cpu |" in text
    assert "cuda_graphs" in text  # skipped with a note on a machine without a GPU, timed on one
