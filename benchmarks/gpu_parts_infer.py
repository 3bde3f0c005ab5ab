"""Item 5 and 6 of :mod:`benchmarks.gpu_check`: a 1920x1080 frame, and the search step.

Inference variants, fastest-first in intent: fp32 eager (the baseline), bf16 autocast, fp16 and
bf16 weights in channels-last, the same captured as CUDA graphs, and ``torch.compile``
(mode ``reduce-overhead``). The parity of each against the fp32 eager output is stated as the
max abs difference and the PSNR of the clamped outputs (the saved image's range).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable

import torch

from benchmarks.gpu_parts_speed import _rows
from benchmarks.timing import measure


def _forward(net: torch.nn.Module, x: torch.Tensor, amp: torch.dtype | None = None) -> Callable[[], torch.Tensor]:
    def call() -> torch.Tensor:
        with torch.no_grad(), torch.autocast(x.device.type, dtype=amp or torch.bfloat16, enabled=amp is not None):
            return net(x)

    return call


def inference_variants(net: torch.nn.Module, x: torch.Tensor) -> tuple[dict, dict[str, str]]:
    """``{name: zero-argument forward}`` for this device (CUDA-only ones only on a GPU)."""
    from benchmarks.speed_cases import cuda_graph_fn

    cl = torch.channels_last
    out = {
        "fp32 eager": _forward(net, x),
        "fp32 channels-last": _forward(copy.deepcopy(net).to(memory_format=cl), x.contiguous(memory_format=cl)),
    }
    notes: dict[str, str] = {}
    if x.device.type != "cuda":
        notes["fp16/bf16, CUDA graphs, compile"] = "GPU only: skipped in the CPU dry run"
        return out, notes
    out["bf16 autocast"] = _forward(net, x, torch.bfloat16)
    for name, dtype in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
        low = copy.deepcopy(net).to(dtype=dtype, memory_format=cl)
        xl = x.to(dtype).contiguous(memory_format=cl)
        out[f"{name} channels-last"] = _forward(low, xl)
        try:
            out[f"{name} channels-last + CUDA graph"] = cuda_graph_fn(low, xl)
        except Exception as exc:
            notes[f"{name} CUDA graph"] = f"capture failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
    return out, notes


def parity(ref: torch.Tensor, got: torch.Tensor) -> dict:
    """Max abs difference and PSNR (dB) of the clamped outputs, ``got`` against ``ref``."""
    a, b = ref.float().clamp(0, 1), got.float().clamp(0, 1)
    mse = float(((a - b) ** 2).mean())
    return {"max_abs": float((a - b).abs().max()), "psnr_db": math.inf if mse == 0 else 10 * math.log10(1 / mse)}


def _roofline(p, net, rows: dict) -> None:
    from benchmarks.roofline import device_peaks, roofline_row, traffic_bytes
    from hadamard_restore.net import net_info

    size = tuple(p.sizes["infer_size"])
    flops = net_info(net, size)["flops"]
    peaks = device_peaks(torch.cuda.get_device_name(p.device)) if p.cuda else None
    out = {}
    for name, r in rows.items():
        low = name.startswith(("fp16", "bf16"))
        nbytes = traffic_bytes(net, size, dtype=torch.float16 if low else torch.float32)
        out[name] = roofline_row(flops, nbytes, r["median_ms"] / 1e3, peaks, "bf16" if low else "tf32")
    p.record("roofline", out)


def infer_part(p) -> None:
    """Item 5: one frame of ``infer_size`` through each variant, with parity against fp32 eager."""
    from hadamard_restore.net import HadamardNet

    s = p.sizes
    h, w = s["infer_size"]
    net = HadamardNet(s["genotype"], channels=s["channels"]).eval().to(p.device)
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0)).to(p.device)
    p.record("shape", f"1 x 3 x {h} x {w} ({w}x{h}), {s['genotype']} width {s['channels']}")
    variants, notes = inference_variants(net, x)
    for k, v in notes.items():
        p.note(k, v)
    ref = variants["fp32 eager"]().float().clone()
    p.record("parity vs fp32 eager", {k: parity(ref, f()) for k, f in variants.items() if k != "fp32 eager"})
    errors: dict[str, str] = {}
    rows = _rows(measure(variants, s["warmup"], s["repeats"], p.sync, errors), "fp32 eager")
    p.record("phase 1", rows)
    for k, v in errors.items():
        p.note(k, v)
    _roofline(p, net, rows)
    if not p.cuda:
        return
    low = copy.deepcopy(net).to(dtype=torch.float16, memory_format=torch.channels_last)
    xl = x.half().contiguous(memory_format=torch.channels_last)
    t0 = time.perf_counter()
    try:
        compiled = torch.compile(low, mode="reduce-overhead")
        call = _forward(compiled, xl)
        got = call().clone()
        p.sync()
    except Exception as exc:
        p.note("compile", f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
        return
    p.record("compile_s", time.perf_counter() - t0)
    p.record("parity compile", parity(ref, got))
    best = "fp16 channels-last + CUDA graph" if "fp16 channels-last + CUDA graph" in variants else "fp16 channels-last"
    stats = measure(
        {
            "fp32 eager": variants["fp32 eager"],
            best: variants[best],
            "fp16 channels-last + compile(reduce-overhead)": call,
        },
        s["warmup"],
        s["repeats"],
        p.sync,
    )
    p.record("phase 2", _rows(stats, "fp32 eager"))


def search_part(p) -> None:
    """Item 6: the second-order bilevel step (both stages) vs a supernet training step (``Trainer.train_step``)."""
    from benchmarks.speed_search import search_cases
    from benchmarks.trainer_step import trainer_step
    from hadamard_restore.losses.loss_weights import load_loss_weights
    from hadamard_restore.losses.mix import LossMix
    from hadamard_restore.net import SuperNet

    s = p.sizes
    crop, batch = s["search_crop"], s["search_batch"]
    p.record("shape", f"supernet width {s['channels']}, {s['num_hnu']} HNUs, {batch} x {crop} px crops")
    mix = LossMix.from_weights(load_loss_weights("paper-lol"), trainable=False).to(p.device)
    gen = torch.Generator().manual_seed(1)
    x, y = (torch.rand(batch, 3, crop, crop, generator=gen).to(p.device) for _ in range(2))
    base = "supernet training step (Trainer, fp32, loss mix)"
    variants = {base: trainer_step(SuperNet(s["channels"], s["num_hnu"]), mix, x, y)}
    search, notes = search_cases(s["channels"], s["num_hnu"], crop, batch, p.device, modes=tuple(s["search_modes"]))
    variants.update(search)
    for k, v in notes.items():
        p.note(k, v)
    errors: dict[str, str] = {}
    stats = measure(variants, s["warmup"], s["search_repeats"], p.sync, errors)
    rows = _rows(stats, base)
    for r in rows.values():  # here the ratio reads "cost in supernet training steps"
        r["x_train_step"] = 1 / r.pop("x_eager") if r.get("x_eager") else None
    p.record("steps", rows)
    for k, v in errors.items():
        p.note(k, v)
