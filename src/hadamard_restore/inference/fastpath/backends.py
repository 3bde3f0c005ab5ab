"""The backends the fast path chooses among, and the helpers it keys and times them with."""

from __future__ import annotations

import copy
import hashlib
import math
import os
import time
import weakref

import torch
from torch import nn

from hadamard_restore.errors import HadamardRestoreError
from hadamard_restore.inference.fastpath.precision import Bf16
from hadamard_restore.inference.onnx_graph import INPUT_NAME, export_proto
from hadamard_restore.runtime.precision import native_bf16

BACKENDS = ("auto", "timed", "eager", "channels-last", "bf16", "compile", "onnx")
_SHAS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> (tensor stamp, sha)
EXPORT_SIZE = (35, 29)  # odd on both axes: the ONNX backend's trace holds the pad-to-4 path


class ChannelsLast(nn.Module):
    """A copy of ``model`` in channels-last memory format; inputs are converted on the way in."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.inner = copy.deepcopy(model).to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x.contiguous(memory_format=torch.channels_last)).contiguous()


class OnnxRunner(nn.Module):
    """The model exported to ONNX with dynamic H and W, run by onnxruntime on the CPU.

    The graph is traced on a fixed random image of odd size (:data:`EXPORT_SIZE`), never on the
    caller's example: the graph is then the same whatever image the backend is first built for
    (a 1x1 image could not be traced; one whose sides are multiples of 4 once left the pad out)."""

    def __init__(self, model: nn.Module, example: torch.Tensor, threads: int) -> None:
        super().__init__()
        import onnxruntime as ort  # lazy: start-up cost (onnxruntime, 0.06 s)

        fixed = torch.rand(1, 3, *EXPORT_SIZE, generator=torch.Generator().manual_seed(0))
        proto, _ = export_proto(copy.deepcopy(model).cpu().eval(), fixed, 17, "torchscript")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        self.input_name = INPUT_NAME

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.session.run(None, {self.input_name: x.detach().cpu().float().contiguous().numpy()})[0]
        return torch.from_numpy(out).to(x.device)


def build(backend: str, model: nn.Module, example: torch.Tensor, threads: int) -> nn.Module:
    """The module that runs ``model`` with ``backend``."""
    if backend == "eager":
        return model
    if backend == "channels-last":
        return ChannelsLast(model).eval()
    if backend == "bf16":
        return Bf16(model).eval()
    if backend == "compile":
        # torch's stub types compile() of any callable as a plain Callable; given an nn.Module it
        # returns an OptimizedModule, which is an nn.Module.
        return torch.compile(copy.deepcopy(model).eval(), dynamic=True)  # type: ignore[return-value]
    if backend == "onnx":
        if example.device.type != "cpu":
            raise HadamardRestoreError("the onnx backend runs on the CPU only; use --device cpu or another --backend")
        return OnnxRunner(model, example, threads)
    raise HadamardRestoreError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def default_threads() -> int:
    """``OMP_NUM_THREADS`` when set, else the physical cores this process may use."""
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    cores: set[tuple[str, str]] = set()
    try:
        phys = core = ""
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "physical id":
                    phys = value
                elif key == "core id":
                    core = value
                    cores.add((phys, core))
    except OSError:
        pass
    return max(1, min(allowed, len(cores) or allowed))


def size_class(height: int, width: int) -> str:
    """``px<=2^k``: the smallest power of two of pixels that holds ``height x width``."""
    return f"px<={2 ** math.ceil(math.log2(max(1, height * width)))}"


def weights_sha(model: nn.Module) -> str:
    """sha256 over the names, shapes, dtypes and bytes of the model's state dict, its class and its
    module tree (two networks with equal weights but another norm are different models).

    Remembered per model while its tensors stay the same objects at the same versions (an
    in-place update, e.g. an optimiser step or ``load_state_dict``, bumps a tensor's version), so
    a call on a model already seen costs microseconds instead of hashing every weight again."""
    tensors = [*model.parameters(), *model.buffers()]
    stamp = tuple((t.data_ptr(), t._version, t.shape, t.dtype) for t in tensors)
    seen = _SHAS.get(model)
    if seen is not None and seen[0] == stamp:
        return seen[1]
    h = hashlib.sha256(type(model).__qualname__.encode())
    h.update(repr(model).encode())  # the module tree: layers without weights (a norm or not) differ too
    for name, t in model.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{tuple(t.shape)}|{t.dtype}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    _SHAS[model] = (stamp, h.hexdigest())
    return h.hexdigest()


def candidates(device: torch.device, replay: bool, precision: str = "auto") -> tuple[str, ...]:
    """What ``auto`` times here: ``bf16`` only with ``precision="auto"`` where bf16 is native, ONNX
    Runtime only on the CPU and when no statistics replay is needed."""
    out: tuple[str, ...] = ("eager", "channels-last")
    if precision == "auto" and native_bf16(device):
        out += ("bf16",)
    return out + ("onnx",) if device.type == "cpu" and not replay else out


def preferred(device: torch.device, replay: bool, precision: str = "auto") -> str:
    """What ``auto`` takes without timing: bf16 where native and allowed, else channels-last.

    ONNX Runtime is not in this order although it can beat channels-last on a CPU without bf16:
    building it exports the network (seconds, on every new process); ``timed`` measures it."""
    return "bf16" if "bf16" in candidates(device, replay, precision) else "channels-last"


def _time(runners: dict[str, nn.Module], x: torch.Tensor, repeats: int) -> dict[str, float]:
    """Median seconds per call of each runner on ``x``, interleaved round by round after one warm-up."""
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)
    times: dict[str, list[float]] = {k: [] for k in runners}
    names = list(runners)
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            sync()
            t0 = time.perf_counter()
            runners[name](x)
            sync()
            times[name].append(time.perf_counter() - t0)
    return {k: sorted(v)[len(v) // 2] for k, v in times.items()}
