"""The timed parts of :mod:`benchmarks.gpu_check`: device rates, training step, inference, search step.

Every comparison is timed side by side in one process, interleaved (:func:`benchmarks.timing.measure`),
after warm-up; each part records its rows as soon as they exist, so a part stopped by its time
budget keeps what it measured.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

import torch

from benchmarks.timing import Stats, measure

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
    from benchmarks.roofline import device_peaks, measure_peaks
    from benchmarks.timing import machine_info

    p.record("machine", machine_info())
    p.record("cuda", p.cuda)
    if p.cuda:
        name = torch.cuda.get_device_name(p.device)
        p.record("gpu", name)
        p.record("published_peaks", device_peaks(name))
        if device_peaks(name) is None:
            p.note("peaks", f"no published peaks known for {name!r} (benchmarks/roofline.py PEAKS)")
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
    from hadamard_restore.net import HadamardNet

    net = HadamardNet(p.sizes["genotype"], channels=p.sizes["channels"])
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
    m = torch.compile(
        copy.deepcopy(model).to(x.device).train().to(memory_format=torch.channels_last), mode="reduce-overhead"
    )
    opt = torch.optim.AdamW([q for q in m.parameters() if q.requires_grad], lr=1e-4, fused=True)
    xi = x.contiguous(memory_format=torch.channels_last)

    def step() -> None:
        torch.compiler.cudagraph_mark_step_begin()
        with torch.autocast("cuda", dtype=AMP):
            pred = m(xi)
        total = loss(pred.float(), y)[0]
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 5.0)
        opt.step()

    return step


def train_part(p) -> None:
    """Item 4: the derived network's training step with the searched loss mix, eager vs the fast paths.

    The eager, channels-last and bf16 rows are ``Trainer.train_step`` itself (:mod:`benchmarks.trainer_step`),
    the step ``hadamard-restore train`` runs; the CUDA graph and compile rows are the same work captured whole.
    """
    from benchmarks.trainer_step import trainer_cases

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
