"""Speed benchmark: size, cost, inference latency/throughput, training and search step times.

Run from the repository root (CPU-sized example; ``--help`` lists every flag)::

    OMP_NUM_THREADS=1 PYTHONPATH=src python -m benchmarks.speed --out benchmarks/results/speed-cpu.md

Sections (each variant of a section is timed side by side in this one process, interleaved,
after warm-up; see :mod:`benchmarks.timing`):

1. parameters, MACs (torch FLOP counter / 2) and peak activation memory of each network;
2. inference of derived networks at each size (W x H): eager, channels-last, torch.compile,
   bf16 autocast and CUDA graphs (GPU only), onnxruntime (CPU);
3. one training step (AdamW) of the derived network and of the supernet, L1 and searched loss;
4. one bilevel search step of stage 1 and stage 2, first vs second order;
5. on a GPU: achieved FLOP rate and memory bandwidth against the device's published peaks.

Writes the Markdown tables to ``--out`` and the raw numbers to the same path with ``.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make ``benchmarks`` and ``src`` importable
    sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "src")]

import torch

from benchmarks.roofline import device_peaks, roofline_row, traffic_bytes
from benchmarks.speed_cases import INFERENCE_VARIANTS, inference_cases, train_cases
from benchmarks.speed_search import search_cases
from benchmarks.timing import Stats, machine_info, measure


def parse_wh(text: str) -> tuple[int, int]:
    """``"600x400"`` (width x height, as image sizes are usually written) -> ``(H, W)``."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"size {text!r} must look like WIDTHxHEIGHT, e.g. 600x400")
    return int(parts[1]), int(parts[0])


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--genotypes", type=_csv, default=["paper-lol", "all-3c"], help="derived networks, comma separated")
    p.add_argument(
        "--sizes",
        type=lambda s: [parse_wh(x) for x in _csv(s)],
        default=[(400, 600), (1080, 1920)],
        help="inference sizes WxH, comma separated (default 600x400,1920x1080)",
    )
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--num-hnu", type=int, default=7, help="supernet depth")
    p.add_argument("--batch", type=int, default=1, help="inference batch (throughput = batch / latency)")
    p.add_argument("--variants", type=_csv, default=list(INFERENCE_VARIANTS))
    p.add_argument(
        "--compile-max-pixels",
        type=int,
        default=None,
        help="run torch.compile only at sizes up to this many pixels (each compile takes minutes on a CPU)",
    )
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per variant")
    p.add_argument("--repeats-large", type=int, default=3, help="repeats for sizes above 1 megapixel")
    p.add_argument("--train-crop", type=int, default=128)
    p.add_argument("--train-batch", type=int, default=1)
    p.add_argument("--train-repeats", type=int, default=5)
    p.add_argument("--search-crop", type=int, default=64)
    p.add_argument("--search-batch", type=int, default=1)
    p.add_argument("--search-repeats", type=int, default=3)
    p.add_argument("--skip", type=_csv, default=[], help="sections to skip: info,inference,train,search")
    p.add_argument(
        "--update", action="store_true", help="keep the sections of an earlier run in --out's .json that this run skips"
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/speed-cpu.md"))
    return p


def _stats_dict(s: Stats) -> dict:
    return {"median_s": s.median, "q1_s": s.q1, "q3_s": s.q3, "min_s": s.min, "max_s": s.max, "n": s.n}


def run(args: argparse.Namespace) -> dict:
    """Every section; returns the raw results (also what :func:`render` formats)."""
    from hadamard_restore.net import HadamardNet, SuperNet, net_info
    from hadamard_restore.runtime import pick_device

    device = pick_device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    from datetime import datetime, timezone

    res: dict = {
        "measured": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(),
        "device": str(device),
        "command": getattr(args, "command", ""),
        "args": {k: str(v) for k, v in vars(args).items() if k != "command"},
        "info": [],
        "inference": [],
        "train": [],
        "search": [],
        "notes": {},
        "roofline": [],
    }
    nets = {g: HadamardNet(g, channels=args.channels) for g in args.genotypes}

    if "info" not in args.skip:
        models = {**nets, f"supernet ({args.num_hnu} HNUs)": SuperNet(args.channels, args.num_hnu)}
        for name, model in models.items():
            for size in args.sizes:
                res["info"].append({"network": name, "size": size, **net_info(model, size)})

    if "inference" not in args.skip:
        peaks = device_peaks(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
        for size in args.sizes:
            repeats = args.repeats_large if size[0] * size[1] > 1_000_000 else args.repeats
            for g, net in nets.items():
                wanted = tuple(args.variants)
                skip_compile = (
                    args.compile_max_pixels is not None
                    and "compile" in wanted
                    and size[0] * size[1] > args.compile_max_pixels
                )
                if skip_compile:
                    wanted = tuple(v for v in wanted if v != "compile")
                variants, notes, extra = inference_cases(net, size, args.batch, device, wanted)
                if skip_compile:
                    notes["compile"] = (
                        f"not run at this size (--compile-max-pixels {args.compile_max_pixels}): one "
                        "compile takes minutes on this CPU; see its compile time at the smaller size"
                    )
                errors: dict[str, str] = {}
                stats = measure(variants, args.warmup, repeats, sync, errors)
                notes.update(errors)
                for v, note in notes.items():
                    res["notes"][f"inference | {g} | {size[1]}x{size[0]} | {v}"] = note
                base = stats.get("eager")
                for v, s in stats.items():
                    row = {
                        "network": g,
                        "size": size,
                        "variant": v,
                        **_stats_dict(s),
                        "images_per_s": args.batch / s.median,
                        "mpix_per_s": args.batch * size[0] * size[1] / s.median / 1e6,
                        "speedup_vs_eager": base.median / s.median if base else None,
                    }
                    if v == "compile" and "compile_s" in extra:
                        row["compile_s"] = extra["compile_s"]
                        res["notes"]["inference | compile s"] = (
                            "wall time of the first compiled call (TorchInductor, default mode). Inductor keeps "
                            "compiled kernels in an on-disk cache, so a network/size compiled before on the same "
                            "machine compiles much faster than a cold one (set TORCHINDUCTOR_FORCE_DISABLE_CACHES=1 "
                            "for cold numbers)"
                        )
                    res["inference"].append(row)
                    if device.type == "cuda" and v != "onnxruntime":
                        flops = net_info(net, size)["flops"] * args.batch
                        dtype = torch.bfloat16 if v == "bf16_autocast" else torch.float32
                        nbytes = traffic_bytes(net, size, args.batch, dtype=dtype)
                        prec = "bf16" if v == "bf16_autocast" else "tf32"
                        res["roofline"].append(
                            {
                                "network": g,
                                "size": size,
                                "variant": v,
                                "peak": prec,
                                **roofline_row(flops, nbytes, s.median, peaks, prec),
                            }
                        )

    if "train" not in args.skip:
        models = {
            args.genotypes[0]: nets[args.genotypes[0]],
            f"supernet ({args.num_hnu} HNUs)": SuperNet(args.channels, args.num_hnu),
        }
        losses = {"L1": _L1()}
        try:
            from hadamard_restore.losses.loss_weights import load_loss_weights
            from hadamard_restore.losses.mix import LossMix

            losses["searched mix (paper-lol)"] = LossMix.from_weights(load_loss_weights("paper-lol"), trainable=False)
        except Exception as exc:
            res["notes"]["train | searched mix"] = f"not measured: {type(exc).__name__}: {exc}"
        variants, notes = train_cases(models, losses, args.train_crop, args.train_batch, device)
        errors = {}
        stats = measure(variants, args.warmup, args.train_repeats, sync, errors)
        res["notes"].update({f"train | {k}": v for k, v in errors.items()})
        res["train"] = [
            {"case": k, "crop": args.train_crop, "batch": args.train_batch, **_stats_dict(s)} for k, s in stats.items()
        ]

    if "search" not in args.skip:
        variants, notes = search_cases(args.channels, args.num_hnu, args.search_crop, args.search_batch, device)
        res["notes"].update({f"search | {k}": v for k, v in notes.items()})
        errors: dict[str, str] = {}
        stats = measure(variants, args.warmup, args.search_repeats, sync, errors) if variants else {}
        res["notes"].update({f"search | {k}": v for k, v in errors.items()})
        res["search"] = [
            {"case": k, "crop": args.search_crop, "batch": args.search_batch, **_stats_dict(s)}
            for k, s in stats.items()
        ]
    if device.type != "cuda":
        res["notes"]["roofline"] = (
            "not measured: no CUDA GPU here (the code path runs on a GPU: achieved "
            "FLOP/s and bytes/s against the device's published peaks)"
        )
    return res


class _L1(torch.nn.Module):
    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (out - target).abs().mean()


def main(argv: list[str] | None = None) -> Path:
    from benchmarks.speed_report import render
    from hadamard_restore.artifacts import atomic_write_text, write_json

    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.command = " ".join(["python -m benchmarks.speed", *argv])
    res = run(args)
    old_path = args.out.with_suffix(".json")
    if args.update and old_path.is_file():
        old = json.loads(old_path.read_text())
        for section in ("info", "inference", "train", "search", "roofline"):
            if not res[section] and old.get(section):
                res[section] = old[section]
                res["notes"].update({k: v for k, v in old.get("notes", {}).items() if k.startswith(section)})
        res["command"] = f"{old.get('command', '')} ; then {res['command']}"
        res["measured"] = f"{old.get('measured', '?')} and {res['measured']}"
    write_json(args.out.with_suffix(".json"), res)
    atomic_write_text(args.out, render(res))
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    return args.out


if __name__ == "__main__":
    main()
