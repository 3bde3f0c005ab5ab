"""Quality benchmark: does the search pay off? Every entry trained at an equal budget, scored held out.

Run from the repository root, one task at a time or all (resumable, results kept as they finish)::

    OMP_NUM_THREADS=1 PYTHONPATH=src python -m benchmarks.studies.quality --preset cpu --task lol
    OMP_NUM_THREADS=1 PYTHONPATH=src python -m benchmarks.studies.quality --preset cpu --task all

Per task (configs/low-light.yaml for ``lol``, dehaze.yaml for ``sots``, underwater.yaml for
``lsui``, with the preset's overrides, :mod:`benchmarks.studies.quality_presets`):

1. searches, each run once per task and shared by the entries that need it: the hierarchical
   search (classifier, stage 1, stage 2), the joint search (Ours_a) and stage 1 on the U-Net
   (Fig. 6); the classifier is trained once and reused;
2. the entries of :mod:`benchmarks.studies.quality_entries`, each trained from scratch with the same
   steps, crop and batch, for every seed, and scored on the held-out part of the pinned split;
3. the table (mean ± std over seeds), the input-vs-reference row and a computed statement of
   whether the searched entry beats every hand-designed baseline (all-1c/3c/1rc/3rc).

Every finished search and entry is a file under ``--work``; a rerun skips them. The Markdown is
rewritten (atomically) after every entry, so a partial run keeps what it finished.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

if __package__ in (None, ""):
    sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[2] / "src")]

from benchmarks.studies.quality_entries import ENTRIES, score_inputs, searches_needed, train_and_score
from benchmarks.studies.quality_presets import PRESETS, TASKS
from benchmarks.studies.quality_report import statement, task_table
from benchmarks.timing import machine_info, markdown_table

ROOT = Path(__file__).resolve().parents[2]


def task_config(task: str, preset, extra: list[str] | None = None, split_file: Path | None = None):
    """The task's YAML config with the preset's and the caller's overrides (data seed 0).

    ``split_file``: where the task's split is pinned (made and saved on first use, then loaded
    and verified against the files' sha256 on every later use).
    """
    from hadamard_restore.config import load_config

    pin = [f"data.split_file={Path(split_file).resolve()}"] if split_file is not None else []
    return load_config(ROOT / TASKS[task], [*preset.overrides, "seed=0", *pin, *(extra or [])])


def run_searches(cfg, work: Path, needed: set[str], log=print) -> dict:
    """Run (or reuse) the searches; returns the artifact paths the entries need.

    The studies measure the search itself, so stage 2 always runs here, whatever architecture a task
    config fixes by default (``search.architecture``; underwater's is all-3c because of these studies).
    """
    cfg = cfg.model_copy(update={"search": cfg.search.model_copy(update={"architecture": "search"})})
    from hadamard_restore.artifacts import read_json, write_json
    from hadamard_restore.reporting.plots import plot_search

    found: dict = {}
    times_path = work / "searches.json"
    times = read_json(times_path) if times_path.is_file() else {}
    hier = work / "search-hier"
    if needed & {"hier", "joint", "unet"}:
        if not (hier / "genotype.json").is_file():
            from hadamard_restore.jobs import search_job
            from hadamard_restore.search.hierarchy import search

            log(f"[{cfg.name}] hierarchical search (classifier, stage 1, stage 2)")
            t0 = time.time()
            search(search_job(cfg), hier, resume=True)
            plot_search(hier)
            times["hier"] = round(time.time() - t0, 1)
            write_json(times_path, times)
        found.update(
            hier_loss=hier / "loss_weights.json",
            hier_genotype=hier / "genotype.json",
            hier_alpha=hier / "arch" / "alpha.pt",
        )
    clf = hier / "classifier" / "path.txt"
    classifier = Path(clf.read_text().strip()) if clf.is_file() else None  # judge every search alike
    if "joint" in needed:
        joint = work / "search-joint"
        if not (joint / "genotype.json").is_file():
            from hadamard_restore.jobs import search_job
            from hadamard_restore.search.joint_stage import search_joint

            log(f"[{cfg.name}] joint search (Ours_a)")
            t0 = time.time()
            search_joint(search_job(cfg), joint, classifier=classifier, resume=True)
            plot_search(joint)
            times["joint"] = round(time.time() - t0, 1)
            write_json(times_path, times)
        found.update(joint_genotype=joint / "genotype.json", joint_loss=joint / "loss_weights.json")
    if "unet" in needed:
        unet = work / "search-unet"
        if not (unet / "loss_weights.json").is_file():
            from hadamard_restore.jobs import search_job
            from hadamard_restore.search.loss_stage import search_loss

            log(f"[{cfg.name}] stage 1 on the U-Net (Fig. 6)")
            unet_cfg = cfg.model_copy(deep=True)
            unet_cfg.search.loss_model = "unet"
            t0 = time.time()
            search_loss(search_job(unet_cfg), unet, classifier=classifier, resume=True)
            plot_search(unet)
            times["unet"] = round(time.time() - t0, 1)
            write_json(times_path, times)
        found.update(unet_loss=unet / "loss_weights.json")
    return found


def run_task(task: str, preset, work_root: Path, out: Path, entries, seeds, extra: list[str], log=print) -> None:
    """Searches, then every entry x seed not finished yet; the Markdown is refreshed after each."""
    from hadamard_restore.artifacts import write_json
    from hadamard_restore.runtime.process import pick_device

    work = work_root / task
    cfg = task_config(task, preset, extra, split_file=work / "split.json")
    found = run_searches(cfg, work, searches_needed(entries), log)
    device = pick_device(cfg.device)
    if not (work / "input.json").is_file():
        write_json(work / "input.json", score_inputs(cfg, device))
    for seed in seeds:
        for entry in entries:
            path = work / "entries" / f"{entry.key}-s{seed}.json"
            if path.is_file():
                continue
            log(f"[{task}] {entry.key} seed {seed}: training {cfg.train.steps} steps")
            result = train_and_score(entry, cfg, found, seed, work / "runs" / f"{entry.key}-s{seed}", device)
            result["task"] = task
            write_json(path, result)
            log(
                f"[{task}] {entry.key} seed {seed}: PSNR {result['mean']['psnr']:.2f} dB "
                f"(train {result['train_s']} s, eval {result['eval_s']} s)"
            )
            write_markdown(work_root, preset, out)
    write_markdown(work_root, preset, out)


def load_results(work_root: Path) -> dict[str, tuple[dict | None, list[dict]]]:
    """``{task: (input record or None, [entry results])}`` for tasks with a finished entry."""
    from hadamard_restore.artifacts import read_json

    out = {}
    for task in TASKS:
        files = sorted((work_root / task / "entries").glob("*.json"))
        if files:
            inp = work_root / task / "input.json"
            out[task] = (read_json(inp) if inp.is_file() else None, [read_json(f) for f in files])
    return out


def _search_summary(work: Path) -> list[str]:
    from hadamard_restore.artifacts import read_json

    lines = []
    lw = work / "search-hier" / "loss_weights.json"
    if lw.is_file():
        d = read_json(lw)
        w = ", ".join(f"{k} {v:.2f}" for k, v in d["weights"].items())
        lines.append(
            f"searched loss weights (β; TV and Laplacian dropped for training): {w}; "
            f"VGG layers {d['vgg'].get('layers') or d['vgg'].get('argmax')}"
        )
    for tag, name in (("search-hier", "searched"), ("search-joint", "joint-search")):
        g = work / tag / "genotype.json"
        if g.is_file():
            ops = list(read_json(g)["layers"].values())
            counts = ", ".join(f"{o} {ops.count(o)}" for o in sorted(set(ops), key=lambda o: -ops.count(o)))
            lines.append(f"{name} genotype op counts: {counts}")
    cm = work / "search-hier" / "classifier" / "classifier_metrics.json"
    if cm.is_file():
        c = read_json(cm)
        lines.append(
            f"stage-1 classifier ({c.get('arch')}, {c.get('init')} init, {c.get('steps')} steps): held-out "
            f"accuracy {c.get('accuracy', float('nan')):.3f} (clear {c.get('accuracy_clear', float('nan')):.3f}, "
            f"degraded {c.get('accuracy_degraded', float('nan')):.3f}) on {c.get('images')} images"
        )
    times = work / "searches.json"
    if times.is_file():
        lines.append("search wall time (s): " + ", ".join(f"{k} {v}" for k, v in read_json(times).items()))
    return lines


def write_markdown(work_root: Path, preset, out: Path) -> Path:
    """Render every task's finished entries into ``out`` (atomic)."""
    from hadamard_restore.artifacts import atomic_write_text

    results = load_results(work_root)
    m = machine_info()
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = [
        f"# Quality benchmark, {preset.name} preset",
        "",
        f"Updated {when}. Preset: {preset.description}.",
        "",
        markdown_table(["machine", ""], [[k, m[k]] for k in ("cpu", "cores", "torch threads", "torch", "gpu")]),
        "",
        "Protocol: every entry of a task trains from scratch with the same steps, crop, batch, optimiser "
        "and schedule, and is scored at its final weights on the held-out pairs of the pinned, grouped split "
        "(full resolution, 8-bit outputs; PSNR/SSIM on RGB, LPIPS AlexNet). Values are mean ± std over "
        "seeds (one seed: mean only). See benchmarks/README.md for the commands and caveats.",
        "",
        "## Does the search pay off?",
        "",
    ]
    text += [statement(t, r, inp) for t, (inp, r) in results.items()] or ["(no finished task yet)"]
    text.append("")
    for task, (inp, res) in results.items():
        r0 = res[0]
        b = r0["budget"]
        text += [
            f"## {task}",
            "",
            f"{r0['train_pairs']} training pairs, {r0['held_out']} held-out pairs; budget per entry: "
            f"{b['steps']} steps, batch {b['batch']}, {b['crop']} px crops, lr {b['lr']}.",
            "",
            task_table(res, inp),
            "",
        ]
        text += [f"- {line}" for line in _search_summary(work_root / task)] + [""]
    return atomic_write_text(out, "\n".join(text))


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description="Quality benchmark (see the module docstring).")
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    p.add_argument("--task", choices=[*TASKS, "all"], default="all")
    p.add_argument("--entries", default="all", help="comma-separated entry keys, or all")
    p.add_argument("--seeds", default=None, help="comma-separated seeds (default: the preset's)")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="extra config override a.b=c")
    p.add_argument("--work", type=Path, default=None, help="default runs/bench-quality-<preset>")
    p.add_argument("--out", type=Path, default=None, help="default benchmarks/results/studies/quality-<preset>.md")
    p.add_argument("--render-only", action="store_true", help="only rewrite the table from the finished results")
    args = p.parse_args(argv)
    preset = PRESETS[args.preset]
    entries = ENTRIES if args.entries == "all" else tuple(e for e in ENTRIES if e.key in args.entries.split(","))
    if not entries:
        p.error(f"--entries {args.entries!r} names no entry; known: {', '.join(e.key for e in ENTRIES)}")
    seeds = tuple(int(s) for s in args.seeds.split(",")) if args.seeds else preset.seeds
    work = args.work or Path("runs") / f"bench-quality-{preset.name}"
    out = args.out or Path("benchmarks/results/studies") / f"quality-{preset.name}.md"
    if args.render_only:
        return write_markdown(work, preset, out)
    for task in TASKS if args.task == "all" else [args.task]:
        run_task(
            task,
            preset,
            work,
            out,
            entries,
            seeds,
            args.overrides,
            log=lambda s: print(f"{datetime.now(timezone.utc):%H:%M:%S} {s}", flush=True),
        )
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    from hadamard_restore.runtime.log import configure_logging

    configure_logging()  # a script: its progress lines on stderr, as the CLI shows them
    main()
