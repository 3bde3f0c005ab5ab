"""benchmarks.studies.recipe_study: a cell's dev evaluation is read from evaluate's metrics.json
(the held-out split is never passed), and a named machine tag keeps its cells in their own folder."""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import pytest

from benchmarks.studies import recipe_report as RR
from benchmarks.studies import recipe_study as R
from benchmarks.studies.budget_ledger import ROOT


def _metrics(psnr: float, peak: float) -> dict:
    appearance = {k: 1.0 for k in RR.APPEARANCE} | {"grid_peak_ratio": peak, "count": 13}
    return {
        "count": 13,
        "mean": {"psnr": psnr, "ssim": 0.8},
        "input_mean": {"psnr": 14.0},
        "appearance": appearance,
    }


def test_dev_evaluation_is_read_from_an_existing_metrics_file(tmp_path, monkeypatch):
    run_dir = tmp_path / "cell"
    (run_dir / "dev-eval").mkdir(parents=True)
    (run_dir / "dev-eval" / "metrics.json").write_text(json.dumps(_metrics(18.5, 3.25)))
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("a finished evaluation is not rerun"))
    got = R.evaluate_on_dev(run_dir, argparse.Namespace(dev_split=tmp_path / "dev.json"), print)
    assert got["psnr"] == 18.5 and got["input_psnr"] == 14.0 and got["count"] == 13
    assert got["appearance"]["grid_peak_ratio"] == 3.25 and set(got["appearance"]) == set(RR.APPEARANCE)


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


def test_a_larger_crop_trains_fewer_steps_for_the_same_pixels(tmp_path):
    """crop192x1 sees (192/128)^2 = 2.25 times the pixels of crop128x1 per step, so a 3000-step budget
    trains it round(3000 * 4/9) = 1333 steps; the 128 px recipe trains the budget itself."""
    args = R.parse(["--steps", "3000"])
    args.work = tmp_path

    def sets(key: str) -> list[str]:
        cmd = R.train_command("lol", R.BY_KEY[key], 3000, 0, args, tmp_path / key, resume=False)
        return [cmd[i + 1] for i, x in enumerate(cmd) if x == "--set"]

    big, small = sets("crop192x1"), sets("crop128x1")
    assert "train.steps=1333" in big and "train.crop=192" in big and "train.batch_size=1" in big
    assert "train.steps=3000" in small and "train.crop=128" in small
    assert 1333 * 192**2 == pytest.approx(3000 * 128**2, rel=1e-3)


def test_a_recipe_without_terms_trains_the_bundled_weights_with_those_terms_at_zero(tmp_path):
    """crop128x1-pixel passes a derived loss_weights.json: paper-lol's β with VGG and LPIPS at 0 and
    every other weight (and the VGG layer choice) unchanged; crop128x1 passes the bundled name."""
    from hadamard_restore.losses.loss_weights import load_loss_weights

    args = R.parse(["--steps", "20"])

    def weights_arg(key: str) -> str:
        cmd = R.train_command("lol", R.BY_KEY[key], 20, 0, args, tmp_path / key / "b20-s0", resume=False)
        return cmd[cmd.index("--loss-weights") + 1]

    assert weights_arg("crop128x1") == "paper-lol"
    derived, bundled = load_loss_weights(weights_arg("crop128x1-pixel")), load_loss_weights("paper-lol")
    assert derived.weights["vgg"] == 0 and derived.weights["lpips"] == 0
    assert bundled.weights["vgg"] > 0 and bundled.weights["lpips"] > 0
    kept = [n for n in bundled.weights if n not in ("vgg", "lpips")]
    assert {n: derived.weights[n] for n in kept} == {n: bundled.weights[n] for n in kept}
    assert derived.name == "paper-lol without vgg, lpips" and derived.vgg_layers == bundled.vgg_layers


def test_the_tv_laplacian_question_trains_one_searched_file_with_both_at_zero_and_as_found(tmp_path):
    """crop128x1-searched-tvlap passes the committed search file itself (found from any working
    directory), crop128x1-searched the same weights with TV and Laplacian at 0 (the rest unchanged),
    and the two recipes differ in nothing else: one question of the report."""
    from hadamard_restore.losses.loss_weights import load_loss_weights

    args = R.parse(["--steps", "20"])

    def weights_arg(key: str) -> str:
        cmd = R.train_command("lol", R.BY_KEY[key], 20, 0, args, tmp_path / key / "b20-s0", resume=False)
        return cmd[cmd.index("--loss-weights") + 1]

    as_found = Path(weights_arg("crop128x1-searched-tvlap"))
    assert as_found.is_absolute() and as_found == ROOT / R.SEARCHED_LOL
    searched, dropped = load_loss_weights(as_found), load_loss_weights(weights_arg("crop128x1-searched"))
    assert searched.weights["tv"] > 0.1 and searched.weights["laplacian"] > 0.1  # the question is not empty
    assert dropped.weights == {n: (0.0 if n in ("tv", "laplacian") else w) for n, w in searched.weights.items()}
    a, b = R.BY_KEY["crop128x1-searched"], R.BY_KEY["crop128x1-searched-tvlap"]
    assert a.sets == b.sets and a.loss_weights == b.loss_weights
    assert ("crop128x1-searched", "crop128x1-searched-tvlap") in RR.QUESTIONS.values()
