"""The roofline of this CPU beside our achieved rates for inference and training, in ONE process.

Run alone on a quiet machine (the load average before and after is recorded)::

    OMP_NUM_THREADS=2 PYTHONPATH=src:. python -m benchmarks.cpu_roofline --threads 2

1. Ceilings, measured here (:mod:`benchmarks.cpu_ceilings`): peak float32 and bfloat16 FLOP/s
   (a large ``torch.mm`` and a large 3x3 convolution as oneDNN runs it) and memory bandwidth
   (STREAM-like copy and triad over arrays far larger than the caches).
2. Achieved (:mod:`benchmarks.cpu_roofline_cases`): the bundled low-light model at ``--size``
   (eager, channels-last, ONNX Runtime, a bfloat16 channels-last copy) and one training step of
   the same network with the paper-lol loss mix (fp32, and bf16 autocast) at ``--batch`` x ``--crop``.
3. Per path: GFLOP/s and % of the matching peak, GB/s and % of the bandwidth, arithmetic
   intensity against the machine balance, compute- or memory-bound, % of the attainable roofline.

Every group (ceilings, inference, training) is timed interleaved with medians (:mod:`benchmarks.timing`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "src")]

import torch

from benchmarks.cpu_ceilings import ceiling_cases, ceilings, op_profile, roofline_entry
from benchmarks.cpu_roofline_report import render
from benchmarks.speed import parse_wh
from benchmarks.timing import load_average, machine_info, measure

BUNDLED = "src/hadamard_restore/resources/models/low-light/model.pt"
FULL = {"mm_n": 2048, "conv_c": 64, "conv_hw": 256, "stream_mib": 256}
QUICK = {"mm_n": 512, "conv_c": 32, "conv_hw": 64, "stream_mib": 8}


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2, help="torch and onnxruntime threads (default 2)")
    p.add_argument("--size", type=parse_wh, default=None, help="inference image WIDTHxHEIGHT (default 600x400)")
    p.add_argument("--crop", type=int, default=None, help="training crop (default 96)")
    p.add_argument("--batch", type=int, default=None, help="training batch (default 4)")
    p.add_argument("--checkpoint", default=BUNDLED, help="model file (default: the bundled low-light model)")
    p.add_argument("--loss", default="paper-lol", help="loss weights of the training step")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=None, help="timed calls per case (default 7; --quick 1)")
    p.add_argument("--quick", action="store_true", help="toy sizes (tiny arrays, a tiny image): a check, not a result")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/roofline-cpu.md"), help="the .json goes beside")
    args = p.parse_args(argv)
    if args.threads < 1:
        p.error(f"--threads must be >= 1, got {args.threads}")
    args.size = args.size or ((24, 32) if args.quick else (400, 600))
    args.crop = args.crop or (32 if args.quick else 96)  # LPIPS needs >= 32 px
    args.batch = args.batch or (1 if args.quick else 4)
    args.repeats = args.repeats or (1 if args.quick else 7)
    return args


def _timed(cases: dict, args: argparse.Namespace, errors: dict[str, str]) -> dict:
    """Median and quartiles of each case, interleaved; a case that fails is recorded in ``errors``."""
    stats = measure({k: v[0] for k, v in cases.items()}, args.warmup, args.repeats, errors=errors)
    return {k: {"median": s.median, "q1": s.q1, "q3": s.q3, "n": s.n} for k, s in stats.items()}


def _achieved(cases: dict, times: dict, peaks: dict) -> list[dict]:
    rows = []
    for name, (_, precision, flops, nbytes) in cases.items():
        if name in times:
            t = times[name]
            entry = roofline_entry(flops, nbytes, t["median"], peaks[precision], peaks["bandwidth"])
            rows.append({"path": name, "precision": precision, **entry, "q1": t["q1"], "q3": t["q3"]})
    return rows


def measure_all(args: argparse.Namespace) -> dict:
    """Every measurement of the table, in this process; returns the JSON-able result."""
    from benchmarks.cpu_roofline_cases import inference_cases, train_cases
    from hadamard_restore.net.model_file import load_model

    errors: dict[str, str] = {}
    sizes = QUICK if args.quick else FULL
    cases = ceiling_cases(**sizes)
    peaks = ceilings(cases, {k: v["median"] for k, v in _timed(cases, args, errors).items()})
    del cases  # the stream arrays
    if min(peaks["fp32"], peaks["bf16"], peaks["bandwidth"]) <= 0:
        raise RuntimeError(f"a ceiling could not be measured: {errors}")
    model = load_model(args.checkpoint, "cpu")[0].eval()
    infer = inference_cases(model, args.size, args.threads, errors)
    inference = _achieved(infer, _timed(infer, args, errors), peaks)
    del infer
    train = train_cases(model, args.crop, args.batch, args.loss)
    training = _achieved(train, _timed(train, args, errors), peaks)
    return {
        "sizes": {**sizes, "image_hw": list(args.size), "crop": args.crop, "batch": args.batch},
        "loss": args.loss,
        "peaks": peaks,
        "balance": {p: peaks[p] / peaks["bandwidth"] for p in ("fp32", "bf16")},
        "inference": inference,
        "train": training,
        "profile": op_profile(model, args.size),
        "errors": errors,
    }


def main(argv: list[str] | None = None) -> Path:
    from hadamard_restore.artifacts import atomic_write_text, write_json

    argv = sys.argv[1:] if argv is None else argv
    args = _parse(argv)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        info = machine_info()
        info["load average before (1/5/15 min)"] = info.pop("load average at start (1/5/15 min)")
        result = measure_all(args)
        info["load average after (1/5/15 min)"] = load_average()
    finally:
        torch.set_num_threads(threads_before)
    command = "python -m benchmarks.cpu_roofline " + " ".join(argv)
    result = {"command": command.strip(), "quick": args.quick, "machine": info, **result}
    write_json(args.out.with_suffix(".json"), result)
    text = render(result)
    atomic_write_text(args.out, text)
    print(text)
    return args.out


if __name__ == "__main__":
    main()
