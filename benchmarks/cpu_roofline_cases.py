"""What the CPU roofline times: inference paths of one model and training steps of it, with their work.

* Inference (:func:`inference_cases`): eager, channels-last and ONNX Runtime as the fast path
  builds them (:mod:`hadamard_restore.inference.fastpath.backends`), and a bfloat16 channels-last
  copy (weights and input cast to ``torch.bfloat16``, the output back to float32). FLOPs from
  :func:`hadamard_restore.net.info.net_info`, bytes from :func:`benchmarks.roofline.traffic_bytes`
  (the unfused eager estimate; in bfloat16 for the bfloat16 path) for every path alike.
* Training (:func:`train_cases`): ``Trainer.train_step`` itself (:func:`benchmarks.trainer_step.trainer_step`:
  forward, loss mix, backward, gradient clipping, AdamW) in float32 (contiguous and channels-last)
  and, where bfloat16 is native, the default (``train.amp``: bf16 autocast of the network and the
  VGG/LPIPS terms, SSIM and the pixel terms in float32; channels-last). :func:`count_step` counts
  one step's FLOPs (``FlopCounterMode``: forward and backward, network and loss networks) and its
  unfused bytes (:class:`benchmarks.roofline.TrafficCounter`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.roofline import TrafficCounter, traffic_bytes

# name -> (call, precision of its matching peak, FLOPs, bytes)
Case = tuple[Callable[[], object], str, float, float]


def _bf16_channels_last(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    m = copy.deepcopy(model).eval().to(dtype=torch.bfloat16, memory_format=torch.channels_last)

    def run(x: torch.Tensor) -> torch.Tensor:
        return m(x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)).float()

    return run


def inference_cases(model: nn.Module, size: tuple[int, int], threads: int, errors: dict[str, str]) -> dict[str, Case]:
    """``path -> (call, precision, FLOPs, bytes)`` for one ``(1, 3, H, W)`` input; a path that cannot
    be built (e.g. onnxruntime missing) is left out with its error in ``errors``."""
    from hadamard_restore.inference.fastpath import backends
    from hadamard_restore.net.info import net_info

    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0))
    flops = float(net_info(model, size)["flops"])
    fp32_bytes = float(traffic_bytes(model, size))
    bf16_bytes = float(traffic_bytes(model, size, dtype=torch.bfloat16))
    builders: dict[str, tuple[Callable[[], Callable], str, float]] = {
        "eager": (lambda: backends.build("eager", model, x, threads), "fp32", fp32_bytes),
        "channels-last": (lambda: backends.build("channels-last", model, x, threads), "fp32", fp32_bytes),
        "onnx (onnxruntime)": (lambda: backends.build("onnx", model, x, threads), "fp32", fp32_bytes),
        "bf16 channels-last": (lambda: _bf16_channels_last(model), "bf16", bf16_bytes),
    }
    cases: dict[str, Case] = {}
    for name, (build, precision, nbytes) in builders.items():
        try:
            runner = build()
        except Exception as exc:  # a path this machine cannot run is reported, not fatal
            errors[name] = f"not built: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            continue

        def call(runner=runner) -> object:
            with torch.no_grad():
                return runner(x)

        cases[name] = (call, precision, flops, nbytes)
    return cases


def count_step(step: Callable[[], object]) -> tuple[float, float]:
    """(FLOPs, unfused bytes) of one call of ``step``, forward and backward (run it once before, so
    lazily built loss networks are not counted)."""
    with FlopCounterMode(display=False) as flops, TrafficCounter() as traffic:
        step()
    return float(flops.get_total_flops()), float(traffic.bytes)


def train_cases(net: nn.Module, crop: int, batch: int, loss: str = "paper-lol") -> dict[str, Case]:
    """``name -> (step, precision, FLOPs, bytes)`` for the training steps of the module docstring."""
    from benchmarks.trainer_step import trainer_step
    from hadamard_restore.losses.loss_weights import load_loss_weights
    from hadamard_restore.losses.mix import LossMix
    from hadamard_restore.runtime.precision import native_bf16

    mix = LossMix.from_weights(load_loss_weights(loss), trainable=False)
    gen = torch.Generator().manual_seed(1)
    x, y = (torch.rand(batch, 3, crop, crop, generator=gen) for _ in range(2))
    variants = {
        "fp32": ("fp32", dict(amp=False, channels_last=False)),
        "fp32 channels-last": ("fp32", dict(amp=False, channels_last=True)),
    }
    if native_bf16(x.device):  # train.amp: bf16 autocast of the network and the VGG/LPIPS terms
        variants["bf16 channels-last (the default)"] = ("bf16", dict(amp=True, channels_last=True))
    cases: dict[str, Case] = {}
    for name, (precision, flags) in variants.items():
        step = trainer_step(net, mix, x, y, **flags)
        step()  # builds the VGG and LPIPS networks once, outside the count
        flops, nbytes = count_step(step)
        cases[name] = (step, precision, flops, nbytes)
    return cases
