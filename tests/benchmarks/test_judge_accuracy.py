"""The judge-accuracy benchmark at toy size: every judge trains on development pairs only, the
records resume, and the verdict picks the judge with the best worst-task accuracy."""

from __future__ import annotations

import json

import pytest


def test_verdict_picks_the_best_worst_task_accuracy():
    from benchmarks.studies.judge_accuracy import summary, verdicts

    def rec(task, judge, acc, seed=0):
        return {"machine": "m", "task": task, "judge": judge, "seed": seed, "accuracy": acc, "accuracy_clear": acc}

    records = [
        rec("lol", "a", 1.0),
        rec("sots", "a", 0.90),  # a: best on lol, worst task 0.90
        rec("lol", "b", 0.98),
        rec("sots", "b", 0.96),
        rec("sots", "b", 0.98, seed=1),  # b: mean over seeds 0.97 on sots
        rec("lol", "c", 0.99),  # c: not measured on sots, not compared
    ]
    for r in records:
        r.update(accuracy_degraded=r["accuracy"], judged=8, steps=3, lr=1e-4, eval_crop=32, train_seconds=1.0)
    table = summary(records)
    assert table[("m", "sots", "b")]["accuracy"] == pytest.approx(0.97) and table[("m", "sots", "b")]["seeds"] == 2
    (line,) = verdicts(table)
    assert "**b** judges best (lowest task accuracy 0.970; a 0.900)" in line and "it meets the goal" in line
    assert "c " not in line


@pytest.mark.weights
def test_toy_judge_accuracy_run(tmp_path, provisioned_weights, monkeypatch):
    from benchmarks.studies import judge_accuracy

    monkeypatch.setenv("HADAMARD_RESTORE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "judge-accuracy.md"
    sets = ["classifier.batch_size=2", "classifier.crop=32", "search.crop=32", "classifier.eval_crops_per_image=1"]
    argv = ["--tasks", "demo", "--steps", "2", "--ledger", str(tmp_path / "cells"), "--work", str(tmp_path / "w")]
    argv += ["--machine-tag", "toy", "--out", str(out), "--head-lr", "1e-3", *[x for s in sets for x in ("--set", s)]]
    judge_accuracy.main(argv)
    held = json.loads((tmp_path / "cells" / "toy" / "demo" / "heldout.json").read_text())
    test_pairs = {e["degraded"] for e in held["val"]}
    records = json.loads(out.with_suffix(".json").read_text())["records"]
    assert {r["judge"] for r in records} == set(judge_accuracy.JUDGES) and all(r["task"] == "demo" for r in records)
    for r in records:
        assert r["steps"] == 2 and r["eval_crop"] == 32 and 0.0 <= r["accuracy"] <= 1.0 and r["train_seconds"] > 0
        assert r["lr"] == (1e-3 if r["judge"].endswith("-features") else 1e-4)
        assert r["init"] == ("scratch" if r["judge"] == "resnet18" else "imagenet")
        used = json.loads((tmp_path / "w" / "toy" / "demo" / f"{r['judge']}-s0" / "split.json").read_text())
        seen = {e["degraded"] for part in ("train", "val") for e in used[part]}
        assert seen and not seen & test_pairs, "a judge saw held-out test pairs"
        assert seen <= {e["degraded"] for e in held["train"]}  # only the training part of heldout.json
        assert r["val_pairs"] == len(used["val"]) and r["train_pairs"] == len(used["train"])
    text = out.read_text()
    assert "| demo | vgg16-features | toy |" in text and "## Verdict" in text and "judges best" in text
    stamp = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "judge-accuracy").glob("*.json")}
    judge_accuracy.main(argv)  # resumes: nothing is trained again
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "judge-accuracy").glob("*.json")} == stamp
