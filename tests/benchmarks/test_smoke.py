"""The benchmark scripts still run end to end at toy sizes (they are not unit tests; this keeps
them from rotting). Speed is never asserted: only that every section produced its rows."""

from __future__ import annotations

import json

import pytest
import torch


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


def test_cpu_flags_name_the_instruction_sets_that_decide_bf16_speed(tmp_path):
    """Two EPYC generations share the name "AMD EPYC"; the flags tell a Zen 4 (native bf16) from a
    Zen 3, in the order of SPEED_FLAGS, from the first CPU's line only."""
    from benchmarks.timing import SPEED_FLAGS, cpu_flags

    zen4 = tmp_path / "zen4"
    zen4.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512_bf16 avx2 avx512f\n\nflags\t: amx_bf16\n")
    zen3 = tmp_path / "zen3"
    zen3.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n")
    assert cpu_flags(zen4) == ["avx2", "avx512f", "avx512_bf16"] and cpu_flags(zen3) == ["avx2"]
    assert cpu_flags(tmp_path / "missing") == [] and set(cpu_flags()) <= set(SPEED_FLAGS)


def test_traffic_counter_counts_inputs_and_outputs():
    import torch

    from benchmarks.product.roofline import TrafficCounter, device_peaks, roofline_row

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
    from benchmarks.product import speed

    out = tmp_path / "speed.md"
    speed.main(
        [
            "--genotypes",
            "all-1c",
            "--sizes",
            "33x21",
            "--channels",
            "4",
            "--num-hnu",
            "1",
            "--variants",
            "eager,channels_last,cuda_graphs,onnxruntime",
            "--warmup",
            "0",
            "--repeats",
            "2",
            "--train-crop",
            "16",
            "--train-repeats",
            "1",
            "--search-crop",
            "16",
            "--search-repeats",
            "1",
            "--skip",
            "search",
            "--out",
            str(out),
        ]
    )
    res = json.loads(out.with_suffix(".json").read_text())
    variants = {r["variant"] for r in res["inference"]}
    assert {"eager", "channels_last", "onnxruntime"} <= variants
    assert res["info"][0]["parameters"] > 0 and res["train"]
    text = out.read_text()
    assert "## Inference" in text and "## Training step" in text and "| cpu |" in text
    assert "cuda_graphs" in text  # skipped with a note on a machine without a GPU, timed on one


def _result(entry: str, psnr: float, ssim: float, lpips: float, seed: int = 0, images=(("a", 0.0), ("b", 1.0))):
    """A fake entry result whose per-image values average to the given means."""
    from benchmarks.studies.quality_entries import ENTRIES

    e = next(x for x in ENTRIES if x.key == entry)
    rows = [{"name": n, "psnr": psnr + d, "ssim": ssim, "lpips": lpips} for n, d in images]
    mean = {"psnr": sum(r["psnr"] for r in rows) / len(rows), "ssim": ssim, "lpips": lpips}
    return {
        "entry": entry,
        "name": e.name,
        "group": e.group,
        "seed": seed,
        "parameters": 10,
        "mean": mean,
        "per_image": rows,
    }


def test_statement_reports_wins_losses_and_margins():
    from benchmarks.studies.quality_report import paired_difference, statement, task_table

    base = [_result(b, 20.0, 0.80, 0.20) for b in ("all-1c", "all-3c", "all-1rc")]
    wins = statement("lol", [_result("searched", 21.0, 0.85, 0.10), *base, _result("all-3rc", 20.5, 0.84, 0.15)])
    assert "beats every hand-designed baseline on all three metrics" in wins
    assert "smallest margin +0.50 dB (vs all-3rc)" in wins and "smallest margin +0.0100 (vs all-3rc)" in wins
    loses = statement("lol", [_result("searched", 21.0, 0.85, 0.10), *base, _result("all-3rc", 22.0, 0.84, 0.15)])
    assert "does **not** beat" in loses and "**does not beat** all-3rc" in loses and "-1.00 dB" in loses
    assert "has not finished" in statement("lol", base)
    # per-image paired difference: +1 dB on both images -> mean 1, s.e. 0
    d, se, n = paired_difference([_result("searched", 21.0, 0.8, 0.1)], [_result("all-1c", 20.0, 0.8, 0.1)], "psnr")
    assert (d, se, n) == (1.0, 0.0, 2)
    # two seeds -> mean ± std in the table; the input row comes first
    table = task_table(
        [_result("all-1c", 20.0, 0.8, 0.1, 0), _result("all-1c", 22.0, 0.8, 0.1, 1)],
        {"mean": {"psnr": 7.0, "ssim": 0.1, "lpips": 0.5}},
    )
    lines = table.splitlines()
    assert lines[2].startswith("| input vs reference") and "21.50 ± 1.41" in lines[3]


@pytest.mark.slow
def test_quality_script_runs_a_task_end_to_end(tmp_path, data_root, provisioned_weights, monkeypatch):
    pytest.importorskip("hadamard_restore.training.trainer")
    pytest.importorskip("hadamard_restore.search.hierarchy")
    from benchmarks.studies import quality

    monkeypatch.setenv("HADAMARD_RESTORE_DATA", str(data_root))
    tiny = [
        "net.channels=4",
        "net.num_hnu=1",
        "data.max_pairs=4",
        "classifier.steps=1",
        "classifier.crop=32",
        "classifier.batch_size=2",
        "search.loss_steps=1",
        "search.arch_steps=1",
        "search.crop=32",
        "train.steps=1",
        "train.crop=32",
        "train.batch_size=1",
    ]
    args = [
        "--preset",
        "cpu",
        "--task",
        "lol",
        "--entries",
        "searched,all-1c",
        "--work",
        str(tmp_path / "w"),
        "--out",
        str(tmp_path / "q.md"),
    ] + [x for s in tiny for x in ("--set", s)]
    out = quality.main(args)
    text = out.read_text()
    assert "input vs reference" in text and "all 1-C" in text and "Ours: searched" in text
    assert "## Does the search pay off?" in text
    # resumable: a second run finds every entry finished and trains nothing
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "w" / "lol" / "entries").glob("*.json")}
    quality.main(args)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "w" / "lol" / "entries").glob("*.json")} == before


def test_speed_search_steps_run_every_stage_and_order(provisioned_weights):
    import torch

    from benchmarks.product.speed import search_cases

    variants, notes = search_cases(
        channels=4, num_hnu=1, crop=32, batch=1, device=torch.device("cpu"), modes=("first_order", "finite_difference")
    )
    assert set(variants) == {
        f"{s} | {m}" for s in ("stage 1 (loss)", "stage 2 (arch)") for m in ("first_order", "finite_difference")
    }
    assert "zero" in notes["stage 1 (loss) | first_order"]  # labelled: the search refuses it
    for step in variants.values():
        step()  # one real bilevel step each


def test_statement_says_when_entries_do_not_reach_the_input():
    from benchmarks.studies.quality_report import statement

    res = [_result(k, 10.0, 0.5, 0.3) for k in ("searched", "all-1c", "all-3c", "all-1rc", "all-3rc")]
    assert "no entry reaches the unprocessed input's PSNR** (12.00 dB)" in statement(
        "sots", res, {"mean": {"psnr": 12.0, "ssim": 0.8, "lpips": 0.1}}
    )
    partial = statement("sots", res, {"mean": {"psnr": 5.0, "ssim": 0.8, "lpips": 0.1}})
    assert "unprocessed input" not in partial


@pytest.mark.weights
def test_speed_paths_times_old_and_new_side_by_side(tmp_path, provisioned_weights):
    from benchmarks.product import speed_paths

    small = ["--genotype", "all-1c", "--channels", "4", "--warmup", "1", "--repeats", "1", "--threads", "1"]
    out = speed_paths.main(
        ["--section", "enhance", "--sizes", "300x260", "--old-path", *small, "--out", str(tmp_path / "e.md")]
    )
    text = out.read_text()
    assert "| new: auto |" in text and "| old: eager |" in text and "choice s" in text
    assert "| new: auto, precision fp32 |" in text and "| backend |" in text
    out = speed_paths.main(
        ["--section", "train", "--crop", "32", "--batch", "1", "--old-path", *small, "--out", str(tmp_path / "t.md")]
    )
    text = out.read_text()
    for row in ("new \\| eager", "old \\| eager", "new \\| channels_last", "old \\| channels_last"):
        assert f"| {row} |" in text
    out = speed_paths.main(
        ["--section", "search", "--crop", "48", "--batch", "1", "--num-hnu", "1", "--judges", "resnet18", "--old-path"]
        + [*small, "--out", str(tmp_path / "s.md")]
    )
    text = out.read_text()
    for row in ("new \\| stage 1 (loss), resnet18 judge", "old \\| stage 1 (loss), resnet18 judge"):
        assert f"| {row} |" in text
    assert "| new \\| stage 2 (arch) |" in text and "| old \\| stage 2 (arch) |" in text


def test_old_step_code_is_the_same_function_and_restores_the_new_code(gen):
    from benchmarks.product.speed_paths import old_step_code
    from hadamard_restore.net.hnu import InstanceNorm

    norm, x = InstanceNorm(), torch.randn(2, 4, 6, 5, generator=gen)
    new_forward = InstanceNorm.forward
    with old_step_code():
        assert InstanceNorm.forward is not new_forward
        old = norm(x)
    assert InstanceNorm.forward is new_forward
    torch.testing.assert_close(norm(x), old)
