"""The budget-curve benchmark at toy size: one cell, resume, the time limit, the ledger's refusals
and the report's statistics (closed forms)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

TOY = ["net.channels=4", "train.crop=16", "train.batch_size=1", "train.warmup_steps=0", "train.lr=1e-3"]


def test_verdict_and_paired_seed_differences_closed_form():
    from benchmarks.studies.budget_report import seed_differences, verdict

    def cells(offsets):  # seed -> cell with two images
        return {
            s: {"per_image": [{"name": "a", "psnr": 20 + o}, {"name": "b", "psnr": 22 + o}]}
            for s, o in enumerate(offsets)
        }

    d = seed_differences(cells([1.0, 2.0, 3.0]), cells([0.0, 0.0, 0.0]))
    assert d == [1.0, 2.0, 3.0]
    mean, se, word = verdict(d)
    assert mean == 2.0 and se == pytest.approx(1 / math.sqrt(3)) and word == "beats"
    assert verdict([-1.0, -1.2, -0.8])[2] == "loses to"
    assert verdict([1.0, -1.0, 0.5])[2] == "is within 2 s.e. of"
    assert verdict([0.3])[2] == "is ahead of" and math.isnan(verdict([0.3])[1]) and verdict([-0.3])[2] == "is behind"
    # only common seeds are paired
    assert seed_differences(cells([1.0, 5.0]), {0: cells([0.0])[0]}) == [1.0]


def test_the_development_validation_look_pairs_seeds_that_recorded_it():
    """validation_differences: per seed, a − b of validation_psnr, only where both cells recorded it;
    the comparison table shows its mean ± s.e. beside the held-out Δ, and n/a without it."""
    from benchmarks.studies.budget_report import budget_table, comparisons, validation_differences

    def cells(held, dev):
        return {
            s: {
                "per_image": [{"name": "a", "psnr": 20 + h}],
                "validation_psnr": v,
                "wall_s": 1.0,
                "mean": {"psnr": 20 + h, "ssim": 0.8, "lpips": 0.2},
            }
            for s, (h, v) in enumerate(zip(held, dev, strict=True))
        }

    a, b = cells([1.0, 1.0, 1.0], [19.5, 19.6, 19.9]), cells([0.0, 0.0, 0.0], [19.0, 19.2, 19.0])
    assert validation_differences(a, b) == pytest.approx([0.5, 0.4, 0.9])
    b[2]["validation_psnr"] = None  # an older cell
    assert validation_differences(a, b) == pytest.approx([0.5, 0.4])
    table, _ = comparisons({"searched-global": a, "all-3c": b})
    assert "| beats | +0.45 ± 0.05 (2) |" in table
    assert "| 19.67 ± 0.21 |" in budget_table({"searched-global": a})
    assert "| n/a |" in budget_table({"all-3c": b})
    for c in b.values():
        del c["validation_psnr"]
    assert validation_differences(a, b) == []
    assert "| beats | n/a |" in comparisons({"searched-global": a, "all-3c": b})[0]


def test_two_machines_pair_the_entries_both_ran_and_label_the_mixed_pairs():
    """machine_lines: the entry both machines ran gives this − other per seed (closed form, same
    settings only); a searched entry here against a baseline only there is a mixed row, labelled
    with each side's machine; a pair both of whose sides ran here is left to this machine's table."""
    from benchmarks.studies.budget_report import machine_lines

    def cells(offsets, key="k1"):
        return {
            s: {"settings_key": key, "per_image": [{"name": "a", "psnr": 20 + o}, {"name": "b", "psnr": 21 + o}]}
            for s, o in enumerate(offsets)
        }

    mine = {"all-3c": cells([0.5, 0.1, 0.3]), "searched-global": cells([1.0, 1.0, 1.0])}
    theirs = {"all-3c": cells([0.0, 0.0, 0.0]), "searched": cells([0.2, 0.2, 0.2]), "all-1c": cells([0.0, 0.0])}
    theirs["all-3c"][2]["settings_key"] = "k2"  # another recipe: never paired
    text = "\n".join(machine_lines(mine, theirs, "zen3", "zen4"))
    assert "| all 3-C + searched loss | 2 | +0.30 | 0.20 | is within 2 s.e. of | +0.50, +0.10 |" in text
    assert "| searched-global (zen3) | searched (zen4) | 3 | +0.80 | 0.00 | beats |" in text
    assert "| searched (zen4) | all-3c (zen3) | 3 | -0.10 | 0.12 | is within 2 s.e. of |" in text
    assert "| searched-global (zen3) | all-1c (zen4) | 2 | +1.00 | 0.00 | beats |" in text
    assert "searched-global (zen3) | all-3c" not in text  # both ran here
    assert machine_lines({"all-3c": cells([0.1])}, {"equal": cells([0.0], key="k2")}, "a", "b") == []
    assert "Searched separately" not in text


def test_an_entry_each_machine_searched_itself_is_not_one_entry_on_two_machines():
    """A searched entry whose search artifacts differ between the machines trained another network on
    each: its seeds are left out of the machines' agreement table (only those with the same artifacts
    pair), and the report names it instead of calling the gap the machines' disagreement."""
    from benchmarks.studies.budget_report import machine_lines

    def cells(offsets, genotype):
        return {
            s: {
                "settings_key": "k1",
                "search_artifacts": {"hier_genotype": genotype},
                "per_image": [{"name": "a", "psnr": 20 + o}],
            }
            for s, o in enumerate(offsets)
        }

    mine, theirs = cells([0.5, 0.1], "g-zen3"), cells([0.0, 0.0], "g-zen4")
    theirs[1]["search_artifacts"] = {"hier_genotype": "g-zen3"}  # seed 1: the same search copied over
    text = "\n".join(machine_lines({"searched-global": mine}, {"searched-global": theirs}, "zen3", "zen4"))
    label = "searched in the global space (+ globalres_1x1; paper's stage 1)"
    assert f"| {label} | 1 | +0.10 | n/a | is ahead of | +0.10 |" in text
    assert f"another network; not compared as one entry): {label}." in text
    theirs[1]["search_artifacts"] = {"hier_genotype": "g-zen4"}
    text = "\n".join(machine_lines({"searched-global": mine}, {"searched-global": theirs}, "zen3", "zen4"))
    assert "| 2 |" not in text and "| 1 |" not in text and "Searched separately" in text


def test_cells_are_filled_in_order_of_value():
    from benchmarks.studies.budget_presets import ENTRIES, order_cells

    order = order_cells(["lol"], [1000, 250], [0, 1], ENTRIES)
    assert order[0][:3] == ("lol", 250, 0) and order[0][3].key == "searched"
    assert [e.key for _, b, s, e in order[:5]] == ["searched", "searched-best", "all-1c", "all-3c", "equal"]
    tier1_250 = [(s, e.key) for _, b, s, e in order if b == 250][:10]
    assert {k for _, k in tier1_250} == {"searched", "searched-best", "all-1c", "all-3c", "equal"}
    assert all(b == 250 for _, b, _, _ in order[: len(ENTRIES) * 2])


def _seed_search(sdir: Path) -> None:
    from hadamard_restore.losses.loss_weights import LOSS_NAMES, LossWeights
    from hadamard_restore.net.genotype import load_genotype

    sdir.mkdir(parents=True)
    LossWeights({n: {"l1": 1.0, "ssim": 0.1}.get(n, 0.0) for n in LOSS_NAMES}, name="toy").save(
        sdir / "loss_weights.json"
    )
    load_genotype("all-3c").save(sdir / "genotype.json")
    (sdir / "alpha.json").write_text('{"format": "alpha-logits", "dtype": "float32", "groups": {}}')


@pytest.mark.weights
def test_one_toy_cell_resumes_stops_and_reports(tmp_path, provisioned_weights, monkeypatch):
    from benchmarks.studies import budget_curves
    from benchmarks.studies.budget_ledger import LedgerError, load_cells

    monkeypatch.setenv("HADAMARD_RESTORE_CACHE", str(tmp_path / "cache"))
    ledger, tag = tmp_path / "cells", "toy-machine"
    _seed_search(ledger / tag / "demo" / "searches" / "paper")  # a finished search: nothing to search
    args = [
        "--tasks",
        "demo",
        "--entries",
        "searched,all-1c",
        "--budgets",
        "2",
        "--seeds",
        "0",
        "--ledger",
        str(ledger),
        "--work",
        str(tmp_path / "w"),
        "--machine-tag",
        tag,
        *[x for s in TOY for x in ("--train-set", s)],
    ]
    assert budget_curves.main(args) == 2
    tdir = ledger / tag / "demo"
    held = json.loads((tdir / "heldout.json").read_text())
    dev = json.loads((tdir / "dev.json").read_text())
    test_names = {e["degraded"] for e in held["val"]}
    assert not test_names & {e["degraded"] for e in dev["train"] + dev["val"]}, "test pairs leak into dev"
    cell = json.loads((tdir / "searched" / "b2-s0.json").read_text())
    assert cell["machine"]["tag"] == tag and cell["commit"] and cell["budget"] == 2 and cell["seed"] == 0
    assert {r["name"] for r in cell["per_image"]} == {Path(n).name for n in test_names}
    assert cell["wall_s"] > 0 and "before" in cell["load_average"] and cell["search_artifacts"]
    inp = json.loads((tdir / "input.json").read_text())
    assert inp["held_out"] == len(test_names) and cell["input_vs_reference"] == inp["mean"]
    report = (ledger / f"budget-curves-{tag}.md").read_text()
    assert "searched is ahead of all-1c: +" in report or "searched is behind all-1c: -" in report
    assert "- search `paper` (projected β, upper classifier): β = l1 1.00, l2 0.00" in report
    assert "(one seed, no s.e.)" in report and (ledger / f"budget-curves-{tag}.png").stat().st_size > 1000

    stamps = {p: p.stat().st_mtime_ns for p in tdir.glob("*/b*.json")}
    assert budget_curves.main(args + ["--seeds", "0,1", "--max-minutes", "0"]) == 0  # stops before seed 1
    assert budget_curves.main(args) == 0  # all done already
    assert {p: p.stat().st_mtime_ns for p in tdir.glob("*/b*.json")} == stamps

    failed = tdir / "searches" / "best" / "failed.json"
    failed.parent.mkdir()
    failed.write_text(json.dumps({"error": "the loss search collapsed: toy"}))
    assert budget_curves.main(args + ["--entries", "searched-best"]) == 0  # skipped, recorded
    assert (
        "search `best` **failed**: the loss search collapsed: toy" in (ledger / f"budget-curves-{tag}.md").read_text()
    )

    with pytest.raises(LedgerError, match="other settings"):
        budget_curves.main(args + ["--train-set", "train.lr=5e-4"])
    foreign = tdir / "all-1c" / "b2-s9.json"
    shutil.copyfile(tdir / "all-1c" / "b2-s0.json", foreign)
    data = json.loads(foreign.read_text())
    data["machine"]["tag"] = "gpu-other"
    foreign.write_text(json.dumps(data))
    with pytest.raises(LedgerError, match="never mixed"):
        load_cells(ledger, tag)


def test_ledger_keeps_alpha_as_json_exactly(tmp_path):
    import torch

    from benchmarks.studies.quality_entries import alpha_json, load_alpha

    alpha = {"enc": torch.randn(9, 4), "hnu1": torch.randn(8, 9) * 1e-7}
    torch.save(alpha, tmp_path / "alpha.pt")
    alpha_json(tmp_path / "alpha.pt", tmp_path / "alpha.json")
    back = load_alpha(tmp_path / "alpha.json")
    assert back.keys() == alpha.keys() and all(torch.equal(back[g], alpha[g]) for g in alpha)


@pytest.mark.weights
def test_cell_scores_model_pt_the_better_of_raw_and_average(tmp_path, provisioned_weights, monkeypatch):
    """With train.ema_decay the end-of-run validation (on development pairs, never the scored ones)
    picks the raw weights or their average; the cell scores exactly what model.pt holds."""
    import torch

    from benchmarks.studies.budget_curves import base_config
    from benchmarks.studies.quality_entries import ENTRIES, build_model, score, train_and_score
    from hadamard_restore.data.task_data import load_pairs
    from hadamard_restore.net.model_file import load_state_into, read_model_file

    monkeypatch.setenv("HADAMARD_RESTORE_CACHE", str(tmp_path / "cache"))
    _seed_search(tmp_path / "search")
    found = {
        "hier_loss": tmp_path / "search" / "loss_weights.json",
        "hier_genotype": tmp_path / "search" / "genotype.json",
    }
    cfg = base_config("demo", [*TOY, "train.lr=5e-2", "train.steps=8", "train.ema_decay=0.5", "train.val_max_images=2"])
    _, val_pairs = load_pairs(cfg.data, cfg.seed)
    test_pairs = val_pairs[-1:]  # stands in for the held-out pairs
    entry = next(e for e in ENTRIES if e.key == "all-1c")
    cpu = torch.device("cpu")
    res = train_and_score(entry, cfg, found, 0, tmp_path / "run", cpu, test_pairs=test_pairs)

    assert res["validation_pairs"] == min(2, len(val_pairs))
    val = json.loads((tmp_path / "run" / "history.json").read_text())["val"][-1]
    assert {"psnr_raw", "psnr_ema"} <= val.keys()
    assert res["weights"] == ("ema" if val["psnr_ema"] > val["psnr_raw"] else "raw")
    assert res["validation_psnr"] == max(val["psnr_ema"], val["psnr_raw"])  # the chosen weights' dev-val PSNR
    saved = read_model_file(tmp_path / "run" / "model.pt")
    assert saved["meta"]["weights"] == res["weights"]
    last = read_model_file(tmp_path / "run" / "last.pt")  # raw weights + their average
    other = last["training"]["ema"] if res["weights"] == "raw" else last["state_dict"]

    def psnr_of(state_dict) -> float:
        fresh = build_model(entry, cfg, found, 0)
        load_state_into(fresh, state_dict)
        return score(fresh, test_pairs, cpu, cfg.eval.lpips_net)[0]["psnr"]

    scored = res["per_image"][0]["psnr"]
    assert psnr_of(saved["state_dict"]) == pytest.approx(scored, abs=1e-4)  # channels-last rounding only
    assert abs(psnr_of(other) - scored) > 1e-3  # the other weights would have scored differently


@pytest.mark.weights
def test_an_interrupted_cell_continues_bitwise_a_changed_one_starts_over(tmp_path, provisioned_weights, monkeypatch):
    """A cell killed mid-training continues from its last.pt on the next call (not from step 0), and
    scores exactly what an uninterrupted cell scores; a run folder left by other settings is not
    continued."""
    from benchmarks.studies import budget_curves
    from hadamard_restore.training import trainer

    monkeypatch.setenv("HADAMARD_RESTORE_CACHE", str(tmp_path / "cache"))
    real_fit = trainer.fit

    def run(name: str, extra: list[str], stop_at: int | None = None) -> dict:
        ledger, tag = tmp_path / name, "toy-machine"
        if not ledger.exists():
            _seed_search(ledger / tag / "demo" / "searches" / "paper")
        if stop_at is not None:

            def interrupted(*a, **k):
                def stop(step):
                    if step == stop_at:
                        raise KeyboardInterrupt

                return real_fit(*a, on_step=stop, **k)

            monkeypatch.setattr(trainer, "fit", interrupted)
            with pytest.raises(KeyboardInterrupt):
                budget_curves.main(argv(ledger, tag, extra))
            monkeypatch.setattr(trainer, "fit", real_fit)
            return {}
        assert budget_curves.main(argv(ledger, tag, extra)) == 1
        return json.loads((ledger / tag / "demo" / "all-1c" / "b6-s0.json").read_text())

    def argv(ledger, tag, extra):
        sets = [*TOY, "train.checkpoint_every=2", *extra]
        return [
            *("--tasks", "demo", "--entries", "all-1c", "--budgets", "6", "--seeds", "0"),
            *("--ledger", str(ledger), "--work", str(tmp_path / "w" / ledger.name), "--machine-tag", tag),
            *[x for s in sets for x in ("--train-set", s)],
        ]

    whole = run("whole", [])
    run("cut", [], stop_at=5)  # killed after step 5; last.pt holds step 4
    run_dir = tmp_path / "w" / "cut" / "toy-machine" / "demo" / "runs" / "all-1c-b6-s0"
    assert (run_dir / "last.pt").is_file() and (run_dir / "cell-settings.json").is_file()
    resumed = run("cut", [])
    assert resumed["resumed"] is True and whole["resumed"] is False
    assert resumed["per_image"] == whole["per_image"]  # bitwise: the same PSNR to the last digit
    assert not run_dir.exists()  # the finished cell's folder is cleared as before

    run("other", [], stop_at=5)
    other_dir = tmp_path / "w" / "other" / "toy-machine" / "demo" / "runs" / "all-1c-b6-s0"
    assert (other_dir / "last.pt").is_file()
    changed = run("other", ["train.lr=5e-4"])  # other settings: the old state is not continued
    assert changed["resumed"] is False and changed["per_image"] != whole["per_image"]


def test_the_cell_commit_is_dirty_for_code_changes_not_for_the_studies_own_reports(tmp_path):
    """A study run writes its report under benchmarks/results; the next cell of the same clone must
    still record a clean commit, while a change to tracked code marks it ``+dirty``."""
    import shutil
    import subprocess

    from benchmarks.studies.budget_ledger import code_commit

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    report = tmp_path / "benchmarks" / "results" / "studies" / "report.md"
    report.parent.mkdir(parents=True)
    report.write_text("old\n")
    (tmp_path / "code.py").write_text("x = 1\n")

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert code_commit(tmp_path) == head
    report.write_text("new\n")
    assert code_commit(tmp_path) == head
    (tmp_path / "code.py").write_text("x = 2\n")
    assert code_commit(tmp_path) == head + "+dirty"
