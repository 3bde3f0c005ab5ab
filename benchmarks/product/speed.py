"""Speed benchmark: size, cost, inference latency/throughput, training and search step times.

Run from the repository root (CPU-sized example; ``--help`` lists every flag)::

    OMP_NUM_THREADS=1 PYTHONPATH=src python -m benchmarks.product.speed --out benchmarks/results/product/speed-cpu.md

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
    sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[2] / "src")]

import copy
import io
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from functools import partial

import torch
from torch import nn

from benchmarks.product.roofline import device_peaks, roofline_row, traffic_bytes
from benchmarks.timing import Stats, machine_info, markdown_table, measure

# ---- Cases -----------------------------------------------------------------------------------------------
# The things :mod:`benchmarks.product.speed` times: inference variants, training steps, search steps.
#
# Each builder returns ``(variants, notes)``: ``variants`` maps a name to a zero-argument callable
# doing one timed unit of work; ``notes`` maps a variant that could not be built to the reason
# (missing GPU, a failed compile, an area not merged yet), so the tables say why a row is absent.
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
            net,
            (x,),
            buf,  # type: ignore[arg-type]  # torch's stub omits the file object the TorchScript exporter writes to
            dynamo=False,
            input_names=["image"],
            output_names=["restored"],
            opset_version=17,
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

    def fwd(module: Callable[[torch.Tensor], object], inp: torch.Tensor, amp: bool = False) -> Callable[[], object]:
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
                out[name] = partial(sess.run, None, {"image": x_cpu.numpy()})
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
    models: Mapping[str, nn.Module], losses: Mapping[str, nn.Module], crop: int, batch: int, device: torch.device
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


# ---- Search-step cases -----------------------------------------------------------------------------------
# Search-step timing for :mod:`benchmarks.product.speed`: one full bilevel step per stage and order.
#
# A step is :func:`hadamard_restore.search.loop.bilevel_step`: the unrolled hypergradient of the
# upper variables, their Adam step, then the SGD step of the weights, on one fixed train batch and
# one fixed validation batch (``B = batch``, ``crop x crop`` random images; the values do not
# change the cost). The hypergradient modes compared:
#
# * ``first_order``: ∇θ L_up at the current weights (stage 2 only in real searches: for stage 1
#   it is exactly zero for β, so the search refuses it; it is timed here for the cost comparison
#   and labelled as such);
# * ``finite_difference``: the second-order step of the paper's code (two extra train-loss
#   gradients at w ± εv);
# * ``exact``: the same second-order term by double backward.
#
# Stage 1: supernet (instance norm, α frozen), relaxed 8-term loss mix, ResNet-18 classifier
# (random init: the weights do not change the cost). Stage 2: supernet without norm, α trainable,
# the searched loss fixed (``paper-lol`` weights, TV/Laplacian off).
MODES = ("first_order", "finite_difference", "exact")


def _fixed_batches(batch: int, crop: int, device: torch.device) -> Callable[[str, torch.Generator], tuple]:
    """The search's ``sample(which, generator)`` returning one fixed random train batch and one fixed
    validation batch (the values do not change the cost)."""
    gen = torch.Generator().manual_seed(2)
    batches = {
        k: (
            torch.rand(batch, 3, crop, crop, generator=gen).to(device),
            torch.rand(batch, 3, crop, crop, generator=gen).to(device),
        )
        for k in ("train", "val")
    }

    def sample(which: str, generator: torch.Generator) -> tuple:
        return batches[which]

    return sample


def search_cases(
    channels: int,
    num_hnu: int,
    crop: int,
    batch: int,
    device: torch.device,
    modes: tuple[str, ...] = MODES,
    classifier_arch: str = "resnet18",
) -> tuple[Variants, Notes]:
    """``{"stage N | mode": step}``; on an import failure, one note says which area is missing.

    ``classifier_arch``: the stage-1 classifier's ``classifier.arch`` (a ResNet at random init, or a
    feature classifier with its frozen ImageNet trunk and an untrained head: the weights do not change the cost).
    """
    try:
        from hadamard_restore.classifier.model import build_classifier, freeze_classifier
        from hadamard_restore.config import RunConfig
        from hadamard_restore.losses.loss_weights import load_loss_weights
        from hadamard_restore.runtime.process import Dist
        from hadamard_restore.search.arch_stage import fixed_mix
        from hadamard_restore.search.build import classifier_objective, mix_objective, supernet
        from hadamard_restore.search.loop import Problem, bilevel_step, make_optimizers
        from hadamard_restore.search.loss_stage import search_mix
    except ImportError as exc:
        return {}, {"search steps": f"not measured: the search/losses areas are not merged yet ({exc})"}

    cfg = RunConfig()
    cfg.net.channels, cfg.net.num_hnu = channels, num_hnu
    cfg.search.crop, cfg.search.batch_size = crop, batch
    sample = _fixed_batches(batch, crop, device)
    clf = freeze_classifier(build_classifier(classifier_arch, pretrained=classifier_arch != "resnet18").to(device))
    out: Variants = {}
    notes: Notes = {}
    for stage in ("loss", "arch"):
        model = supernet(cfg.net, cfg.seed, "instance" if stage == "loss" else "none", device)
        model.freeze_arch(stage == "loss")
        weights = dict(model.named_weights())
        if stage == "loss":
            mix = search_mix(cfg.loss, cfg.seed, device)
            upper = mix.upper_parameters()
            train_loss = mix_objective(model, mix)
            upper_loss = classifier_objective(model, clf)
        else:
            mix, _ = fixed_mix(cfg.loss, load_loss_weights("paper-lol"), device)
            upper = model.arch_parameters()
            train_loss = mix_objective(model, mix)

            def upper_loss(params, b, weighted=train_loss):
                return weighted(params, b)[0]

        problem = Problem(
            stage,
            model,
            weights,
            upper,
            train_loss,
            upper_loss,
            sample,
            {"train": torch.Generator(), "val": torch.Generator()},
            project=getattr(mix, "project_", lambda: None),
        )
        w_opt, up_opt = make_optimizers(problem, cfg.search)
        label = "stage 1 (loss)" if stage == "loss" else "stage 2 (arch)"
        for mode in modes:
            scfg = cfg.search.model_copy(update={"hessian": mode})
            out[f"{label} | {mode}"] = partial(bilevel_step, problem, w_opt, up_opt, scfg, Dist())
        if "first_order" in modes and stage == "loss":
            notes[f"{label} | first_order"] = (
                "timed for comparison only: it gives beta exactly zero "
                "gradient, so the search refuses it (docs/method.md 6.3)"
            )
    return out, notes


# ---- The training step -----------------------------------------------------------------------------------
# The training step the benchmarks time is the one training runs:
# :class:`~hadamard_restore.training.trainer.Trainer`.
#
# ``trainer_step`` builds a ``Trainer`` around a copy of the model, the loss and one fixed batch and
# returns a zero-argument callable doing one ``Trainer.train_step`` (forward under the config's
# autocast, loss mix, the divergence check, backward, clipping, AdamW, the scheduler): exactly the
# per-step work of ``hadamard-restore train``, without validation, checkpoints or logging (the loop
# around it, which runs every ``val_every`` / ``checkpoint_every`` / ``log_every`` steps).
def trainer_step(
    model: nn.Module,
    loss: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    amp: bool = False,
    channels_last: bool = False,
) -> Callable[[], dict]:
    """One ``Trainer.train_step`` per call on the batch ``(x, y)`` (already on the device).

    ``amp`` is ``train.amp`` (bf16 autocast where bfloat16 is native) and ``channels_last`` is
    ``train.channels_last``; the schedule is constant so the learning rate never reaches zero.
    """
    from hadamard_restore.config import TrainConfig
    from hadamard_restore.training.trainer import TrainData, Trainer

    tcfg = TrainConfig(
        steps=10**8,  # the largest train.steps allows: never reached by a benchmark
        batch_size=x.shape[0],
        crop=max(8, x.shape[-1]),
        schedule="constant",
        amp=amp,
        channels_last=channels_last,
    )
    data = TrainData(sample=lambda batch, gen: (x, y), val=[(x[0], y[0])])
    # a step writes nothing: the run directory (checkpoints, logs) belongs to the loop around it
    trainer = Trainer(
        copy.deepcopy(model),
        loss,
        data,
        tcfg,
        Path(tempfile.gettempdir()) / "unused-run-dir",
        meta={},
        seed=0,
        device=x.device,
        progress=False,
    )
    trainer.model.train()

    def step() -> dict:
        return trainer.train_step(trainer.model)[0]

    return step


def trainer_cases(model: nn.Module, loss: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, Callable[[], dict]]:
    """``{"eager", "channels_last"}`` Trainer steps in fp32, and where bfloat16 is native (a GPU, a
    CPU with AVX512-BF16 or AMX) the same with ``+ bf16`` (``channels_last + bf16`` is then the
    training default: ``train.amp`` and ``train.channels_last`` are on by default)."""
    from hadamard_restore.runtime.precision import native_bf16

    out = {}
    for name, cl in (("eager", False), ("channels_last", True)):
        for amp in (False, True) if native_bf16(x.device) else (False,):
            out[name + (" + bf16" if amp else "")] = trainer_step(model, loss, x, y, amp=amp, channels_last=cl)
    return out


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
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/product/speed-cpu.md"))
    return p


def _stats_dict(s: Stats) -> dict:
    return {"median_s": s.median, "q1_s": s.q1, "q3_s": s.q3, "min_s": s.min, "max_s": s.max, "n": s.n}


def run(args: argparse.Namespace) -> dict:
    """Every section; returns the raw results (also what :func:`render` formats)."""
    from hadamard_restore.net.genotype import load_genotype
    from hadamard_restore.net.info import net_info
    from hadamard_restore.net.network import HadamardNet
    from hadamard_restore.net.supernet import SuperNet
    from hadamard_restore.runtime.process import pick_device

    device = pick_device(args.device)
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
    nets = {g: HadamardNet(load_genotype(g), channels=args.channels) for g in args.genotypes}
    if "info" not in args.skip:
        models = {**nets, f"supernet ({args.num_hnu} HNUs)": SuperNet(args.channels, args.num_hnu)}
        for name, model in models.items():
            for size in args.sizes:
                res["info"].append({"network": name, "size": size, **net_info(model, size)})
    if "inference" not in args.skip:
        _run_inference(res, args, nets, device)
    if "train" not in args.skip:
        models = {
            args.genotypes[0]: nets[args.genotypes[0]],
            f"supernet ({args.num_hnu} HNUs)": SuperNet(args.channels, args.num_hnu),
        }
        _run_train(res, args, models, device)
    if "search" not in args.skip:
        variants, notes = search_cases(args.channels, args.num_hnu, args.search_crop, args.search_batch, device)
        res["notes"].update({f"search | {k}": v for k, v in notes.items()})
        res["search"] = _timed_steps(res, "search", variants, args, args.search_repeats, device)
    if device.type != "cuda":
        res["notes"]["roofline"] = (
            "not measured: no CUDA GPU here (the code path runs on a GPU: achieved "
            "FLOP/s and bytes/s against the device's published peaks)"
        )
    return res


def _sync(device: torch.device) -> Callable[[], None]:
    """What waits for the device's queued work (nothing on the CPU)."""
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def _run_inference(res: dict, args: argparse.Namespace, nets: Mapping[str, nn.Module], device: torch.device) -> None:
    """The inference section: every network at every size, the variants side by side."""
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
            stats = measure(variants, args.warmup, repeats, _sync(device), errors)
            notes.update(errors)
            for v, note in notes.items():
                res["notes"][f"inference | {g} | {size[1]}x{size[0]} | {v}"] = note
            for v, s in stats.items():
                res["inference"].append(_inference_row(res, g, size, v, s, args.batch, stats.get("eager"), extra))
                if device.type == "cuda" and v != "onnxruntime":
                    res["roofline"].append(_roofline_entry(net, g, size, v, s, args.batch, peaks))


def _inference_row(
    res: dict, g: str, size: tuple[int, int], v: str, s: Stats, batch: int, base: Stats | None, extra: dict
) -> dict:
    """One row of the inference table (its compile time, and the note that explains it, for ``compile``)."""
    row = {
        "network": g,
        "size": size,
        "variant": v,
        **_stats_dict(s),
        "images_per_s": batch / s.median,
        "mpix_per_s": batch * size[0] * size[1] / s.median / 1e6,
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
    return row


def _roofline_entry(
    net: nn.Module, g: str, size: tuple[int, int], v: str, s: Stats, batch: int, peaks: dict | None
) -> dict:
    """Achieved FLOP rate and bandwidth of one timed GPU variant against the device's peaks."""
    from hadamard_restore.net.info import net_info

    flops = net_info(net, size)["flops"] * batch
    dtype = torch.bfloat16 if v == "bf16_autocast" else torch.float32
    nbytes = traffic_bytes(net, size, batch, dtype=dtype)
    prec = "bf16" if v == "bf16_autocast" else "tf32"
    return {
        "network": g,
        "size": size,
        "variant": v,
        "peak": prec,
        **roofline_row(flops, nbytes, s.median, peaks, prec),
    }


def _run_train(res: dict, args: argparse.Namespace, models: Mapping[str, nn.Module], device: torch.device) -> None:
    """The training-step section: each model with the L1 loss and the searched mix."""
    losses: dict[str, nn.Module] = {"L1": _L1()}
    try:
        from hadamard_restore.losses.loss_weights import load_loss_weights
        from hadamard_restore.losses.mix import LossMix

        losses["searched mix (paper-lol)"] = LossMix.from_weights(load_loss_weights("paper-lol"), trainable=False)
    except Exception as exc:
        res["notes"]["train | searched mix"] = f"not measured: {type(exc).__name__}: {exc}"
    variants, _ = train_cases(models, losses, args.train_crop, args.train_batch, device)
    res["train"] = _timed_steps(res, "train", variants, args, args.train_repeats, device)


def _timed_steps(
    res: dict, section: str, variants: Variants, args: argparse.Namespace, repeats: int, device: torch.device
) -> list[dict]:
    """Time the step ``variants`` side by side: one row each (the section's crop and batch), and a note
    in ``res`` for each that failed."""
    errors: dict[str, str] = {}
    stats = measure(variants, args.warmup, repeats, _sync(device), errors) if variants else {}
    res["notes"].update({f"{section} | {k}": v for k, v in errors.items()})
    crop, batch = getattr(args, f"{section}_crop"), getattr(args, f"{section}_batch")
    return [{"case": k, "crop": crop, "batch": batch, **_stats_dict(s)} for k, s in stats.items()]


class _L1(torch.nn.Module):
    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (out - target).abs().mean()


def main(argv: list[str] | None = None) -> Path:
    from hadamard_restore.artifacts import atomic_write_text, write_json

    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.command = " ".join(["python -m benchmarks.product.speed", *argv])
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


# ---- Report ----------------------------------------------------------------------------------------------
# Markdown rendering of :func:`benchmarks.product.speed.run`'s results.
SHARED_NOTE = (
    "The machine was shared with other jobs while this ran (several engineers' builds and tests on "
    "the same cores), so absolute times are noisy; the variants of each table were timed side by "
    "side in one process, interleaved round by round, so the ratios between rows of one table are "
    "the meaningful numbers."
)


def _ms(r: dict) -> str:
    return f"{r['median_s'] * 1e3:,.1f}"


def _iqr(r: dict) -> str:
    return f"{r['q1_s'] * 1e3:,.1f}-{r['q3_s'] * 1e3:,.1f}"


def _minmax(r: dict) -> str:
    return f"{r['min_s'] * 1e3:,.1f}-{r['max_s'] * 1e3:,.1f}"


def _timing_rows(rows: list[dict], speed: dict[int, float | None], ratio: Callable[[float], str]) -> list[list[str]]:
    """One table row per timed case: its ``|``-separated labels, median/IQR/min-max, and ``ratio(speed)``."""
    return [
        [*[c.strip() for c in r["case"].split("|")], _ms(r), _iqr(r), _minmax(r), ratio(x) if (x := speed[i]) else ""]
        for i, r in enumerate(rows)
    ]


def _wh(size) -> str:
    return f"{size[1]}x{size[0]}"


def _ratio(rows: list[dict], key_of, base_of) -> dict[int, float | None]:
    """For each row index: median of its baseline row / its median (x faster than the baseline)."""
    medians = {key_of(r): r["median_s"] for r in rows}
    return {
        i: (medians.get(base_of(r)) / r["median_s"]) if medians.get(base_of(r)) else None for i, r in enumerate(rows)
    }


def render(res: dict, shared: bool = True) -> str:
    """The Markdown report of :func:`run`'s results: the machine, then one section per measured table."""
    m = res["machine"]
    when = res.get("measured") or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        f"# Speed benchmark ({'GPU: ' + m['gpu'] if m.get('gpu', 'none') != 'none' else 'CPU'})",
        "",
        f"Measured (runs started) {when} with `{_command(res)}`.",
        "",
    ]
    out += [markdown_table(["machine", ""], [[k, v] for k, v in m.items()]), ""]
    if shared:
        out += [SHARED_NOTE, ""]
    out += [
        "Times are milliseconds per call: median, interquartile range (Q1-Q3) and min-max over the "
        "timed repeats, after warm-up.",
        "",
    ]
    for section, render_section in (
        ("info", _render_info),
        ("inference", _render_inference),
        ("train", _render_train),
        ("search", _render_search),
        ("roofline", _render_roofline),
    ):
        if res[section]:
            out += render_section(res)
    if res["notes"]:
        out += ["## Notes", ""] + [f"- **{k}**: {v}" for k, v in res["notes"].items()] + [""]
    return "\n".join(out)


def _section(title: str, intro: str, header: list[str], rows: list[list[str]]) -> list[str]:
    """A ``## title`` section: one paragraph, one table."""
    return [f"## {title}", "", intro, "", markdown_table(header, rows), ""]


def _render_info(res: dict) -> list[str]:
    rows = [
        [
            r["network"],
            _wh(r["size"]),
            f"{r['parameters']:,}",
            f"{r['macs'] / 1e9:,.2f}",
            f"{r['peak_activation_bytes'] / 2**20:,.1f}",
        ]
        for r in res["info"]
    ]
    intro = (
        "MACs: torch's FLOP counter (convolutions and matrix products) / 2, batch 1. Peak activations: "
        "live tensor storage of a no-grad float32 forward, batch 1."
    )
    return _section(
        "Size and cost", intro, ["network", "size (WxH)", "parameters", "GMACs", "peak activations (MiB)"], rows
    )


def _render_inference(res: dict) -> list[str]:
    rows = res["inference"]
    speed = _ratio(
        rows,
        lambda r: (r["network"], tuple(r["size"]), r["variant"]),
        lambda r: (r["network"], tuple(r["size"]), "eager"),
    )
    table = [
        [
            r["network"],
            _wh(r["size"]),
            r["variant"],
            _ms(r),
            _iqr(r),
            _minmax(r),
            f"{r['images_per_s']:.3g}",
            f"{r['mpix_per_s']:.3g}",
            f"{speed[i]:.2f}" if speed[i] else "",
            f"{r['compile_s']:.0f}" if "compile_s" in r else "",
        ]
        for i, r in enumerate(rows)
    ]
    intro = (
        f"No-grad forward of the derived network, batch {res['args'].get('batch', '1')}, float32 unless named. "
        "`x eager` is the eager median over this row's median (higher is faster)."
    )
    header = ["network", "size (WxH)", "variant", "median ms", "IQR ms", "min-max ms", "images/s", "Mpixel/s"]
    return _section("Inference", intro, [*header, "x eager", "compile s"], table)


def _render_train(res: dict) -> list[str]:
    rows = res["train"]
    r0 = rows[0]
    speed = _ratio(rows, lambda r: r["case"], lambda r: r["case"].rsplit("|", 1)[0] + "| eager")
    intro = (
        f"One optimiser step (forward, loss, backward, clip, AdamW) on a {r0['batch']} x 3 x {r0['crop']} x "
        f"{r0['crop']} batch. The supernet runs every candidate op of every layer."
    )
    table = _timing_rows(rows, speed, lambda x: f"{x:.2f}")
    return _section(
        "Training step", intro, ["model", "loss", "variant", "median ms", "IQR ms", "min-max ms", "x eager"], table
    )


def _render_search(res: dict) -> list[str]:
    rows = res["search"]
    r0 = rows[0]
    speed = _ratio(rows, lambda r: r["case"], lambda r: r["case"].split("|")[0] + "| first_order")
    intro = (
        f"One bilevel step (hypergradient, Adam on the upper variables, SGD on the weights), batch "
        f"{r0['batch']}, {r0['crop']}x{r0['crop']} crops, supernet of the table above. "
        "`cost vs first order` is this row's median over the first-order median of the same stage."
    )
    table = _timing_rows(rows, speed, lambda x: f"{1 / x:.2f}x")
    header = ["stage", "hypergradient", "median ms", "IQR ms", "min-max ms", "cost vs first order"]
    return _section("Search step", intro, header, table)


def _render_roofline(res: dict) -> list[str]:
    table = [
        [
            r["network"],
            _wh(r["size"]),
            r["variant"],
            f"{r['tflops']:.2f}",
            f"{r['flop_pct']:.1f}% of {r['peak']}" if r["flop_pct"] is not None else "peak unknown",
            f"{r['tbps']:.3f}",
            f"{r['bw_pct']:.1f}%" if r["bw_pct"] is not None else "peak unknown",
            f"{r['intensity']:.1f}" if r["intensity"] else "",
        ]
        for r in res["roofline"]
    ]
    intro = (
        "FLOPs from the FLOP counter; bytes estimated as every op reading its inputs and writing its "
        "outputs once (no fusion), see benchmarks/product/roofline.py."
    )
    header = ["network", "size", "variant", "TFLOP/s", "of peak", "TB/s", "of peak bandwidth", "FLOP/byte"]
    return _section("GPU: achieved rates against published peaks", intro, header, table)


def _command(res: dict) -> str:
    env = "OMP_NUM_THREADS={} PYTHONPATH=src ".format(res["machine"].get("OMP_NUM_THREADS", "unset"))
    parts = [
        p.strip() for p in (res.get("command") or "python -m benchmarks.product.speed").split(" ; then ") if p.strip()
    ]
    return "` then `".join(env + p for p in parts)


if __name__ == "__main__":
    main()
