"""The things :mod:`benchmarks.speed` times: inference variants, training steps, search steps.

Each builder returns ``(variants, notes)``: ``variants`` maps a name to a zero-argument callable
doing one timed unit of work; ``notes`` maps a variant that could not be built to the reason
(missing GPU, a failed compile, an area not merged yet), so the tables say why a row is absent.
"""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Callable

import torch
from torch import nn

Variants = dict[str, Callable[[], object]]
Notes = dict[str, str]

INFERENCE_VARIANTS = ("eager", "channels_last", "compile", "bf16_autocast", "cuda_graphs", "onnxruntime")


def _error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return text[:200]


def onnx_session(net: nn.Module, x: torch.Tensor, threads: int):
    """Export ``net`` at ``x``'s static shape (TorchScript exporter) and open an onnxruntime CPU session."""
    import onnxruntime as ort

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net, (x,), buf, dynamo=False, input_names=["image"], output_names=["restored"], opset_version=17
        )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])


def cuda_graph_fn(net: nn.Module, x: torch.Tensor) -> Callable[[], torch.Tensor]:
    """Capture one no-grad forward of ``net`` on the static input ``x`` as a CUDA graph; replay per call."""
    static_x = x.clone()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream), torch.no_grad():
        for _ in range(3):
            net(static_x)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph), torch.no_grad():
        static_y = net(static_x)

    def replay() -> torch.Tensor:
        graph.replay()
        return static_y

    return replay


def inference_cases(
    net: nn.Module,
    size: tuple[int, int],
    batch: int,
    device: torch.device,
    wanted: tuple[str, ...] = INFERENCE_VARIANTS,
    compile_warmup: bool = True,
) -> tuple[Variants, Notes, dict]:
    """No-grad forwards of ``net`` on a ``(batch, 3, H, W)`` input, one variant per way of running it.

    Returns ``(variants, notes, extra)``; ``extra`` holds one-off costs (``compile_s``, ``export_s``).
    """
    import copy

    h, w = size
    gen = torch.Generator().manual_seed(0)
    x_cpu = torch.rand(batch, 3, h, w, generator=gen)
    net = net.eval().to(device)
    x = x_cpu.to(device)
    cuda = device.type == "cuda"
    out: Variants = {}
    notes: Notes = {}
    extra: dict = {}

    def fwd(module: nn.Module, inp: torch.Tensor, amp: bool = False) -> Callable[[], object]:
        def call() -> object:
            with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                return module(inp)

        return call

    for name in wanted:
        try:
            if name == "eager":
                out[name] = fwd(net, x)
            elif name == "channels_last":
                cl = copy.deepcopy(net).to(memory_format=torch.channels_last)
                out[name] = fwd(cl, x.contiguous(memory_format=torch.channels_last))
            elif name == "compile":
                compiled = torch.compile(copy.deepcopy(net), dynamic=False)
                t0 = time.perf_counter()
                fwd(compiled, x)()  # compile now so the warm-up and timings see the compiled code
                if cuda:
                    torch.cuda.synchronize()
                extra["compile_s"] = time.perf_counter() - t0
                out[name] = fwd(compiled, x)
            elif name == "bf16_autocast":
                if not cuda:
                    notes[name] = "GPU only (bfloat16 autocast is what training uses on CUDA)"
                    continue
                out[name] = fwd(net, x, amp=True)
            elif name == "cuda_graphs":
                if not cuda:
                    notes[name] = "skipped: no CUDA GPU on this machine (code path present, runs when one is)"
                    continue
                out[name] = cuda_graph_fn(net, x)
            elif name == "onnxruntime":
                t0 = time.perf_counter()
                sess = onnx_session(copy.deepcopy(net).cpu(), x_cpu, torch.get_num_threads())
                extra["export_s"] = time.perf_counter() - t0
                feed = {"image": x_cpu.numpy()}
                out[name] = lambda sess=sess, feed=feed: sess.run(None, feed)
                if cuda:
                    notes[name] = "runs on the CPU (CPUExecutionProvider) even on a GPU machine"
            else:
                raise ValueError(f"unknown inference variant {name!r}; choose from {', '.join(INFERENCE_VARIANTS)}")
        except ValueError:
            raise
        except Exception as exc:  # a variant that cannot run here is reported, not fatal
            notes[name] = f"failed: {_error(exc)}"
    return out, notes, extra


def train_cases(
    models: dict[str, nn.Module], losses: dict[str, nn.Module], crop: int, batch: int, device: torch.device
) -> tuple[Variants, Notes]:
    """One optimiser step (forward, loss, backward, clip, AdamW) per model x loss x memory format.

    ``losses`` map a name to ``loss(out, target)`` returning a tensor or ``(total, terms)``.
    On a GPU a bfloat16-autocast variant (the training default there) is added.
    """
    import copy

    gen = torch.Generator().manual_seed(1)
    x = torch.rand(batch, 3, crop, crop, generator=gen).to(device)
    y = torch.rand(batch, 3, crop, crop, generator=gen).to(device)
    formats = {"eager": torch.contiguous_format, "channels_last": torch.channels_last}
    out: Variants = {}
    for mname, model in models.items():
        for lname, loss in losses.items():
            loss = loss.to(device)
            for fname, fmt in formats.items():
                amps = [False, True] if device.type == "cuda" else [False]
                for amp in amps:
                    m = copy.deepcopy(model).to(device).train().to(memory_format=fmt)
                    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-4)
                    xi = x.contiguous(memory_format=fmt)

                    def step(m=m, opt=opt, xi=xi, loss=loss, amp=amp) -> None:
                        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                            pred = m(xi)
                        total = loss(pred.float(), y)
                        total = total[0] if isinstance(total, tuple) else total
                        opt.zero_grad(set_to_none=True)
                        total.backward()
                        torch.nn.utils.clip_grad_norm_(m.parameters(), 5.0)
                        opt.step()

                    tag = fname + (" + bf16" if amp else "")
                    out[f"{mname} | {lname} | {tag}"] = step
    return out, {}
