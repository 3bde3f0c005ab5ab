"""The GPU preset of the budget study: searches once, then several workers share the cells (each with
its share of the CPU threads) and the ledger lands in $OUT; here as its CPU dry run on demo data."""

from __future__ import annotations

import argparse
import json

import pytest


def test_shards_split_the_cells_between_workers_and_nonsense_is_refused():
    from benchmarks.studies.budget_curves import _shard

    assert _shard("1/4") == (1, 4)
    for bad in ("4/4", "-1/2", "a/b", "3"):
        with pytest.raises(argparse.ArgumentTypeError, match="K/N"):
            _shard(bad)


@pytest.mark.slow
@pytest.mark.weights
def test_dry_run_fills_every_cell_once_with_two_workers(tmp_path, provisioned_weights, monkeypatch):
    from benchmarks.studies import budget_gpu_job

    monkeypatch.setenv("OUT", str(tmp_path / "out"))
    argv = ["--task", "demo", "--workers", "2", "--dry-run", "--work", str(tmp_path / "work"), "--machine-tag", "toy"]
    argv += ["--", "--budgets", "2", "--seeds", "0,1", "--entries", "searched,all-1c"]
    assert budget_gpu_job.main(argv) == 0
    ledger = tmp_path / "out" / "cells"
    job = json.loads((ledger / "job.json").read_text())
    assert job["exit_codes"] == [0, 0] and job["workers"] == 2
    assert job["cells"] == [f"toy/demo/{e}/b2-s{s}.json" for e in ("all-1c", "searched") for s in (0, 1)]
    logs = [(tmp_path / "work" / f"worker-{k}.log").read_text() for k in (0, 1)]
    trained = [log.count(": training") for log in logs]
    assert trained == [2, 2]  # each worker trained its own half, none twice
    searched_at = (ledger / "toy" / "demo" / "searches" / "paper" / "genotype.json").stat().st_mtime
    assert searched_at < min((ledger / c).stat().st_mtime for c in job["cells"])  # searches ran first, once
    assert (ledger / "budget-curves-toy.md").is_file()
