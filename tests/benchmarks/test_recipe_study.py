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


def test_a_longer_run_gets_a_length_table_and_stays_out_of_the_questions(tmp_path):
    """A recipe run at two lengths: the question tables compare only cells of one length (a 10k-step
    cell's curve is not a 3k-step cell's, the cosine schedule spans each run), and a length table pairs
    each seed's longer run, at its own end, with its shorter one."""

    def cell(recipe: str, steps: int, seed: int, curve: dict[int, float]) -> dict:
        c = _cell(recipe, seed, curve[max(curve)], 1.0) | {"task": "lol", "steps": steps}
        return c | {"val": [{"step": s, "psnr_raw": v, "psnr_ema": v + 0.1} for s, v in curve.items()]}

    cells = [
        cell("crop128x1", 3000, 0, {1000: 18.0, 3000: 19.0}),
        cell("crop128x1", 3000, 1, {1000: 18.2, 3000: 19.2}),
        cell("crop128x1-equal", 3000, 0, {1000: 18.1, 3000: 19.1}),
        cell("crop128x1-equal", 3000, 1, {1000: 18.3, 3000: 19.1}),
        cell("crop128x1", 10000, 0, {1000: 17.0, 3000: 18.5, 10000: 19.6}),
        cell("crop128x1", 10000, 1, {1000: 17.5, 3000: 18.7, 10000: 19.7}),
    ]
    for c in cells:
        path = R.cell_file(tmp_path, "tag", c["task"], c["recipe"], c["steps"], c["seed"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(c))
    text = R.render(tmp_path, "tag").read_text()
    loss = text.split("## loss weights (searched β vs equal): LOL (low light)")[1].split("## ")[0]
    assert "step 10000" not in loss and "| crop128x1 (raw) | 2 | 18.10 ± 0.10 | 19.10 ± 0.10 |" in loss
    length = text.split("## length (crop128x1, the cosine schedule spans each length): LOL (low light)")[1]
    assert "| crop128x1, 3000 steps (raw) | 2 | 18.10 ± 0.10 | 19.10 ± 0.10 | — |" in length
    assert "| crop128x1, 10000 steps (raw) | 2 | 17.25 ± 0.25 | 18.60 ± 0.10 | 19.65 ± 0.05 |" in length
    raw = next(line for line in length.splitlines() if line.startswith("- paired, raw"))
    # per seed 19.6 - 19.0 and 19.7 - 19.2: +0.55 ± 0.05, beyond 2 s.e.
    assert raw == (
        "- paired, raw weights at step 10000 vs 3000: crop128x1, 10000 steps beats crop128x1, 3000 steps: "
        "+0.55 ± 0.05 dB (s.e., 2 seeds); per seed +0.60, +0.50"
    )
    assert "| crop128x1 | 3000 | 2 |" in length and "| crop128x1 | 10000 | 2 |" in length


def test_a_named_machine_tag_keeps_its_cells_apart(tmp_path, monkeypatch):
    """Two CPU generations sold as one model name ("AMD EPYC") share the derived tag; --machine-tag
    gives this machine's cells their own folder, and a finished cell there is not run again."""
    ran = []
    monkeypatch.setattr(R, "run_cell", lambda task, recipe, steps, seed, args, path, log: ran.append(path))
    monkeypatch.setattr(R, "render", lambda ledger, tag: None)
    args = R.parse(["--task", "lsui", "--recipes", "crop128x1-icnr", "--seeds", "0", "1", "--steps", "20"])
    args.ledger, args.machine_tag = tmp_path, "cpu-zen3-2core"
    done = R.cell_file(tmp_path, "cpu-zen3-2core", "lsui", "crop128x1-icnr", 20, 0)
    done.parent.mkdir(parents=True)
    done.write_text("{}")
    assert R.run(args, log=lambda _: None) == 0
    assert ran == [R.cell_file(tmp_path, "cpu-zen3-2core", "lsui", "crop128x1-icnr", 20, 1)]
