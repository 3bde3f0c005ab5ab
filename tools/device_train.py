"""The GPU model factory: the whole method for one task inside one short GPU job.

Run through ``bash tools/device_train.sh TASK [--dry-run]`` (which installs the packed wheels and
unpacks the packed weights first); the pack comes from ``tools/device_pack.py TASK --out DIR``.

Stages, each a ``hadamard-restore`` command on the packed data, with a budget of optimizer-step
seconds that is a fixed share (``SHARES``) of ``--budget-s`` (400 s on a GPU; the commands'
start-up, the probes and the evaluation take about another 1-2 minutes, so the job stays inside
9 minutes of a 10-minute call):

1. probes: each of the four learning stages runs a few steps; their measured seconds per step
   size the stages below (steps = budget / measured rate, never a guessed rate);
2. classifier (stage 1's upper objective) -> loss search -> architecture search -> training, on the
   development split of the bundled model's pinned split (``dev.json`` of the pack);
3. evaluation on the pack's held-out pairs (the bundled model's held-out split).

A stage that runs past 1.5x its budget (plus the start-up its probe measured) is stopped;
training keeps the model its last validation saved. A progress line every 30 s. At most 8 files
go to ``$OUT`` (else a folder it prints): ``model.pt``, ``card.json``, ``metrics.json``,
``logs.tar.gz``.

``--dry-run`` runs the same stages on the CPU at toy sizes with a small budget (the test suite runs
it). The card says whether the model beats the bundled one on the same held-out pairs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TASKS = {
    "low-light": "configs/low-light.yaml",
    "dehaze": "configs/dehaze.yaml",
    "underwater": "configs/underwater.yaml",
}
SHARES = {"classifier": 0.08, "search-loss": 0.2, "search-arch": 0.2, "train": 0.52}  # of --budget-s
PROBE_STEPS = {"classifier": 5, "search-loss": 3, "search-arch": 3, "train": 10}
PROGRESS_EVERY_S = 30.0
DRY_RUN_HELDOUT = 4  # held-out pairs a dry run scores (the CPU scores about 2 s per 600x400 pair)

# settings on a GPU: the recipe of the pretrained models at the batch and crop a GPU affords
GPU = {
    "search": ["net.channels=16", "search.crop=128", "search.batch_size=4", "search.checkpoint_every=50"],
    "classifier": ["classifier.batch_size=32"],
    "train": [
        "net.channels=32",
        "net.norm=none",
        "train.crop=256",
        "train.batch_size=16",
        "train.lr=1e-3",
        "train.warmup_steps=200",
        "train.schedule=cosine",
        "train.ema_decay=0.999",
        "train.amp=true",
    ],
    "max_steps": {"classifier": 2000, "search-loss": 5000, "search-arch": 5000, "train": 200000},
}
TOY = {
    "search": ["net.channels=4", "net.num_hnu=1", "search.crop=32", "search.batch_size=1", "search.checkpoint_every=5"],
    "classifier": ["classifier.batch_size=4", "classifier.eval_crops_per_image=1"],
    "train": [
        "net.channels=4",
        "net.num_hnu=1",
        "net.norm=none",
        "train.crop=32",
        "train.batch_size=2",
        "train.lr=1e-3",
        "train.warmup_steps=2",
        "train.ema_decay=0.999",
        "train.val_max_images=2",
    ],
    "max_steps": {"classifier": 10, "search-loss": 4, "search-arch": 4, "train": 30},
}


def sets(items: list[str]) -> list[str]:
    return [x for s in items for x in ("--set", s)]


class Factory:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.task, self.pack = args, args.task, args.pack.resolve()
        self.work = Path(tempfile.mkdtemp(prefix=f"hr-factory-{args.task}-"))
        self.sizes = TOY if args.dry_run else GPU
        self.t0 = time.time()
        self.timings: dict[str, dict] = {}
        self.commands: list[str] = []
        self.progress = open(self.work / "progress.log", "a")  # noqa: SIM115 - closed in finish()

    def say(self, text: str) -> None:
        line = f"[{time.time() - self.t0:6.0f} s] {text}"
        print(line, flush=True)
        self.progress.write(line + "\n")
        self.progress.flush()

    def base(self) -> list[str]:
        device = "cpu" if self.args.dry_run else "cuda"
        return [
            f"device={device}",
            f"data.root={self.pack / 'data'}",
            f"data.split_file={self.pack / 'dev.json'}",
            "data.max_pairs=null",
        ]

    def run(self, name: str, argv: list[str], budget_s: float, log: Path, overhead_s: float = 60.0) -> bool:
        """One command with progress lines; False when it failed or ran past its start-up and
        finishing time (``overhead_s``, measured by its probe) plus 1.5x its budget (in the CPU dry
        run: 3x that time plus 5x its budget plus 2 minutes)."""
        cmd = [sys.executable, "-m", "hadamard_restore", *argv]
        self.commands.append("hadamard-restore " + " ".join(argv))
        start, last_note = time.time(), time.time()
        # on the GPU a stage past its plan is stopped so the job keeps its budget; the CPU dry run tests
        # the plumbing, and a loaded CPU runs its toy stages several times slower than their probes
        limit = 3 * overhead_s + 5 * budget_s + 120 if self.args.dry_run else overhead_s + 1.5 * budget_s + 10
        with open(log, "a") as fh:
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO)
            while proc.poll() is None:
                time.sleep(0.5)
                now = time.time()
                if now - start > limit:
                    proc.kill()
                    proc.wait()
                    self.say(f"{name}: stopped after {now - start:.0f} s (budget {budget_s:.0f} s)")
                    self.timings[name] = {"budget_s": round(budget_s, 1), "wall_s": round(now - start, 1), "ok": False}
                    return False
                if now - last_note >= PROGRESS_EVERY_S:
                    last_note = now
                    self.say(f"{name}: {now - start:.0f} s of {budget_s:.0f} s; {last_line(log)}")
        wall = time.time() - start
        ok = proc.returncode == 0
        self.timings[name] = {"budget_s": round(budget_s, 1), "wall_s": round(wall, 1), "ok": ok}
        self.say(f"{name}: {'done' if ok else f'FAILED (exit {proc.returncode}), see its log'} in {wall:.0f} s")
        return ok

    def stage_argv(self, stage: str, steps: int, out: Path, extra: list[str]) -> list[str]:
        config = str(REPO / TASKS[self.task])
        s = self.sizes
        if stage == "classifier":
            return [
                "classifier",
                config,
                *sets([*self.base(), *s["search"], *s["classifier"], f"classifier.steps={steps}"]),
                "--out",
                str(out),
            ]
        if stage == "search-loss":
            return [
                "search-loss",
                config,
                *sets([*self.base(), *s["search"], *extra, f"search.loss_steps={steps}"]),
                "--out",
                str(out),
            ]
        if stage == "search-arch":
            return [
                "search-arch",
                config,
                *sets([*self.base(), *s["search"], *extra, f"search.arch_steps={steps}"]),
                "--out",
                str(out),
            ]
        val_every = max(1, steps // 5)
        train_sets = [*self.base(), *s["train"], f"train.steps={steps}", f"train.val_every={val_every}"]
        train_sets += [f"train.checkpoint_every={val_every}"]
        return ["train", config, *extra, *sets(train_sets), "--out", str(out)]

    def seconds_per_step(self, stage: str, out: Path) -> float:
        """The probe's measured seconds per step (from the stage's own summary)."""
        if stage == "classifier":
            m = json.loads((out / "classifier_metrics.json").read_text())
            return m["train_seconds"] / m["steps"]
        for path in sorted(out.glob("*.json")):  # search_loss.json, search_arch.json, train_summary.json
            value = json.loads(path.read_text())
            value = value.get("seconds_per_step_median") if isinstance(value, dict) else None
            if value:
                return float(value)
        raise RuntimeError(f"no seconds_per_step_median in {out}")

    def plan(self, stage: str, budget_s: float, extra: list[str]) -> tuple[int, float]:
        """Probe ``stage``: ``(steps that fit its budget, the command's start-up and finishing seconds)``."""
        out = self.work / "probe" / stage
        argv = self.stage_argv(stage, PROBE_STEPS[stage], out, extra)
        if not self.run(f"probe {stage}", argv, max(60.0, budget_s), self.work / f"probe-{stage}.log", 300.0):
            raise RuntimeError(f"the {stage} probe failed; see probe-{stage}.log in the logs")
        rate = self.seconds_per_step(stage, out)
        overhead = max(0.0, self.timings[f"probe {stage}"]["wall_s"] - PROBE_STEPS[stage] * rate)
        steps = int(min(self.sizes["max_steps"][stage], max(PROBE_STEPS[stage], 0.8 * budget_s / rate)))
        self.timings.setdefault("rates", {})[stage] = {
            "seconds_per_step": round(rate, 4),
            "overhead_s": round(overhead, 1),
            "steps": steps,
        }
        self.say(
            f"{stage}: {rate * 1000:.1f} ms/step measured (+{overhead:.0f} s start-up) -> "
            f"{steps} steps in its {budget_s:.0f} s budget"
        )
        return steps, overhead

    def learn(self) -> dict:
        """Classifier, loss search, architecture search, training; returns the artifacts' paths."""
        w = self.work
        use_classifier = [f"classifier.checkpoint={w / 'classifier' / 'classifier.pt'}"]
        weights, genotype = w / "search-loss" / "loss_weights.json", w / "search-arch" / "genotype.json"
        extras = {
            "classifier": [],
            "search-loss": use_classifier,
            "search-arch": [*use_classifier, f"loss.weights={weights}"],
            "train": ["--genotype", str(genotype), "--loss-weights", str(weights)],
        }
        ok = True
        for stage, extra in extras.items():
            budget = SHARES[stage] * self.args.budget_s
            steps, overhead = self.plan(stage, budget, extra)
            argv = self.stage_argv(stage, steps, w / stage, extra)
            ok = self.run(stage, argv, budget, w / f"{stage}.log", overhead)
            if not ok and stage != "train":  # a stopped training still has its last validated model
                raise RuntimeError(f"the {stage} stage failed or overran; see {stage}.log in the logs")
        if not (w / "train" / "model.pt").is_file():
            raise RuntimeError("training saved no model")
        return {"genotype": genotype, "loss_weights": weights, "model": w / "train" / "model.pt", "train_ok": ok}

    def heldout_split(self) -> Path:
        """The pack's held-out split; a dry run scores only its first DRY_RUN_HELDOUT pairs (in the card)."""
        split = self.pack / "heldout.json"
        if not self.args.dry_run:
            return split
        data = json.loads(split.read_text())
        data["val"] = data["val"][:DRY_RUN_HELDOUT]
        data["counts"]["val"] = len(data["val"])
        (self.work / "heldout-dry-run.json").write_text(json.dumps(data))
        return self.work / "heldout-dry-run.json"

    def evaluate(self, model: Path) -> dict:
        out = self.work / "eval"
        argv = ["evaluate", str(model), "--data", str(self.pack / "data"), "--split", str(self.heldout_split())]
        argv += ["--out", str(out)]
        if not self.run("evaluate", argv, 120.0, self.work / "evaluate.log"):
            raise RuntimeError("evaluation failed")
        return json.loads((out / "metrics.json").read_text())


def last_line(log: Path) -> str:
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").replace("\r", "\n").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][-160:] if lines else ""


def device_name(dry: bool) -> str:
    import torch

    if torch.cuda.is_available() and not dry:
        return torch.cuda.get_device_name(0)
    return "CPU (dry run)" if dry else "CPU"


def card(f: Factory, result: dict | None, metrics: dict | None, error: str | None) -> dict:
    pack = json.loads((f.pack / "pack.json").read_text())
    bundled = json.loads((REPO / "src/hadamard_restore/resources/models" / f.task / "card.json").read_text())["heldout"]
    ours = metrics["mean"] if metrics else None
    beats = None
    if ours is not None and not f.args.dry_run:  # a dry run scores a few pairs only: no comparison
        beats = ours["psnr"] > bundled["model"]["psnr"]
    data = pack["data"]
    return {
        "format": "hadamard-restore/factory-card",
        "task": f.task,
        "dry_run": f.args.dry_run,
        "device": device_name(f.args.dry_run),
        "budget_s": f.args.budget_s,
        "wall_s": round(time.time() - f.t0, 1),
        "stages": f.timings,
        "settings": {k: v for k, v in f.sizes.items() if k != "max_steps"},
        "commands": f.commands,
        "data": {k: v for k, v in data.items() if k != "psnr_vs_original"}
        | {"min_psnr_vs_original": data["psnr_vs_original"]["min"]},
        "heldout": {
            "pairs": metrics["count"] if metrics and "count" in metrics else data["pairs"]["heldout"],
            "model": ours,
            "input": metrics["input_mean"] if metrics else None,
            "scored_against": "the packed copies"
            + ("" if data["mode"] == "lossless" else " (JPEG q95: re-run evaluate on the originals before shipping)"),
        },
        "bundled_model_heldout": {"model": bundled["model"], "input": bundled["input"], "count": bundled["count"]},
        "beats_bundled_psnr": beats,
        "error": error,
    }


def finish(f: Factory, result: dict | None, metrics: dict | None, error: str | None) -> Path:
    out_env = os.environ.get("OUT")
    out = Path(out_env) if out_env else Path(tempfile.mkdtemp(prefix=f"hr-factory-out-{f.task}-"))
    out.mkdir(parents=True, exist_ok=True)
    info = card(f, result, metrics, error)
    (out / "card.json").write_text(json.dumps(info, indent=1))
    if result is not None:
        shutil.copy2(result["model"], out / "model.pt")
    if metrics is not None:
        shutil.copy2(f.work / "eval" / "metrics.json", out / "metrics.json")
    f.progress.close()
    with tarfile.open(out / "logs.tar.gz", "w:gz") as tar:
        for path in sorted(f.work.rglob("*")):
            if path.is_file() and path.suffix in {".log", ".json", ".txt", ".yaml", ".md"}:
                tar.add(path, arcname=str(path.relative_to(f.work)))
    m = info["heldout"]["model"]
    if m:
        b = info["bundled_model_heldout"]["model"]
        print(
            f"held-out ({info['heldout']['pairs']} pairs): PSNR {m['psnr']:.2f} dB, SSIM {m['ssim']:.3f} "
            f"(input {info['heldout']['input']['psnr']:.2f} dB); bundled model {b['psnr']:.2f} dB / {b['ssim']:.3f}; "
            f"beats it: {'yes' if info['beats_bundled_psnr'] else 'no'}",
            flush=True,
        )
    print(f"wrote {', '.join(sorted(p.name for p in out.iterdir()))} to {out}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("task", choices=sorted(TASKS))
    ap.add_argument("--pack", type=Path, required=True)
    ap.add_argument("--dry-run", action="store_true", help="the same stages on the CPU at toy sizes")
    ap.add_argument(
        "--budget-s",
        type=float,
        default=None,
        help="seconds of optimizer steps shared by the four learning stages (GPU 400, dry run 40); "
        "start-up, probes and evaluation come on top (about a minute on a GPU)",
    )
    args = ap.parse_args(argv)
    args.budget_s = args.budget_s or (40.0 if args.dry_run else 400.0)
    if not (args.pack / "pack.json").is_file():
        ap.error(f"{args.pack} is not a pack of tools/device_pack.py (no pack.json); make one first")
    if not args.dry_run:
        import torch

        if not torch.cuda.is_available():
            ap.error("no CUDA GPU is visible; run on the GPU machine, or add --dry-run for the CPU rehearsal")
    f = Factory(args)
    f.say(f"factory for {args.task} on {device_name(args.dry_run)}, budget {args.budget_s:.0f} s, work {f.work}")
    result = metrics = error = None
    try:
        result = f.learn()
        metrics = f.evaluate(result["model"])
    except RuntimeError as exc:
        error = str(exc)
        f.say(f"stopped: {error}")
    finish(f, result, metrics, error)
    return 0 if error is None else 1


if __name__ == "__main__":
    sys.exit(main())
