"""Budget curves: does the search pay off at several training budgets, with seeds? (issue 11)

Run from the repository root, alone on the machine, in the background; it continues where the
ledger stops, and ``--max-minutes`` makes it stop cleanly between cells::

    OMP_NUM_THREADS=1 PYTHONPATH=src nohup python -m benchmarks.studies.budget_curves --preset cpu --tasks lol \\
        --max-minutes 600 > runs/budget-curves.log 2>&1 &
    PYTHONPATH=src python -m benchmarks.studies.budget_curves --report-only      # re-render the tables

Per task: (1) the pinned held-out split (``heldout.json``; its validation part is the test set,
read only to score finished networks) and a development split of its training part
(``dev.json``: classifier, searches and training see only this); (2) the searches each entry
needs, once per search variant (:mod:`benchmarks.studies.budget_presets`); (3) the cells in order of
value: each entry trained from scratch for ``budget`` steps with a seed and scored at its final
weights on the held-out pairs. Every finished cell is a JSON in the ledger
(:mod:`benchmarks.studies.budget_ledger`); the report (:mod:`benchmarks.studies.budget_report`) is rewritten
after every cell.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

if __package__ in (None, ""):
    sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[2] / "src")]

from benchmarks.studies import budget_ledger as L
from benchmarks.studies.budget_presets import ENTRIES, PRESETS, SEARCH_VARIANTS, TASKS, order_cells

# search artifact in the work folder -> its copy in the ledger (what the cells train with)
ARTIFACTS = {
    "hier_loss": "loss_weights.json",
    "hier_genotype": "genotype.json",
    "hier_alpha": "alpha.json",  # the search's alpha.pt as JSON: no .pt files in the committed ledger
    "joint_loss": "joint_loss_weights.json",
    "joint_genotype": "joint_genotype.json",
}
NEEDS = {"joint": {"hier", "joint"}}


def base_config(task: str, overrides, split_file: Path | None = None):
    from hadamard_restore.config import load_config

    pin = [f"data.split_file={Path(split_file).resolve()}", "data.max_pairs=null"] if split_file else []
    return load_config(L.ROOT / TASKS[task], [*overrides, "seed=0", *pin])


def prepare_splits(task: str, preset, tdir: Path, extra) -> tuple[Path, list]:
    """``heldout.json`` and ``dev.json`` in the ledger (made once, verified after); returns
    ``(dev.json path, held-out test pairs)``."""
    from hadamard_restore.data.integrity import verify_split
    from hadamard_restore.data.split import Split, development_split, limit_split, make_split
    from hadamard_restore.data.task_data import dataset_pairs

    cfg = base_config(task, [*preset.train, *extra])
    root, layout, pairs = dataset_pairs(cfg.data, cfg.seed)
    held_path, dev_path = tdir / "heldout.json", tdir / "dev.json"
    if not held_path.is_file():
        split = make_split(pairs, cfg.data.val_ratio, 0, cfg.data.group_key, root=root, layout=layout)
        if preset.max_pairs is not None:
            split.train, split.val = limit_split(split, preset.max_pairs, 0)
        split.extra = {"note": f"held-out split of {task}: the validation part is the test set"}
        split.save(held_path)
    held = Split.load(held_path)
    verify_split(held, root)
    if not dev_path.is_file():
        development_split(held, "development split of the training part of heldout.json").save(dev_path)
    return dev_path, held.pairs(root)[1]


def ensure_search(task: str, variant: str, needed: set[str], scfg, work: Path, tdir: Path, log) -> dict:
    """The search artifacts of ``variant`` (run once, copied into the ledger); raises
    :class:`~hadamard_restore.errors.HadamardRestoreError` when the search failed (recorded)."""
    from hadamard_restore.artifacts import read_json, write_json
    from hadamard_restore.errors import HadamardRestoreError

    sdir = tdir / "searches" / variant
    if (sdir / "failed.json").is_file():
        raise HadamardRestoreError(read_json(sdir / "failed.json")["error"])
    wanted = {k for k in ARTIFACTS if k.split("_")[0] in needed}
    if not all((sdir / ARTIFACTS[k]).is_file() for k in wanted):
        from benchmarks.studies.quality import run_searches

        try:
            found = run_searches(scfg, work / task / variant, needed, log)
        except HadamardRestoreError as exc:
            write_json(sdir / "failed.json", {"error": str(exc), "variant": variant})
            raise
        sdir.mkdir(parents=True, exist_ok=True)
        for k in wanted:
            if k == "hier_alpha":
                from benchmarks.studies.quality_entries import alpha_json

                alpha_json(found[k], sdir / ARTIFACTS[k])
            else:
                shutil.copyfile(found[k], sdir / ARTIFACTS[k])
        hier = work / task / variant / "search-hier"
        for src in (
            hier / "loss" / "search_loss.json",
            hier / "classifier" / "classifier_metrics.json",
            work / task / variant / "searches.json",
        ):
            if src.is_file():
                shutil.copyfile(src, sdir / src.name)
    return {k: sdir / ARTIFACTS[k] for k in wanted}


def run_cell(task, budget, seed, entry, ccfg, found, test_pairs, meta: dict, path: Path, work: Path) -> dict:
    """Train and score one cell; write it to ``path`` (atomic)."""
    from benchmarks.studies.quality_entries import ENTRIES as QE
    from benchmarks.studies.quality_entries import train_and_score
    from hadamard_restore.artifacts import write_json
    from hadamard_restore.runtime.process import pick_device

    qentry = next(e for e in QE if e.key == entry.entry)
    cfg = ccfg.model_copy(deep=True)
    cfg.train.steps, cfg.train.val_every = budget, budget
    load_before, t0 = L.load_average(), time.time()
    run_dir = work / task / "runs" / f"{entry.key}-b{budget}-s{seed}"
    search_artifacts = {k: L.file_sha256(p) for k, p in sorted(found.items())}
    identity = {"entry": entry.key, "settings_key": meta["settings_key"], "search_artifacts": search_artifacts}
    resumed = continues_interrupted_cell(run_dir, {**identity, "config": cfg.model_dump(mode="json")})
    res = train_and_score(
        qentry, cfg, found, seed, run_dir, pick_device(cfg.device), test_pairs=test_pairs, resume=resumed
    )
    cell = {
        "task": task,
        "entry": entry.key,
        "label": entry.label,
        "search_variant": entry.variant,
        "budget": budget,
        "seed": seed,
        **meta,
        "wall_s": round(time.time() - t0, 1),
        "resumed": resumed,  # wall_s and train_s then count only this call's part
        "load_average": {"before": load_before, "after": L.load_average()},
        "search_artifacts": search_artifacts,
        **{
            k: res[k]
            for k in (
                "parameters",
                "loss_weights",
                "vgg_layers",
                "train_s",
                "eval_s",
                "held_out",
                "train_pairs",
                "weights",
                "validation_pairs",
                "validation_psnr",
                "mean",
                "per_image",
            )
        },
    }
    write_json(path, cell)
    shutil.rmtree(run_dir, ignore_errors=True)  # checkpoints are large; the cell is the result
    return cell


def continues_interrupted_cell(run_dir: Path, settings: dict) -> bool:
    """Whether ``run_dir`` holds an interrupted training of this very cell (its ``last.pt``, written
    under the same ``settings``), which the cell then continues (resuming is bitwise) instead of
    starting over. Records ``settings`` there for a later call either way (atomic)."""
    from hadamard_restore.artifacts import atomic_write_text

    marker = run_dir / "cell-settings.json"
    text = json.dumps(settings, sort_keys=True, indent=1, default=str) + "\n"
    same = (run_dir / "last.pt").is_file() and marker.is_file() and marker.read_text() == text
    if not same:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(marker, text)
    return same


def input_record(tdir: Path, test_pairs, lpips_net: str) -> dict:
    import torch

    from benchmarks.studies.quality_entries import score
    from hadamard_restore.artifacts import read_json, write_json

    path = tdir / "input.json"
    if not path.is_file():
        rows = score(None, test_pairs, torch.device("cpu"), lpips_net)
        write_json(
            path,
            {
                "mean": {k: sum(r[k] for r in rows) / len(rows) for k in ("psnr", "ssim", "lpips")},
                "held_out": len(rows),
                "per_image": rows,
            },
        )
    return read_json(path)


def run(args, log=print) -> int:
    """Fill the ledger; returns the number of cells finished by this call."""
    from hadamard_restore.errors import HadamardRestoreError

    preset, mach = PRESETS[args.preset], L.machine()
    tag = args.machine_tag or mach["tag"]
    mach["tag"] = tag
    entries = [e for e in ENTRIES if args.entries == "all" or e.key in args.entries.split(",")]
    budgets = [int(b) for b in args.budgets.split(",")] if args.budgets else preset.budgets
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else preset.seeds
    deadline = time.time() + 60 * args.max_minutes if args.max_minutes is not None else None
    done, commit, prepared = 0, L.code_commit(), {}
    shard, shards = args.shard
    cells = order_cells(args.tasks.split(","), budgets, seeds, entries)
    for index, (task, budget, seed, entry) in enumerate(cells):
        if index % shards != shard:  # another worker's cell (budget_gpu_job runs several at once)
            continue
        tdir = L.task_dir(args.ledger, tag, task)
        if task not in prepared:
            dev, test_pairs = prepare_splits(task, preset, tdir, args.train_set)
            ccfg = base_config(task, [*preset.train, *args.train_set], dev)
            settings = {
                "preset": preset.name,
                "train": [*preset.train, *args.train_set],
                "search": [*preset.search, *args.search_set],
                "heldout": L.file_sha256(tdir / "heldout.json"),
            }
            inp = input_record(tdir, test_pairs, ccfg.eval.lpips_net)["mean"]
            prepared[task] = (dev, test_pairs, ccfg, settings, L.settings_key(settings), inp)
        dev, test_pairs, ccfg, settings, key, inp = prepared[task]
        path = L.cell_path(args.ledger, tag, task, entry.key, budget, seed)
        if L.finished(path, key):
            continue
        if deadline is not None and time.time() >= deadline:
            log(f"--max-minutes {args.max_minutes} reached: stopping before {task}/{entry.key} b{budget} s{seed}")
            break
        scfg = base_config(task, [*preset.search, *SEARCH_VARIANTS[entry.variant], *args.search_set], dev)
        try:
            found = ensure_search(task, entry.variant, NEEDS.get(entry.key, {"hier"}), scfg, args.work / tag, tdir, log)
        except HadamardRestoreError as exc:
            log(f"[{task}] {entry.key}: its search ({entry.variant}) failed, cell skipped: {exc}")
            continue
        if args.searches_only:
            continue
        log(f"[{task}] {entry.key} budget {budget} seed {seed}: training")
        meta = {"machine": mach, "commit": commit, "settings": settings, "settings_key": key, "input_vs_reference": inp}
        cell = run_cell(task, budget, seed, entry, ccfg, found, test_pairs, meta, path, args.work / tag)
        log(
            f"[{task}] {entry.key} budget {budget} seed {seed}: PSNR {cell['mean']['psnr']:.2f} dB ({cell['wall_s']} s)"
        )
        done += 1
        report(args.ledger, tag)
    return done


def report(ledger: Path, tag: str) -> Path | None:
    from benchmarks.studies.budget_report import write_report

    return write_report(
        ledger, tag, L.ROOT / "benchmarks" / "results" / "studies" if ledger == L.DEFAULT_LEDGER else ledger
    )


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    p.add_argument("--tasks", default="lol", help=f"comma-separated, of {', '.join(TASKS)}")
    p.add_argument("--entries", default="all", help="comma-separated entry keys: " + ", ".join(e.key for e in ENTRIES))
    p.add_argument("--budgets", default=None, help="comma-separated training steps (default: the preset's)")
    p.add_argument("--seeds", default=None, help="comma-separated seeds (default: the preset's)")
    p.add_argument("--train-set", action="append", default=[], help="extra override of the training cells")
    p.add_argument("--search-set", action="append", default=[], help="extra override of the searches")
    p.add_argument("--ledger", type=Path, default=L.DEFAULT_LEDGER)
    p.add_argument("--work", type=Path, default=Path("runs") / "bench-budget", help="search checkpoints, runs")
    p.add_argument("--machine-tag", default=None, help="default: derived from the CPU model or GPU name")
    p.add_argument("--max-minutes", type=float, default=None, help="start no new cell after this many minutes")
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--searches-only", action="store_true", help="run the searches the cells need, train nothing")
    p.add_argument(
        "--shard", type=_shard, default=(0, 1), metavar="K/N", help="train only cells K, K+N, K+2N, ... (0-based)"
    )
    return p.parse_args(argv)


def _shard(text: str) -> tuple[int, int]:
    k, _, n = text.partition("/")
    if not (k.isdigit() and n.isdigit()) or not 0 <= int(k) < int(n):
        raise argparse.ArgumentTypeError(f"--shard {text!r}: expected K/N with 0 <= K < N, e.g. 0/4")
    return int(k), int(n)


def main(argv=None) -> int:
    args = parse(argv)
    stamp = lambda s: print(f"{datetime.now(timezone.utc):%H:%M:%S} {s}", flush=True)  # noqa: E731
    n = 0 if args.report_only else run(args, stamp)
    tags = [args.machine_tag] if args.machine_tag else L.machine_tags(args.ledger)
    for tag in tags:
        stamp(f"report: {report(args.ledger, tag)}")
    stamp(f"{n} cell(s) finished in this run")
    return n


if __name__ == "__main__":
    from hadamard_restore.runtime.log import configure_logging

    configure_logging()  # a script: its progress lines on stderr, as the CLI shows them
    main()
