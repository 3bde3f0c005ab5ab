"""One prepared GPU check: CUDA-only correctness, then items 4-6 of the speed issue, in <= 8 minutes.

Run on a machine with one CUDA GPU (see benchmarks/README.md, "GPU check", for the exact
command and what to carry)::

    PYTHONPATH=src:. python -m benchmarks.product.gpu_check --out-dir $OUT/gpu-check

Parts, in order; each runs in its own subprocess under its own time budget (the whole stays
under ``--budget`` seconds, 420 by default), writes what it measured as it goes, and a part that
fails or runs out of time is recorded in the report, never fatal to the others:

* ``env``: the device, library versions; measured matmul/conv FLOP/s and copy bandwidth against
  the device's published peaks (:mod:`benchmarks.product.roofline`).
* ``correct``: bf16 autocast forward/backward of the derived network with the searched loss mix
  is finite; ONNX export from a CUDA model, parity against the CUDA fp32 output.
* ``ddp``: ``torchrun --nproc_per_node 1`` training and architecture search with NCCL
  (:mod:`benchmarks.product.gpu_ddp_smoke` forces the multi-process code path in one process).
* ``train`` (item 4): one training step of the derived network with the loss mix at batch 16 x
  256 px: eager fp32 vs bf16 autocast + channels-last, + a CUDA graph of the whole step, and +
  ``torch.compile(mode="reduce-overhead")``.
* ``infer`` (item 5): a 1920x1080 frame: fp32 eager vs bf16/fp16, channels-last, CUDA graphs and
  compile; output parity of each against fp32; achieved rates against the peaks.
* ``search`` (item 6): the second-order search step vs a supernet training step.

Outputs, all in ``--out-dir``: ``speed-gpu.md`` (the table), ``results.json`` (every number and
note), ``log.txt`` (each part's output tail). On a GPU the table is also copied to ``--md``
(``benchmarks/results/product/speed-gpu.md``). ``--dry-run`` runs the same parts on the CPU at toy sizes
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
    sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[2] / "src")]
import copy
import math

import torch

from benchmarks.timing import Stats, markdown_table, measure

ROOT = Path(__file__).resolve().parents[2]


# ---- Timed parts -----------------------------------------------------------------------------------------
# The timed parts of :mod:`benchmarks.product.gpu_check`: device rates, training step, inference, search step.
#
# Every comparison is timed side by side in one process, interleaved (:func:`benchmarks.timing.measure`),
# after warm-up; each part records its rows as soon as they exist, so a part stopped by its time
# budget keeps what it measured.
AMP = torch.bfloat16


def _row(s: Stats, base: Stats | None) -> dict:
    return {
        "median_ms": s.median * 1e3,
        "q1_ms": s.q1 * 1e3,
        "q3_ms": s.q3 * 1e3,
        "n": s.n,
        "x_eager": (base.median / s.median) if base else None,
    }


def _rows(stats: dict[str, Stats], base: str) -> dict[str, dict]:
    return {k: _row(s, stats.get(base)) for k, s in stats.items()}


def env_part(p) -> None:
    """The device, versions, and measured matmul/conv/copy rates beside the published peaks."""
    from benchmarks.product.roofline import device_peaks, measure_peaks
    from benchmarks.timing import machine_info

    p.record("machine", machine_info())
    p.record("cuda", p.cuda)
    if p.cuda:
        name = torch.cuda.get_device_name(p.device)
        p.record("gpu", name)
        p.record("published_peaks", device_peaks(name))
        if device_peaks(name) is None:
            p.note("peaks", f"no published peaks known for {name!r} (benchmarks/product/roofline.py PEAKS)")
    else:
        p.note("peaks", "dry run on the CPU: no published GPU peaks; the measured rates are the CPU's")
    s = p.sizes
    p.record(
        "measured",
        measure_peaks(p.device, s["matmul_n"], tuple(s["conv_size"]), s["copy_mib"], repeats=max(3, s["repeats"] // 2)),
    )


def _net_and_mix(p):
    from hadamard_restore.losses.loss_weights import load_loss_weights
    from hadamard_restore.losses.mix import LossMix
    from hadamard_restore.net.genotype import load_genotype
    from hadamard_restore.net.network import HadamardNet

    net = HadamardNet(load_genotype(p.sizes["genotype"]), channels=p.sizes["channels"])
    return net, LossMix.from_weights(load_loss_weights("paper-lol"), trainable=False)


def graphed_train_step(
    model: torch.nn.Module, loss: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, amp: bool = True
) -> Callable[[], torch.Tensor]:
    """The whole training step (bf16 forward, loss mix, backward, clip, AdamW) captured as one CUDA graph.

    The input batch lives in static tensors (copy new data into ``x``/``y`` before a replay); the
    optimiser is ``capturable`` so its step counter stays on the device.
    """
    m = copy.deepcopy(model).to(x.device).train().to(memory_format=torch.channels_last)
    params = [q for q in m.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, capturable=True)
    xi = x.contiguous(memory_format=torch.channels_last)

    def body() -> torch.Tensor:
        with torch.autocast("cuda", dtype=AMP, enabled=amp, cache_enabled=False):  # no weight-cast cache in a graph
            pred = m(xi)
        total = loss(pred.float(), y)[0]
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        return total

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            body()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)  # grads are then allocated from the graph's pool and overwritten each replay
    with torch.cuda.graph(graph):
        static_loss = body()

    def replay() -> torch.Tensor:
        graph.replay()
        return static_loss

    return replay


def _compiled_train_step(model, loss, x, y) -> Callable[[], None]:
    module = copy.deepcopy(model).to(x.device).train().to(memory_format=torch.channels_last)
    m = torch.compile(module, mode="reduce-overhead")
    opt = torch.optim.AdamW([q for q in module.parameters() if q.requires_grad], lr=1e-4, fused=True)
    xi = x.contiguous(memory_format=torch.channels_last)

    def step() -> None:
        torch.compiler.cudagraph_mark_step_begin()
        with torch.autocast("cuda", dtype=AMP):
            pred = m(xi)
        total = loss(pred.float(), y)[0]
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 5.0)
        opt.step()

    return step


def train_part(p) -> None:
    """Item 4: the derived network's training step with the searched loss mix, eager vs the fast paths.

    The eager, channels-last and bf16 rows are ``Trainer.train_step`` itself (:mod:`benchmarks.product.speed`),
    the step ``hadamard-restore train`` runs; the CUDA graph and compile rows are the same work captured whole.
    """
    from benchmarks.product.speed import trainer_cases

    s = p.sizes
    net, mix = _net_and_mix(p)
    mix = mix.to(p.device)
    p.record(
        "shape",
        f"{s['train_batch']} x 3 x {s['train_crop']} x {s['train_crop']}, {s['genotype']} "
        f"width {s['channels']}, loss mix paper-lol (VGG and LPIPS included)",
    )
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(s["train_batch"], 3, s["train_crop"], s["train_crop"], generator=gen).to(p.device)
    y = torch.rand(s["train_batch"], 3, s["train_crop"], s["train_crop"], generator=gen).to(p.device)
    variants: dict[str, Callable[[], object]] = dict(trainer_cases(net, mix, x, y))
    if p.cuda:
        try:
            variants["channels_last + bf16 + CUDA graph (whole step)"] = graphed_train_step(net, mix, x, y)
        except Exception as exc:
            p.note("CUDA graph", f"capture failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
    else:
        p.note("bf16 / CUDA graph / compile", "GPU only: skipped in the CPU dry run")
    errors: dict[str, str] = {}
    p.record("phase 1", _rows(measure(variants, s["warmup"], s["repeats"], p.sync, errors), "eager"))
    for k, v in errors.items():
        p.note(k, v)
    if not p.cuda:
        return
    eager = variants["eager"]
    t0 = time.perf_counter()
    try:
        compiled = _compiled_train_step(net, mix, x, y)
        compiled()
        p.sync()
    except Exception as exc:
        p.note("compile", f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
        return
    p.record("compile_s", time.perf_counter() - t0)
    stats = measure(
        {"eager": eager, "channels_last + bf16 + compile(reduce-overhead)": compiled}, s["warmup"], s["repeats"], p.sync
    )
    p.record("phase 2", _rows(stats, "eager"))


# ---- Correctness parts -----------------------------------------------------------------------------------
# The correctness parts of :mod:`benchmarks.product.gpu_check`: bf16 autocast, ONNX from a CUDA model, DDP
# smoke.


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"


def bf16_finite(p) -> dict:
    """Forward and backward of the derived network under bf16 autocast with the loss mix: all finite?"""
    from hadamard_restore.losses.loss_weights import load_loss_weights
    from hadamard_restore.losses.mix import LossMix
    from hadamard_restore.net.genotype import load_genotype
    from hadamard_restore.net.network import HadamardNet

    s = p.sizes
    crop = min(s["train_crop"], 96)
    net = HadamardNet(load_genotype(s["genotype"]), channels=s["channels"]).to(p.device).train()
    mix = LossMix.from_weights(load_loss_weights("paper-lol"), trainable=False).to(p.device)
    gen = torch.Generator().manual_seed(3)
    x, y = (torch.rand(2, 3, crop, crop, generator=gen).to(p.device) for _ in range(2))
    with torch.autocast(p.device.type, dtype=torch.bfloat16):
        out = net(x)
    total, terms = mix(out.float(), y)
    total.backward()
    grads = [q.grad for q in net.parameters() if q.grad is not None]
    return {
        "device": str(p.device),
        "output dtype under autocast": str(out.dtype),
        "loss": float(total.detach()),
        "terms": {k: float(v.detach()) for k, v in terms.items()},
        "loss finite": bool(torch.isfinite(total)),
        "output finite": bool(torch.isfinite(out).all()),
        "grads finite": bool(grads) and all(bool(torch.isfinite(g).all()) for g in grads),
        "params with grad": len(grads),
    }


def onnx_from_device(p) -> dict:
    """``export_onnx`` of a model living on the device; parity of onnxruntime against that device's fp32 output."""
    import onnxruntime as ort

    from hadamard_restore.inference.export import export_onnx
    from hadamard_restore.net.genotype import load_genotype
    from hadamard_restore.net.network import HadamardNet

    s = p.sizes
    net = HadamardNet(load_genotype(s["genotype"]), channels=s["channels"]).to(p.device).eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        report = export_onnx(net, path, exporter=s["onnx_exporter"], check_max_side=s["onnx_side"])
        data = path.read_bytes()
    res = {
        "exporter": report.exporter,
        "opset": report.opset,
        "export parity (CPU torch vs onnxruntime)": report.max_abs_diff,
        "model device after export": str(next(net.parameters()).device),
    }
    net.to(p.device)
    side = s["onnx_side"]
    x = torch.rand(1, 3, side + 3, side - 1, generator=torch.Generator().manual_seed(4))
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = torch.from_numpy(sess.run(None, {"image": x.numpy()})[0])
    for tf32 in (True, False) if p.cuda else (False,):
        torch.backends.cudnn.allow_tf32 = tf32
        with torch.no_grad():
            ref = net(x.to(p.device)).float().cpu().clamp(0.0, 1.0)  # the exported graph clamps
        res[f"max |onnxruntime - {p.device.type} fp32| (TF32 {'on' if tf32 else 'off'})"] = float(
            (got - ref).abs().max()
        )
    torch.backends.cudnn.allow_tf32 = True
    return res


def correct_part(p) -> None:
    """bf16 autocast finiteness and ONNX export from a model on the device, each recorded on its own."""
    if not p.cuda:
        p.note("device", "dry run: both checks ran on the CPU (CPU bf16 autocast, ONNX from a CPU model)")
    for key, fn in (("bf16 autocast", bf16_finite), ("onnx from device model", onnx_from_device)):
        try:
            p.record(key, fn(p))
        except Exception as exc:  # one check failing must not hide the other
            p.record(key, {"error": _error(exc)})


def ddp_part(p) -> None:
    """``torchrun --nproc_per_node 1`` search + training through NCCL (:mod:`benchmarks.product.gpu_ddp_smoke`)."""
    if not p.cuda and not getattr(p, "ddp_on_cpu", False):
        p.note("ddp", "GPU only: skipped in the CPU dry run (--ddp-on-cpu runs it with gloo)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "1",
            str(ROOT / "benchmarks" / "product" / "gpu_ddp_smoke.py"),
            "--out",
            tmp,
            "--device",
            "cuda" if p.cuda else "cpu",
        ]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        tail = (proc.stdout + proc.stderr).strip().splitlines()
        p.record(
            "torchrun",
            {
                "command": "torchrun --standalone --nproc_per_node 1 benchmarks/product/gpu_ddp_smoke.py "
                f"--device {cmd[-1]}",
                "exit": proc.returncode,
                "ok": proc.returncode == 0 and "): OK" in proc.stdout,
                "last lines": tail[-6:],
            },
        )
        if proc.returncode != 0:
            raise RuntimeError(f"torchrun smoke exited {proc.returncode}: {tail[-1] if tail else ''}")


# ---- Inference and search parts --------------------------------------------------------------------------
# Item 5 and 6 of :mod:`benchmarks.product.gpu_check`: a 1920x1080 frame, and the search step.
#
# Inference variants, fastest-first in intent: fp32 eager (the baseline), bf16 autocast, fp16 and
# bf16 weights in channels-last, the same captured as CUDA graphs, and ``torch.compile``
# (mode ``reduce-overhead``). The parity of each against the fp32 eager output is stated as the
# max abs difference and the PSNR of the clamped outputs (the saved image's range).
def _forward(
    net: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, amp: torch.dtype | None = None
) -> Callable[[], torch.Tensor]:
    def call() -> torch.Tensor:
        with torch.no_grad(), torch.autocast(x.device.type, dtype=amp or torch.bfloat16, enabled=amp is not None):
            return net(x)

    return call


def inference_variants(net: torch.nn.Module, x: torch.Tensor) -> tuple[dict, dict[str, str]]:
    """``{name: zero-argument forward}`` for this device (CUDA-only ones only on a GPU)."""
    from benchmarks.product.speed import cuda_graph_fn

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
        low = copy.deepcopy(net).to(dtype).to(memory_format=cl)
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
    from benchmarks.product.roofline import device_peaks, roofline_row, traffic_bytes
    from hadamard_restore.net.info import net_info

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
    from hadamard_restore.net.genotype import load_genotype
    from hadamard_restore.net.network import HadamardNet

    s = p.sizes
    h, w = s["infer_size"]
    net = HadamardNet(load_genotype(s["genotype"]), channels=s["channels"]).eval().to(p.device)
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
    low = copy.deepcopy(net).to(torch.float16).to(memory_format=torch.channels_last)
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
    from benchmarks.product.speed import search_cases, trainer_step
    from hadamard_restore.losses.loss_weights import load_loss_weights
    from hadamard_restore.losses.mix import LossMix
    from hadamard_restore.net.supernet import SuperNet

    s = p.sizes
    crop, batch = s["search_crop"], s["search_batch"]
    p.record("shape", f"supernet width {s['channels']}, {s['num_hnu']} HNUs, {batch} x {crop} px crops")
    mix = LossMix.from_weights(load_loss_weights("paper-lol"), trainable=False).to(p.device)
    gen = torch.Generator().manual_seed(1)
    x, y = (torch.rand(batch, 3, crop, crop, generator=gen).to(p.device) for _ in range(2))
    base = "supernet training step (Trainer, fp32, loss mix)"
    variants: dict[str, Callable[[], object]] = {base: trainer_step(SuperNet(s["channels"], s["num_hnu"]), mix, x, y)}
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
    return {
        "env": env_part,
        "correct": correct_part,
        "ddp": ddp_part,
        "train": train_part,
        "infer": infer_part,
        "search": search_part,
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
        default=Path("benchmarks/results/product/speed-gpu.md"),
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
                cmd = [sys.executable, "-m", "benchmarks.product.gpu_check", "--part", name, "--part-json", str(path)]
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


# ---- Report ----------------------------------------------------------------------------------------------
# Markdown for :mod:`benchmarks.product.gpu_check`'s results (``speed-gpu.md``).
GOALS = {
    "train": ("item 4: training step >= 4x eager at batch 16 x 256 px", 4.0),
    "infer": ("item 5: a 1920x1080 frame in <= 3 ms", 3.0),
    "search": ("item 6: second-order search step <= 3x a supernet training step", 3.0),
}


def _f(x, nd: int = 2) -> str:
    return "" if x is None else f"{x:,.{nd}f}" if isinstance(x, float) else str(x)


def _timing_table(rows: dict, ratio_key: str = "x_eager", ratio_name: str = "x eager") -> list[str]:
    table = [
        [k, _f(r["median_ms"]), f"{_f(r['q1_ms'])}-{_f(r['q3_ms'])}", r["n"], _f(r.get(ratio_key))]
        for k, r in rows.items()
    ]
    return [markdown_table(["variant", "median ms", "IQR ms", "n", ratio_name], table), ""]


def _best(rows: dict, key: str = "x_eager") -> tuple[str, float] | None:
    cands = [(k, r[key]) for k, r in rows.items() if r.get(key)]
    return max(cands, key=lambda kv: kv[1]) if cands else None


def _goals(parts: dict, dry: bool) -> list[str]:
    lines = ["## Goals of the speed issue", ""]
    if dry:
        lines += ["Not judged in a dry run (toy sizes on a CPU); the lines below only show the wiring.", ""]
    train = {
        **parts.get("train", {}).get("data", {}).get("phase 1", {}),
        **parts.get("train", {}).get("data", {}).get("phase 2", {}),
    }
    best = _best({k: v for k, v in train.items() if k != "eager"})
    lines.append(
        f"- {GOALS['train'][0]}: "
        + (
            f"best {best[1]:.2f}x ({best[0]}): {'MET' if best[1] >= GOALS['train'][1] else 'not met'}"
            if best
            else "not measured"
        )
    )
    infer = {
        **parts.get("infer", {}).get("data", {}).get("phase 1", {}),
        **parts.get("infer", {}).get("data", {}).get("phase 2", {}),
    }
    fastest = min(infer.items(), key=lambda kv: kv[1]["median_ms"]) if infer else None
    lines.append(
        f"- {GOALS['infer'][0]}: "
        + (
            f"fastest {fastest[1]['median_ms']:.2f} ms ({fastest[0]}): "
            f"{'MET' if fastest[1]['median_ms'] <= GOALS['infer'][1] else 'not met'}"
            if fastest
            else "not measured"
        )
    )
    steps = parts.get("search", {}).get("data", {}).get("steps", {})
    second = {
        k: r["x_train_step"]
        for k, r in steps.items()
        if r.get("x_train_step") and "first_order" not in k and "training step" not in k
    }
    worst = max(second.items(), key=lambda kv: kv[1]) if second else None
    lines.append(
        f"- {GOALS['search'][0]}: "
        + (
            f"worst {worst[1]:.2f}x ({worst[0]}): {'MET' if worst[1] <= GOALS['search'][1] else 'not met'}"
            if worst
            else "not measured"
        )
    )
    return lines + [""]


def _env(d: dict) -> list[str]:
    m, pub = d.get("measured", {}), d.get("published_peaks") or {}
    rows = [
        ["matmul (bf16 on GPU)", _f(m.get("matmul_tflops")), "TFLOP/s", _f(pub.get("bf16", 0) / 1e12 or None, 0)],
        ["3x3 conv, channels-last", _f(m.get("conv_tflops")), "TFLOP/s", _f(pub.get("bf16", 0) / 1e12 or None, 0)],
        [
            "device copy (read + write)",
            _f(m.get("copy_tbps"), 3),
            "TB/s",
            _f(pub.get("bandwidth", 0) / 1e12 or None, 2),
        ],
    ]
    return [
        "## Device: measured rates against published peaks",
        "",
        markdown_table(["kernel", "measured", "unit", "published dense peak"], rows),
        "",
    ]


def _item_section(title: str, d: dict) -> list[str]:
    """One measured item (training step, inference, search step): its timing tables, compile time,
    output parity and achieved rates."""
    out = [f"## {title}", "", f"Shape: {d.get('shape', '')}.", ""]
    for phase in ("phase 1", "phase 2"):
        if d.get(phase):
            out += [f"{phase} (timed side by side, interleaved):", ""] + _timing_table(d[phase])
    if d.get("steps"):
        out += _timing_table(d["steps"], "x_train_step", "cost in supernet training steps")
    if d.get("compile_s") is not None:
        out += [f"First compiled call (compile time): {d['compile_s']:.1f} s.", ""]
    par = {
        **d.get("parity vs fp32 eager", {}),
        **({"compile": d["parity compile"]} if "parity compile" in d else {}),
    }
    if par:
        out += [
            "Output parity against fp32 eager (outputs clamped to [0, 1]):",
            "",
            markdown_table(
                ["variant", "max abs diff", "PSNR dB"],
                [[k, f"{v['max_abs']:.2e}", _f(v["psnr_db"], 1)] for k, v in par.items()],
            ),
            "",
        ]
    if d.get("roofline"):
        out += [
            "Achieved rates (FLOPs from the counter, bytes unfused, benchmarks/product/roofline.py):",
            "",
            markdown_table(
                ["variant", "TFLOP/s", "% of peak", "TB/s", "% of bandwidth"],
                [
                    [k, _f(r["tflops"], 3), _f(r["flop_pct"], 1), _f(r["tbps"], 3), _f(r["bw_pct"], 1)]
                    for k, r in d["roofline"].items()
                ],
            ),
            "",
        ]
    return out


def render(res: dict) -> str:
    parts = res["parts"]
    env = parts.get("env", {}).get("data", {})
    title = env.get("gpu") or "no GPU"
    out = [f"# GPU check: {title}", ""]
    if res.get("dry_run"):
        out += [
            "**DRY RUN on the CPU at toy sizes** (`--dry-run`): this checks that the script runs; "
            "no number here is a GPU measurement.",
            "",
        ]
    out += [f"Sizes: `{json.dumps(res.get('sizes', {}))}`.", ""]
    if env.get("machine"):
        out += [markdown_table(["machine", ""], [[k, v] for k, v in env["machine"].items()]), ""]
    out += [
        "## Parts",
        "",
        markdown_table(
            ["part", "status", "seconds", "error"],
            [[k, v.get("status"), v.get("seconds", ""), v.get("error") or ""] for k, v in parts.items()],
        ),
        "",
    ]
    out += _goals(parts, bool(res.get("dry_run")))
    if env.get("measured"):
        out += _env(env)
    corr = parts.get("correct", {}).get("data", {})
    for key, val in corr.items():
        out += [f"## Correctness: {key}", "", markdown_table(["check", "value"], [[k, v] for k, v in val.items()]), ""]
    ddp = parts.get("ddp", {}).get("data", {}).get("torchrun")
    if ddp:
        out += [
            "## DDP smoke (torchrun, one process, multi-process code path)",
            "",
            markdown_table(["check", "value"], [[k, v] for k, v in ddp.items()]),
            "",
        ]
    for name, title_ in (
        ("train", "Item 4: training step"),
        ("infer", "Item 5: inference"),
        ("search", "Item 6: search step"),
    ):
        d = parts.get(name, {}).get("data", {})
        if d:
            out += _item_section(title_, d)
    notes = [f"- **{p} | {k}**: {v}" for p, r in parts.items() for k, v in r.get("notes", {}).items()]
    if notes:
        out += ["## Notes", ""] + notes + [""]
    return "\n".join(out)


if __name__ == "__main__":
    main()
