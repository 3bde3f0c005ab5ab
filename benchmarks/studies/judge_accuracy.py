"""Which stage-1 judge judges better? Held-out accuracy of each classifier arch at the search crop (issue 11).

Run from the repository root (minutes per task and judge on one CPU core; resumable: a finished
(task, judge, seed, steps) record is not trained again)::

    OMP_NUM_THREADS=1 PYTHONPATH=src python -m benchmarks.studies.judge_accuracy --tasks lol,sots,lsui
    PYTHONPATH=src python -m benchmarks.studies.judge_accuracy --report-only       # re-render the tables

Per task, on the pinned splits of :mod:`benchmarks.studies.budget_curves` (its ledger,
``<ledger>/<split tag>/<task>/heldout.json`` and ``dev.json``): each judge is trained by the
package's own recipe (:func:`hadamard_restore.classifier.training.train_classifier`, the preset's
classifier settings, windows of ``search.crop``) on the development split's training part, and
its held-out accuracy is the classifier's own measure on the development split's validation
part, on windows of the judged size. Both parts lie inside the training part of ``heldout.json``:
the held-out test pairs are never read. Judges: ``resnet18`` (from scratch, as today),
``vgg16-features`` and ``alexnet-features`` (frozen ImageNet trunk, trained head).

Records go to ``<out without .md>/<machine>-<task>-<judge>-s<seed>.json``; every record is
gathered into ``<out>.json`` and rendered into ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

if __package__ in (None, ""):
    sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[2] / "src")]

from benchmarks.studies import budget_ledger as L
from benchmarks.studies.budget_presets import PRESETS
from benchmarks.timing import markdown_table

JUDGES = {
    "resnet18": ("classifier.arch=resnet18", "classifier.pretrained=false"),
    "vgg16-features": ("classifier.arch=vgg16-features", "classifier.pretrained=true"),
    "alexnet-features": ("classifier.arch=alexnet-features", "classifier.pretrained=true"),
}
GOAL = 0.97


def judge_config(task: str, judge: str, args, dev: Path | None):
    """The run config one judge of one task is trained with (pinned to ``dev.json``; ``None``: the
    settings alone, no split)."""
    from benchmarks.studies.budget_curves import base_config

    preset = PRESETS[args.preset]
    sets = [*preset.search, *JUDGES[judge], *args.set]
    if args.steps is not None:
        sets.append(f"classifier.steps={args.steps}")
    if args.head_lr is not None and judge.endswith("-features"):
        sets.append(f"classifier.head_lr={args.head_lr}")
    return base_config(task, sets, dev)


def train_judge(task: str, judge: str, seed: int, args, tag: str, log=print) -> dict:
    """Train one judge on the development split and return its record (the classifier's metrics)."""
    from benchmarks.studies.budget_curves import prepare_splits
    from hadamard_restore.artifacts import read_json
    from hadamard_restore.classifier.training import train_classifier
    from hadamard_restore.jobs import classifier_job

    dev, _ = prepare_splits(task, PRESETS[args.preset], L.task_dir(args.ledger, args.split_tag or tag, task), [])
    cfg = judge_config(task, judge, args, dev)
    job = dataclasses.replace(classifier_job(cfg), seed=seed)
    out = args.work / tag / task / f"{judge}-s{seed}"
    log(f"[{task}] {judge} seed {seed}: {cfg.classifier.steps} steps at {job.train_crop}px")
    start = time.perf_counter()
    train_classifier(job, out)
    metrics = read_json(out / "classifier_metrics.json")
    return {
        **metrics,
        "task": task,
        "judge": judge,
        "seed": seed,
        "machine": tag,
        "commit": L.code_commit(),
        "split": str(dev.relative_to(L.ROOT)) if dev.is_relative_to(L.ROOT) else str(dev),
        "wall_seconds": round(time.perf_counter() - start, 2),
    }


def summary(records: list[dict]) -> dict[tuple[str, str, str], dict]:
    """Per (machine, task, judge): mean accuracy over seeds and the mean training time."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in records:
        groups.setdefault((r["machine"], r["task"], r["judge"]), []).append(r)
    return {
        key: {
            "accuracy": statistics.fmean(r["accuracy"] for r in rs),
            "clear": statistics.fmean(r["accuracy_clear"] for r in rs),
            "degraded": statistics.fmean(r["accuracy_degraded"] for r in rs),
            "seeds": len(rs),
            "judged": rs[0]["judged"],
            "steps": rs[0]["steps"],
            "lr": rs[0]["lr"],
            "crop": rs[0]["eval_crop"],
            "train_s": statistics.fmean(r["train_seconds"] for r in rs),
        }
        for key, rs in groups.items()
    }


def verdicts(table: dict[tuple[str, str, str], dict]) -> list[str]:
    """Per machine: the judge with the highest worst-task accuracy, and whether it meets the goal."""
    lines = []
    for machine in sorted({m for m, _, _ in table}):
        rows = {k: v for k, v in table.items() if k[0] == machine}
        tasks = sorted({t for _, t, _ in rows})
        judges = sorted({j for _, _, j in rows if all((machine, t, j) in rows for t in tasks)})
        if not judges:
            continue
        worst = {j: min(rows[(machine, t, j)]["accuracy"] for t in tasks) for j in judges}
        best = max(judges, key=lambda j: worst[j])
        met = "meets" if worst[best] >= GOAL else "does not meet"
        lines.append(
            f"- {machine}, tasks {', '.join(tasks)}: **{best}** judges best (lowest task accuracy "
            f"{worst[best]:.3f}; " + ", ".join(f"{j} {worst[j]:.3f}" for j in judges if j != best) + f"); it {met} "
            f"the goal of {GOAL} on every task."
        )
    return lines


def render(records: list[dict], out: Path) -> Path:
    """``judge-accuracy.md`` and ``judge-accuracy.json`` from every record (atomic)."""
    from hadamard_restore.artifacts import atomic_write_text, write_json

    table = summary(records)
    rows = [
        [t, j, m, f"{v['accuracy']:.3f}", f"{v['clear']:.3f}", f"{v['degraded']:.3f}", v["judged"], v["seeds"]]
        + [v["steps"], f"{v['lr']:g}", v["crop"], f"{v['train_s']:.1f}", "yes" if v["accuracy"] >= GOAL else "no"]
        for (m, t, j), v in sorted(table.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2]))
    ]
    header = ["task", "judge", "machine", "accuracy", "clear", "degraded", "windows", "seeds", "steps", "lr"]
    header += ["crop", "train s", f">= {GOAL}"]
    text = [
        "# Which stage-1 judge judges better?",
        "",
        f"Updated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}. Held-out accuracy of each clear-vs-degraded "
        "judge, the classifier's own measure: random windows of the judged size (search.crop) of the development "
        "split's validation pairs, degraded and reference; trained on the development split's training pairs. Both "
        "lie inside the training part of the pinned held-out split: the held-out test pairs are never read. "
        "resnet18: from scratch (as the search uses it today); *-features: frozen ImageNet trunk, trained head. "
        "`train s`: training steps plus BN recalibration, mean over seeds.",
        "",
        markdown_table(header, rows),
        "",
        "## Verdict",
        "",
        *(verdicts(table) or ["- not every judge has been measured on every task yet."]),
        "",
        "Produced by `python -m benchmarks.studies.judge_accuracy` (see its docstring).",
    ]
    write_json(out.with_suffix(".json"), {"goal": GOAL, "records": records})
    return atomic_write_text(out, "\n".join(text) + "\n")


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu", help="splits and classifier settings")
    p.add_argument("--tasks", default="lol,sots,lsui")
    p.add_argument("--judges", default="resnet18,vgg16-features,alexnet-features", help=f"of {', '.join(JUDGES)}")
    p.add_argument("--steps", type=int, default=None, help="classifier steps (default: the preset's)")
    p.add_argument("--head-lr", type=float, default=None, help="classifier.head_lr of the *-features heads")
    p.add_argument("--seeds", default="0", help="comma-separated training seeds")
    p.add_argument("--set", action="append", default=[], help="config override for every judge (KEY=VALUE)")
    p.add_argument("--ledger", type=Path, default=L.DEFAULT_LEDGER, help="where the pinned splits live")
    p.add_argument("--split-tag", default=None, help="ledger machine folder of the splits (default: this machine)")
    p.add_argument("--work", type=Path, default=Path("runs") / "bench-judge-accuracy")
    p.add_argument("--machine-tag", default=None)
    p.add_argument("--out", type=Path, default=L.ROOT / "benchmarks" / "results" / "studies" / "judge-accuracy.md")
    p.add_argument("--report-only", action="store_true")
    args = p.parse_args(argv)
    unknown = set(args.judges.split(",")) - set(JUDGES)
    if unknown:
        p.error(f"unknown judge(s) {', '.join(sorted(unknown))}; choose from {', '.join(JUDGES)}")
    return args


def main(argv=None) -> Path:
    from hadamard_restore.artifacts import read_json, write_json
    from hadamard_restore.classifier.training import learning_rate

    args = parse(argv)
    tag = args.machine_tag or L.machine()["tag"]
    store = args.out.with_suffix("")
    for task in [] if args.report_only else args.tasks.split(","):
        for judge in args.judges.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                path = store / f"{tag}-{task}-{judge}-s{seed}.json"
                settings = judge_config(task, judge, args, None).classifier
                done = read_json(path) if path.is_file() else {}
                if (done.get("steps"), done.get("lr")) == (settings.steps, learning_rate(settings)):
                    continue  # finished earlier with the same settings (resume)
                write_json(path, train_judge(task, judge, seed, args, tag))
    return render([read_json(f) for f in sorted(store.glob("*.json"))], args.out)


if __name__ == "__main__":
    from hadamard_restore.runtime.log import configure_logging

    configure_logging()  # a script: its progress lines on stderr, as the CLI shows them
    print(main())
