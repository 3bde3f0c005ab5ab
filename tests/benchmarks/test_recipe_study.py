"""benchmarks.studies.recipe_study: a cell's dev evaluation is read from evaluate's metrics.json
(the held-out split is never passed), and the up-sampler table shows PSNR and checkerboard side by side."""

from __future__ import annotations

import argparse
import json
import subprocess

import pytest

from benchmarks.studies import recipe_study as R


def _metrics(psnr: float, peak: float) -> dict:
    appearance = {k: 1.0 for k in R.APPEARANCE} | {"grid_peak_ratio": peak, "count": 13}
    return {
        "count": 13,
        "mean": {"psnr": psnr, "ssim": 0.8},
        "input_mean": {"psnr": 14.0},
        "appearance": appearance,
    }


def _cell(recipe: str, seed: int, psnr: float, peak: float) -> dict:
    dev = {
        "count": 13,
        "psnr": psnr,
        "ssim": 0.8,
        "input_psnr": 14.0,
        "appearance": {k: 1.0 for k in R.APPEARANCE} | {"grid_peak_ratio": peak},
    }
    return {
        "task": "lsui",
        "recipe": recipe,
        "steps": 3000,
        "seed": seed,
        "val": [{"step": 3000, "psnr_raw": psnr, "psnr_ema": psnr}],
        "dev_eval": dev,
        "best_step": 3000,
        "best_weights": "raw",
        "wall_s": 60.0,
        "load_average": {"before": [2.0, 2.0, 2.0]},
    }


def test_dev_evaluation_is_read_from_an_existing_metrics_file(tmp_path, monkeypatch):
    run_dir = tmp_path / "cell"
    (run_dir / "dev-eval").mkdir(parents=True)
    (run_dir / "dev-eval" / "metrics.json").write_text(json.dumps(_metrics(18.5, 3.25)))
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("a finished evaluation is not rerun"))
    got = R.evaluate_on_dev(run_dir, argparse.Namespace(dev_split=tmp_path / "dev.json"), print)
    assert got["psnr"] == 18.5 and got["input_psnr"] == 14.0 and got["count"] == 13
    assert got["appearance"]["grid_peak_ratio"] == 3.25 and set(got["appearance"]) == set(R.APPEARANCE)


def test_the_evaluation_command_scores_the_dev_split(tmp_path, monkeypatch):
    run_dir = tmp_path / "cell"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("data:\n  root: /data/lsui\n")
    calls = []

    def fake_run(cmd, **_):
        calls.append(cmd)
        out = run_dir / "dev-eval"
        out.mkdir()
        (out / "metrics.json").write_text(json.dumps(_metrics(17.0, 1.0)))

    monkeypatch.setattr(subprocess, "run", fake_run)
    split = tmp_path / "dev.json"
    R.evaluate_on_dev(run_dir, argparse.Namespace(dev_split=split), print)
    (cmd,) = calls
    assert cmd[cmd.index("--split") + 1] == str(split.resolve()) and cmd[cmd.index("--data") + 1] == "/data/lsui"
    assert cmd[cmd.index("evaluate") + 1] == str(run_dir / "model.pt")


def test_the_upsampler_table_puts_psnr_beside_the_checkerboard(tmp_path):
    cells = [
        _cell("crop128x1", 0, 18.0, 40.0),
        _cell("crop128x1", 1, 18.2, 60.0),
        _cell("crop128x1-resize", 0, 18.3, 2.0),
    ]
    for c in cells:
        path = R.cell_file(tmp_path, "tag", c["task"], c["recipe"], c["steps"], c["seed"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(c))
    text = R.render(tmp_path, "tag").read_text()
    assert "## crop and batch" not in text  # one side only (crop128x1): no comparison to show
    section = text.split("## up-sampler (transposed convolution vs resize-convolution): LSUI (underwater)")[1]
    assert "13 development validation pairs (input 14.00 dB)" in section
    rows = [line for line in section.splitlines() if line.startswith("| crop128x1")]
    assert (
        rows[-2].startswith("| crop128x1 | 3000 | 2 | step 3000 raw, step 3000 raw | 18.10 ± 0.10 |")
        and "50.00 ± 10.00" in rows[-2]
    )
    assert (
        rows[-1].startswith("| crop128x1-resize | 3000 | 1 | step 3000 raw | 18.30 (1 seed) |")
        and "2.00 (1 seed)" in rows[-1]
    )


def test_each_question_states_its_paired_answer_per_seed(tmp_path):
    """The verdict line pairs seeds (the second recipe minus the first at the last step both reached)
    and uses the budget study's rule: beyond 2 s.e. "loses to"/"beats", else "within"."""
    cells = [
        _cell("crop128x1", 0, 18.0, 40.0),
        _cell("crop128x1", 1, 18.2, 60.0),
        _cell("crop128x1", 2, 17.0, 60.0),  # no partner: not paired
        _cell("crop128x1-resize", 0, 17.5, 2.0),
        _cell("crop128x1-resize", 1, 17.6, 2.0),
    ]
    cells[3]["val"] = [{"step": 1500, "psnr_raw": 19.0, "psnr_ema": 19.0}, *cells[3]["val"]]
    cells[4]["val"][0]["psnr_ema"] = 18.4
    for c in cells:
        path = R.cell_file(tmp_path, "tag", c["task"], c["recipe"], c["steps"], c["seed"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(c))
    text = R.render(tmp_path, "tag").read_text()
    raw = next(line for line in text.splitlines() if line.startswith("- paired, raw"))
    ema = next(line for line in text.splitlines() if line.startswith("- paired, ema"))
    # raw: -0.5 and -0.6 -> mean -0.55, s.e. 0.05: beyond 2 s.e.
    assert raw == (
        "- paired, raw weights at step 3000: crop128x1-resize loses to crop128x1: -0.55 ± 0.05 dB (s.e., 2 seeds); "
        "per seed -0.50, -0.60"
    )
    # ema: -0.5 and +0.2 -> mean -0.15, s.e. 0.35: within
    assert "crop128x1-resize is within 2 s.e. of crop128x1: -0.15 ± 0.35 dB" in ema
