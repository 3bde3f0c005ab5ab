"""One prepared GPU check: CUDA-only correctness, then items 4-6 of the speed issue, in <= 8 minutes.

Run on a machine with one CUDA GPU (see benchmarks/README.md, "GPU check", for the exact
command and what to carry)::

    PYTHONPATH=src:. python -m benchmarks.gpu_check --out-dir $OUT/gpu-check

Parts, in order; each runs in its own subprocess under its own time budget (the whole stays
under ``--budget`` seconds, 420 by default), writes what it measured as it goes, and a part that
fails or runs out of time is recorded in the report, never fatal to the others:

* ``env``: the device, library versions; measured matmul/conv FLOP/s and copy bandwidth against
  the device's published peaks (:mod:`benchmarks.roofline`).
* ``correct``: bf16 autocast forward/backward of the derived network with the searched loss mix
  is finite; ONNX export from a CUDA model, parity against the CUDA fp32 output.
* ``ddp``: ``torchrun --nproc_per_node 1`` training and architecture search with NCCL
  (:mod:`benchmarks.gpu_ddp_smoke` forces the multi-process code path in one process).
* ``train`` (item 4): one training step of the derived network with the loss mix at batch 16 x
  256 px: eager fp32 vs bf16 autocast + channels-last, + a CUDA graph of the whole step, and +
  ``torch.compile(mode="reduce-overhead")``.
* ``infer`` (item 5): a 1920x1080 frame: fp32 eager vs bf16/fp16, channels-last, CUDA graphs and
  compile; output parity of each against fp32; achieved rates against the peaks.
* ``search`` (item 6): the second-order search step vs a supernet training step.

Outputs, all in ``--out-dir``: ``speed-gpu.md`` (the table), ``results.json`` (every number and
note), ``log.txt`` (each part's output tail). On a GPU the table is also copied to ``--md``
(``benchmarks/results/speed-gpu.md``). ``--dry-run`` runs the same parts on the CPU at toy sizes
in this process (CUDA-only pieces skipped with a note); the test suite runs it so it cannot rot.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make ``benchmarks`` and ``src`` importable
    sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "src")]

ROOT = Path(__file__).resolve().parents[1]
# part -> share of the budget in seconds at --budget 450 (the order is the run order; sums to 450)
PARTS: dict[str, int] = {"env": 25, "correct": 80, "ddp": 80, "train": 115, "infer": 80, "search": 70}
FULL = {
    "genotype": "paper-lol",
    "channels": 32,
    "num_hnu": 7,
    "train_batch": 16,
    "train_crop": 256,
    "infer_size": (1080, 1920),
    "search_crop": 96,
    "search_batch": 1,
    "warmup": 3,
    "repeats": 20,
    "matmul_n": 8192,
    "conv_size": (64, 128, 128, 128),
    "copy_mib": 1024,
    "onnx_side": 256,
    "onnx_exporter": "auto",
    "search_repeats": 5,
    "search_modes": ("first_order", "finite_difference", "exact"),
}
TOY = {
    "genotype": "all-1c",
    "channels": 4,
    "num_hnu": 1,
    "train_batch": 2,
    "train_crop": 32,
    "infer_size": (24, 40),
    "search_crop": 32,
    "search_batch": 1,
    "warmup": 1,
    "repeats": 2,
    "matmul_n": 64,
    "conv_size": (1, 8, 16, 16),
    "copy_mib": 1,
    "onnx_side": 24,
    "onnx_exporter": "torchscript",
    "search_repeats": 1,
    "search_modes": ("finite_difference",),
}


class Part:
    """What one part hands its measurements to: ``record`` writes them to disk at once."""

    def __init__(self, name: str, path: Path, device: Any, dry: bool, sizes: dict) -> None:
        self.name, self.path, self.device, self.dry, self.sizes = name, path, device, dry, sizes
        self.data: dict[str, Any] = {}
        self.notes: dict[str, str] = {}

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def sync(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()

    def record(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.flush()

    def note(self, key: str, text: str) -> None:
        self.notes[key] = text
        self.flush()

    def flush(self, status: str = "running") -> None:
        from hadamard_restore.artifacts import write_json

        write_json(self.path, {"status": status, "data": self.data, "notes": self.notes})


def part_functions() -> dict[str, Callable[[Part], None]]:
    from benchmarks import gpu_parts_check as check
    from benchmarks import gpu_parts_infer as infer
    from benchmarks import gpu_parts_speed as speed

    return {
        "env": speed.env_part,
        "correct": check.correct_part,
        "ddp": check.ddp_part,
        "train": speed.train_part,
        "infer": infer.infer_part,
        "search": infer.search_part,
    }


def run_part_here(name: str, path: Path, dry: bool, ddp_on_cpu: bool = False) -> dict:
    """Run one part in this process; returns its result dict (status ``ok`` or ``failed``)."""
    import torch

    device = torch.device("cpu" if dry or not torch.cuda.is_available() else "cuda")
    part = Part(name, path, device, dry, TOY if dry else FULL)
    part.ddp_on_cpu = ddp_on_cpu  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    try:
        part_functions()[name](part)
        status, error = "ok", None
    except Exception as exc:  # recorded, not fatal: the other parts still run
        status, error = "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
    part.flush(status)
    out = json.loads(path.read_text())
    out.update(seconds=round(time.perf_counter() - t0, 1), error=error)
    return out


def run_isolated(cmd: list[str], path: Path, timeout: float, log: Path) -> dict:
    """Run ``cmd`` (which writes ``path``) with a timeout; read back whatever it recorded."""
    t0 = time.perf_counter()
    paths = [str(ROOT / "src"), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=os.pathsep.join(paths))
    # its own process group, so a timeout also ends what it started (torchrun and its workers)
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
        status = None if proc.returncode == 0 else f"failed (exit {proc.returncode})"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        status = f"timeout after {timeout:.0f} s (what it recorded before is kept)"
    tail = (out or "")[-4000:]
    with open(log, "a") as fh:
        fh.write(f"===== {' '.join(cmd[-6:])}\n{tail}\n")
    res = json.loads(path.read_text()) if path.is_file() else {"status": "no result", "data": {}, "notes": {}}
    if status is not None:
        res["error"] = f"{status}: {res.get('error') or tail.strip().splitlines()[-1:] or ''}"
        res["status"] = "timeout" if status.startswith("timeout") else "failed"
    res["seconds"] = round(time.perf_counter() - t0, 1)
    return res


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out-dir", type=Path, default=Path("runs/gpu-check"), help="every output goes here")
    p.add_argument(
        "--md",
        type=Path,
        default=Path("benchmarks/results/speed-gpu.md"),
        help="where the table is copied on a GPU (not in a dry run)",
    )
    p.add_argument("--dry-run", action="store_true", help="CPU, toy sizes, parts in this process")
    p.add_argument("--parts", default=",".join(PARTS), help="comma separated subset of " + ",".join(PARTS))
    p.add_argument(
        "--budget", type=float, default=420.0, help="seconds for all parts together (<= 8 min with start-up)"
    )
    p.add_argument("--ddp-on-cpu", action="store_true", help="dry run: also run the torchrun part (gloo)")
    p.add_argument("--part", help=argparse.SUPPRESS)  # internal: run one part, write --part-json
    p.add_argument("--part-json", type=Path, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> Path:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.part:  # a child process: one part
        run_part_here(args.part, args.part_json, args.dry_run, args.ddp_on_cpu)
        return args.part_json
    import torch

    from benchmarks.gpu_report import render
    from hadamard_restore.artifacts import atomic_write_text, write_json

    if not args.dry_run and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU is visible here: run with --dry-run (CPU, toy sizes) or on a GPU machine")
    names = [n.strip() for n in args.parts.split(",") if n.strip()]
    unknown = [n for n in names if n not in PARTS]
    if unknown:
        raise SystemExit(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    log = args.out_dir / "log.txt"
    log.write_text("")
    t_end = time.monotonic() + args.budget
    results: dict[str, Any] = {"dry_run": args.dry_run, "sizes": TOY if args.dry_run else FULL, "parts": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            path = Path(tmp) / f"{name}.json"
            left = t_end - time.monotonic()
            if left < 5:
                results["parts"][name] = {"status": "skipped", "error": "the overall budget was spent"}
                continue
            if args.dry_run:
                res = run_part_here(name, path, True, args.ddp_on_cpu)
            else:
                cmd = [sys.executable, "-m", "benchmarks.gpu_check", "--part", name, "--part-json", str(path)]
                res = run_isolated(cmd, path, min(PARTS[name] * args.budget / 450.0, left), log)
            results["parts"][name] = res
            print(
                f"[gpu_check] {name}: {res['status']} in {res.get('seconds', '?')} s"
                + (f" ({res['error']})" if res.get("error") else ""),
                flush=True,
            )
            write_json(args.out_dir / "results.json", results)
    text = render(results)
    atomic_write_text(args.out_dir / "speed-gpu.md", text)
    if not args.dry_run and results["parts"].get("env", {}).get("data", {}).get("cuda"):
        atomic_write_text(args.md, text)
    print(f"[gpu_check] wrote {args.out_dir}/speed-gpu.md, results.json, log.txt", flush=True)
    return args.out_dir / "speed-gpu.md"


if __name__ == "__main__":
    main()
