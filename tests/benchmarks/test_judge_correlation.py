"""The judge-correlation report: Spearman's ρ against closed forms and scipy, and a toy run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest


def test_spearman_closed_forms_and_scipy():
    from benchmarks.studies.judge_stats import ranks, spearman

    assert ranks([3.0, 1.0, 2.0, 2.0]) == [4.0, 1.0, 2.5, 2.5]
    x = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert spearman(x, [v**3 for v in x]) == pytest.approx(1.0)  # any increasing map
    assert spearman(x, [-math.exp(v) for v in x]) == pytest.approx(-1.0)
    # no ties: 1 - 6 Σd² / (n(n²-1)); ranks of y are 2,1,4,3,5 -> Σd² = 4 -> 1 - 24/120 = 0.8
    assert spearman(x, [0.2, 0.1, 0.4, 0.3, 0.5]) == pytest.approx(0.8)
    assert math.isnan(spearman([1.0, 2.0], [1.0, 2.0])) and math.isnan(spearman(x, [1.0] * 5))
    stats = pytest.importorskip("scipy.stats")
    a = [0.3, 0.1, 0.1, 0.9, 0.5, 0.5, 0.7]
    b = [1.0, 3.0, 2.0, 2.0, 5.0, 4.0, 4.0]
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic)


def test_judgement_and_windows():
    from benchmarks.studies.judge_correlation import window_starts
    from benchmarks.studies.judge_stats import judgement

    assert (
        window_starts(100, 32) == [0, 23, 45, 68] and window_starts(20, 32) == [0] and window_starts(64, 32) == [0, 32]
    )
    good = {"rho_psnr_sets": 0.8, "rho_lpips_sets": -0.7}
    assert "**tracks**" in judgement(good)
    assert "does not track" in judgement({"rho_psnr_sets": 0.1, "rho_lpips_sets": -0.2})
    assert "prefers worse" in judgement({"rho_psnr_sets": -0.6, "rho_lpips_sets": 0.5})
    assert "only weakly" in judgement({"rho_psnr_sets": 0.4, "rho_lpips_sets": -0.4})


@pytest.mark.weights
def test_toy_judge_correlation_run(tmp_path, provisioned_weights, monkeypatch):
    from benchmarks.studies import judge_correlation

    monkeypatch.setenv("HADAMARD_RESTORE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "judge-correlation.md"
    sets = ["net.channels=4", "train.crop=16", "train.batch_size=1", "train.warmup_steps=0"]
    ssets = [
        "classifier.steps=2",
        "classifier.batch_size=2",
        "classifier.crop=16",
        "classifier.pretrained=false",
        "search.crop=16",
    ]
    judge_correlation.main(
        [
            "--tasks",
            "demo",
            "--genotypes",
            "all-1c",
            "--loss",
            "l1",
            "--snapshots",
            "0,1,3",
            "--max-images",
            "4",
            "--ledger",
            str(tmp_path / "cells"),
            "--work",
            str(tmp_path / "w"),
            "--machine-tag",
            "toy",
            "--out",
            str(out),
            *[x for s in sets for x in ("--train-set", s)],
            *[x for s in ssets for x in ("--search-set", s)],
        ]
    )
    rec = json.loads((tmp_path / "judge-correlation" / "toy-demo.json").read_text())
    sources = {(r["source"], r["step"]) for r in rec["rows"]}
    assert sources == {("input", 0), ("all-1c", 0), ("all-1c", 1), ("all-1c", 3)}
    n = len({r["name"] for r in rec["rows"]})
    assert 1 <= n <= 4 and len(rec["rows"]) == 4 * n and all(0.0 <= r["clear"] <= 1.0 for r in rec["rows"])
    assert rec["crop"] == 16 and rec["classifier"]["checkpoint"]
    held = {
        e["degraded"] for e in json.loads((tmp_path / "cells" / "toy" / "demo" / "heldout.json").read_text())["val"]
    }
    assert not {r["name"] for r in rec["rows"]} & {Path(n).name for n in held}, "judged on held-out test pairs"
    text = out.read_text()
    assert "indicative at best" in text  # 4 output sets are too few
    assert ("**no clearer**" in text) == (rec["reference_clear"] <= rec["input_clear"])
    assert "| demo | toy |" in text and "## demo (toy)" in text and "input@0" in text and "all-1c@3" in text
