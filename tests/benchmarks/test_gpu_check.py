"""The prepared GPU check (benchmarks/product/gpu_check.py) runs end to end as a CPU dry run, records a
failing or overrunning part instead of stopping, and its weights pack fits and round-trips."""

from __future__ import annotations

import json
import sys

import pytest
import torch


@pytest.mark.weights
def test_dry_run_writes_every_part_and_the_table(tmp_path, provisioned_weights):
    from benchmarks.product import gpu_check

    md = gpu_check.main(["--dry-run", "--out-dir", str(tmp_path / "out"), "--md", str(tmp_path / "never.md")])
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert list(res["parts"]) == list(gpu_check.PARTS)
    assert {k: v["status"] for k, v in res["parts"].items()} == {k: "ok" for k in gpu_check.PARTS}
    corr = res["parts"]["correct"]["data"]
    assert corr["bf16 autocast"]["grads finite"] is True and corr["bf16 autocast"]["loss finite"] is True
    assert corr["onnx from device model"]["max |onnxruntime - cpu fp32| (TF32 off)"] < 1e-3
    train = res["parts"]["train"]["data"]["phase 1"]
    assert {"eager", "channels_last"} <= set(train) and train["eager"]["x_eager"] == pytest.approx(1.0)
    infer = res["parts"]["infer"]["data"]
    assert infer["parity vs fp32 eager"]["fp32 channels-last"]["max_abs"] < 1e-4
    steps = res["parts"]["search"]["data"]["steps"]
    assert any("finite_difference" in k for k in steps) and all(r["x_train_step"] > 0 for r in steps.values())
    assert "ddp" in res["parts"]["ddp"]["notes"]  # skipped on the CPU, with the reason
    text = md.read_text()
    assert "DRY RUN" in text and "## Item 4" in text and "## Item 5" in text and "## Item 6" in text
    assert not (tmp_path / "never.md").exists()  # a dry run never overwrites the committed GPU table
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["log.txt", "results.json", "speed-gpu.md"]


def test_a_failing_part_is_recorded_not_fatal(tmp_path, monkeypatch):
    from benchmarks.product import gpu_check

    def boom(part):
        part.record("before", 1)
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr(gpu_check, "part_functions", lambda: {"env": boom})
    res = gpu_check.run_part_here("env", tmp_path / "env.json", dry=True)
    assert res["status"] == "failed" and "kernel exploded" in res["error"] and res["data"] == {"before": 1}


def test_an_overrunning_part_keeps_what_it_recorded(tmp_path):
    from benchmarks.product.gpu_check import run_isolated

    path = tmp_path / "p.json"
    code = (
        f"import json, time; open({str(path)!r}, 'w').write(json.dumps({{'status': 'running', "
        "'data': {'phase 1': 3}, 'notes': {}})); print('started', flush=True); time.sleep(30)"
    )
    res = run_isolated([sys.executable, "-c", code], path, timeout=3, log=tmp_path / "log.txt")
    assert res["status"] == "timeout" and res["data"] == {"phase 1": 3} and res["seconds"] < 20
    assert "started" in (tmp_path / "log.txt").read_text()
    res = run_isolated([sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "none.json", 10, tmp_path / "log.txt")
    assert res["status"] == "failed" and "exit 3" in res["error"]


@pytest.mark.weights
def test_weights_pack_is_small_and_unpacks_to_a_loadable_cache(tmp_path, provisioned_weights, monkeypatch):
    from benchmarks.product.gpu_pack import deepest_tap, pack_weights, unpack_weights
    from hadamard_restore.backbones import weights
    from hadamard_restore.losses.vgg import backbone_layer_names

    up_to = deepest_tap("paper-lol")
    assert backbone_layer_names("vgg16")[up_to] == "relu4_2"
    pack = pack_weights(provisioned_weights, tmp_path / "w.pt", up_to)
    assert pack.stat().st_size < 20 * 2**20  # the full fp32 files are ~69 MiB
    unpack_weights(pack, tmp_path / "cache")
    full = weights.vgg_features("vgg16")
    monkeypatch.setenv("HADAMARD_RESTORE_WEIGHTS", str(tmp_path / "cache"))
    small = weights.vgg_features("vgg16")  # strict load: every key present, float32
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        a, b = full[: up_to + 1](x), small[: up_to + 1](x)
    assert small[0].weight.dtype == torch.float32
    assert (a - b).abs().max() <= 1e-2 * a.abs().max()  # fp16 rounding of the weights only
    assert weights.lpips_model("alex") is not None
