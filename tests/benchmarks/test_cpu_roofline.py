"""The CPU roofline: its arithmetic in closed form, its op profile on a one-convolution network, and
the script at toy sizes, whose counted work must agree with independent counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[2]


def test_roofline_entry_closed_form():
    from benchmarks.product.cpu_roofline import roofline_entry

    # 100 FLOP over 10 B in 2 s on a 1000 FLOP/s, 50 B/s machine: intensity 10 < balance 20
    r = roofline_entry(flops=100, nbytes=10, seconds=2, peak=1000, bandwidth=50)
    assert (r["intensity"], r["balance"], r["bound"]) == (10, 20, "memory")
    assert r["attainable_gflops"] * 1e9 == pytest.approx(500)  # 10 FLOP/B x 50 B/s
    assert r["pct_roof"] == pytest.approx(10) and r["pct_peak"] == pytest.approx(5) and r["pct_bw"] == pytest.approx(10)
    c = roofline_entry(flops=1000, nbytes=10, seconds=1, peak=1000, bandwidth=50)  # intensity 100 > 20
    assert c["bound"] == "compute" and c["attainable_gflops"] * 1e9 == pytest.approx(1000) and c["pct_roof"] == 100
    with pytest.raises(ValueError, match="must be > 0"):
        roofline_entry(flops=1, nbytes=0, seconds=1, peak=1, bandwidth=1)


def test_ceilings_take_the_best_case_of_each_kind():
    from benchmarks.product.cpu_roofline import ceiling_cases, ceilings

    cases = ceiling_cases(mm_n=8, conv_c=2, conv_hw=4, stream_mib=1)
    work = {k: v[2] for k, v in cases.items()}
    assert work["fp32 mm 8^3"] == 2 * 8**3 and work["bf16 conv3x3 2->2 @4"] == 2 * 2 * 2 * 9 * 16
    assert work["copy 1 MiB"] == 2 * 2**20 and work["triad 3x1 MiB"] == 3 * 2**20
    seconds = {k: 1.0 for k in cases} | {"fp32 mm 8^3": 1e-6, "copy 1 MiB": 2.0}
    peaks = ceilings(cases, seconds)
    assert peaks["fp32"] == pytest.approx(2 * 8**3 / 1e-6)
    assert peaks["bf16"] == max(work["bf16 mm 8^3"], work["bf16 conv3x3 2->2 @4"])
    assert peaks["bandwidth"] == 3 * 2**20  # triad (1 s) beats copy (2 s)
    for name, call in ((k, v[0]) for k, v in cases.items()):  # every case runs
        assert call() is not None, name


def test_op_profile_counts_one_convolution_and_one_relu():
    from benchmarks.product.cpu_roofline import op_profile

    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
    p = op_profile(net, (4, 5))
    assert p["convolutions"] == 1 and p["conv_flops"] == 2 * 8 * 20 * 27
    # conv: input 3x20, weight 8x27, bias 8, output 8x20 floats; relu: reads and writes 8x20 floats
    assert p["conv_bytes"] == 4 * (60 + 216 + 8 + 160) and p["other_bytes"] == 4 * 2 * 160
    assert p["conv_intensity_median"] == pytest.approx(p["conv_flops"] / p["conv_bytes"])


@pytest.fixture(scope="module")
def quick_result(tmp_path_factory, provisioned_weights):
    from benchmarks.product import cpu_roofline

    out = tmp_path_factory.mktemp("roofline") / "roofline.md"
    threads = torch.get_num_threads()
    cpu_roofline.main(["--quick", "--threads", "1", "--repeats", "3", "--warmup", "0", "--out", str(out)])
    assert torch.get_num_threads() == threads  # restored
    return json.loads(out.with_suffix(".json").read_text()), out.read_text()


@pytest.mark.weights
def test_quick_run_reports_every_path_with_consistent_work(quick_result):
    from benchmarks.product.cpu_roofline import BUNDLED
    from hadamard_restore.net.info import net_info
    from hadamard_restore.net.model_file import load_model

    res, text = quick_result
    assert res["quick"] and res["machine"]["torch threads"] == "1" and not res["errors"]
    assert {"load average before (1/5/15 min)", "load average after (1/5/15 min)"} <= set(res["machine"])
    paths = ["eager", "channels-last", "onnx (onnxruntime)", "bf16 channels-last"]
    assert [r["path"] for r in res["inference"]] == paths
    # Trainer.train_step in fp32 (contiguous, channels-last) and, where bf16 is native, the bf16 default
    from hadamard_restore.runtime.precision import native_bf16

    bf16 = native_bf16(torch.device("cpu"))
    assert [r["precision"] for r in res["train"]] == ["fp32", "fp32"] + ["bf16"] * bf16
    model = load_model(ROOT / BUNDLED, "cpu")[0]
    h, w = res["sizes"]["image_hw"]
    forward = net_info(model, (h, w))["flops"]
    assert all(r["flops"] == forward for r in res["inference"])
    by_path = {r["path"]: r for r in res["inference"]}
    assert by_path["bf16 channels-last"]["bytes"] < 0.75 * by_path["eager"]["bytes"]  # 2-byte activations
    # a step = network forward + backward (grad of input and weight: about 2x forward) + loss networks
    crop, batch = res["sizes"]["crop"], res["sizes"]["batch"]
    step_net = 2.5 * batch * net_info(model, (crop, crop))["flops"]
    assert all(r["flops"] > step_net for r in res["train"])
    assert len({r["flops"] for r in res["train"]}) == 1  # autocast changes dtypes, not the work
    for r in res["inference"] + res["train"]:
        assert r["gflops"] * 1e9 * r["seconds"] == pytest.approx(r["flops"])
        assert r["pct_peak"] == pytest.approx(100 * r["gflops"] * 1e9 / res["peaks"][r["precision"]])
        assert 0 < r["pct_peak"] < 400 and 0 < r["pct_bw"] < 400, r  # achieved within a sane multiple of the peak
    assert "## Ceilings" in text and "## What it says" in text and "toy sizes, not a result" in text
