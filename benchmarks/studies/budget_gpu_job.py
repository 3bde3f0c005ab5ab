"""Many budget-curve cells in one GPU job (issue 24): the searches once, then N training workers at once.

On the GPU machine, from the repository root, with a pack of tools/device_pack.py carried along
(its wheels installed and weights unpacked as tools/device_train.sh does)::

    python -m benchmarks.studies.budget_gpu_job --pack .device_pack/low-light --task lol --workers 4 \\
        --max-minutes 8 -- --budgets 3000 --seeds 0,1,2 --entries searched,searched-ref,all-1c,all-3c,equal

Everything after ``--`` goes to :mod:`benchmarks.studies.budget_curves` (budgets, seeds, entries,
``--train-set`` overrides). The cells train on the pack's data with the pack's held-out and
development splits (the bundled model's pinned pairs), so cells from several jobs line up.

1. one process runs every search the listed cells need (``--searches-only``);
2. ``--workers`` processes train the cells, worker k taking cells k, k+N, ... (``--shard k/N``),
   each limited to its share of the CPU threads (``HADAMARD_RESTORE_CPU_THREADS``; three
   trainings with all 16 threads each ran 22x slower per step than one alone), and none starting
   a cell after ``--max-minutes``;
3. the report is rendered once all workers are done.

The ledger (``cells/<machine>/<task>/...``, one JSON per cell) and the report go to ``$OUT``
(else ``--out``). ``--dry-run`` does the same on the CPU with the built-in demo data at toy sizes
(the test suite runs it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[2] / "src")]

from benchmarks.studies import budget_ledger as L

TOY_TRAIN = ("net.channels=4", "train.crop=32", "train.batch_size=1", "train.warmup_steps=0", "train.lr=1e-3")
TOY_SEARCH: tuple[str, ...] = (
    "net.channels=4",
    "net.num_hnu=1",
    "search.crop=32",
    "search.loss_steps=2",
    "search.arch_steps=2",
)
TOY_SEARCH += ("classifier.steps=2", "classifier.crop=32", "search.checkpoint_every=2")


def budget_argv(args, extra: list[str]) -> list[str]:
    argv = [sys.executable, "-m", "benchmarks.studies.budget_curves", "--preset", args.preset, "--tasks", args.task]
    argv += ["--ledger", str(args.ledger), "--work", str(args.work)]
    if args.machine_tag:
        argv += ["--machine-tag", args.machine_tag]
    sets = []
    if args.pack is not None:
        sets.append(f"data.root={args.pack.resolve() / 'data'}")
    if args.dry_run:
        sets += ["device=cpu"]
    for s in sets + list(TOY_TRAIN if args.dry_run else ()):
        argv += ["--train-set", s]
    for s in sets + list(TOY_SEARCH if args.dry_run else ()):
        argv += ["--search-set", s]
    return argv + extra


def seed_splits(args) -> None:
    """Start the ledger from the pack's held-out and development splits (the bundled model's pairs)."""
    if args.pack is None:
        return
    tag = args.machine_tag or L.machine()["tag"]
    tdir = L.task_dir(args.ledger, tag, args.task)
    tdir.mkdir(parents=True, exist_ok=True)
    for name in ("heldout.json", "dev.json"):
        if not (tdir / name).is_file():
            shutil.copyfile(args.pack / name, tdir / name)


def run(args) -> int:
    t0, env = time.time(), {**os.environ, "PYTHONPATH": f"{L.ROOT / 'src'}{os.pathsep}{L.ROOT}"}
    seed_splits(args)
    search = subprocess.run(budget_argv(args, [*args.rest, "--searches-only"]), env=env, cwd=L.ROOT)
    if search.returncode != 0:
        print("the searches failed; no cell was trained", flush=True)
        return 1
    left = max(0.0, args.max_minutes - (time.time() - t0) / 60)
    threads = max(1, (os.cpu_count() or 1) // args.workers)
    procs = []
    for k in range(args.workers):
        argv = budget_argv(args, [*args.rest, "--shard", f"{k}/{args.workers}", "--max-minutes", f"{left:.2f}"])
        log = open(args.work / f"worker-{k}.log", "w")  # noqa: SIM115 - closed below
        wenv = {**env, "HADAMARD_RESTORE_CPU_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
        procs.append((subprocess.Popen(argv, env=wenv, cwd=L.ROOT, stdout=log, stderr=subprocess.STDOUT), log))
    codes = []
    for proc, log in procs:
        codes.append(proc.wait())
        log.close()
    subprocess.run(budget_argv(args, ["--report-only"]), env=env, cwd=L.ROOT, check=False)
    summary = {
        "workers": args.workers,
        "threads_per_worker": threads,
        "exit_codes": codes,
        "wall_s": round(time.time() - t0, 1),
        "cells": sorted(str(p.relative_to(args.ledger)) for p in args.ledger.glob("*/*/*/b*-s*.json")),
    }
    (args.ledger / "job.json").write_text(json.dumps(summary, indent=1))
    print(f"{len(summary['cells'])} cell(s) in {args.ledger} after {summary['wall_s']} s", flush=True)
    return 0 if all(c == 0 for c in codes) else 1


def parse(argv=None) -> argparse.Namespace:
    argv = list(sys.argv[1:] if argv is None else argv)
    rest = argv[argv.index("--") + 1 :] if "--" in argv else []
    mine = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="lol")
    p.add_argument("--pack", type=Path, default=None, help="a tools/device_pack.py folder (its data and splits)")
    p.add_argument("--preset", default="gpu")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--max-minutes", type=float, default=8.0, help="start no cell after this")
    p.add_argument("--out", type=Path, default=None, help="default: $OUT")
    p.add_argument("--work", type=Path, default=Path("/tmp/budget-gpu-job"))
    p.add_argument("--machine-tag", default=None)
    p.add_argument("--dry-run", action="store_true", help="the CPU at toy sizes on the demo data")
    args = p.parse_args(mine)
    out = args.out or (Path(os.environ["OUT"]) if os.environ.get("OUT") else None)
    if out is None:
        p.error("give --out or set $OUT")
    if args.workers < 1:
        p.error("--workers must be at least 1")
    args.ledger, args.rest = out / "cells", rest
    args.work.mkdir(parents=True, exist_ok=True)
    if args.dry_run:
        args.preset = "cpu"
    return args


def main(argv=None) -> int:
    return run(parse(argv))


if __name__ == "__main__":
    raise SystemExit(main())
