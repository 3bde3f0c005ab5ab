"""Choosing, checking and caching the backend (see the package docstring)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

import torch
from torch import nn

from hadamard_restore.errors import HadamardRestoreError
from hadamard_restore.inference.fastpath.backends import (
    BACKENDS,
    _time,
    build,
    candidates,
    preferred,
)
from hadamard_restore.inference.fastpath.precision import PRECISIONS, REDUCED, tolerance_for
from hadamard_restore.runtime.log import get_logger
from hadamard_restore.runtime.slow import notice_if_slow

log = get_logger("hadamard_restore.inference.fastpath")
_RUNNERS: dict[tuple, nn.Module] = {}  # (sha, backend, device, threads) -> a built runner
_DECIDED: dict[tuple, nn.Module] = {}  # (cache key, backend, timing, model id) -> what runner_for returns

AUTO_MIN_PIXELS = 256 * 256  # smaller inputs run eager under ``auto``: timing would cost more than it saves
QUICK_CROP = 256  # the untimed parity check runs on a crop of at most this side


class BackendParityError(HadamardRestoreError):
    """A backend asked for by name disagrees with eager by more than its tolerance."""


@dataclass
class _Request:
    """One call of :func:`runner_for`, resolved: what the cache key and the candidates depend on."""

    model: nn.Module
    example: torch.Tensor
    device: torch.device
    threads: int
    replay: bool
    precision: str
    sha: str
    key: str


def max_abs_diff(ref: torch.Tensor, got: torch.Tensor, clamp: bool = False) -> float:
    """``max |got - ref|`` (over both clamped to [0, 1] with ``clamp``); infinite when the shapes
    differ or a value is not finite."""
    if got.shape != ref.shape:
        return math.inf
    ref, got = ref.float().cpu(), got.float().cpu()
    if clamp:
        ref, got = ref.clamp(0.0, 1.0), got.clamp(0.0, 1.0)
    d = float((got - ref).abs().max())
    return d if math.isfinite(d) else math.inf


def _parity(name: str, ref: torch.Tensor, runner: nn.Module, x: torch.Tensor) -> float:
    """``runner(x)`` against the eager output ``ref``: raw for full precision, clamped for reduced."""
    return max_abs_diff(ref, runner(x), clamp=name in REDUCED)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def choose(
    model: nn.Module,
    example: torch.Tensor,
    device: torch.device,
    threads: int,
    replay: bool,
    repeats: int = 3,
    precision: str = "auto",
) -> tuple[dict, dict[str, nn.Module]]:
    """Build, check and time every candidate; returns the cache entry and the passing runners."""
    entry: dict = {"chosen_by": "timing", "parity": {}, "tolerance": {}, "rejected": {}, "measured": _now()}
    runners: dict[str, nn.Module] = {}
    with torch.inference_mode():
        ref = model(example)
        for name in candidates(device, replay, precision):
            tol = entry["tolerance"][name] = tolerance_for(name)
            try:
                runner = build(name, model, example, threads)
                diff = _parity(name, ref, runner, example)
            except Exception as exc:  # a backend that cannot run here is recorded, not fatal
                entry["rejected"][name] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                continue
            entry["parity"][name] = diff
            if diff > tol:
                entry["rejected"][name] = f"max abs diff {diff:.2e} > tolerance {tol:g}"
                continue
            runners[name] = runner
        entry["times_s"] = _time(runners, example, repeats)
    entry["backend"] = min(entry["times_s"], key=entry["times_s"].get)
    return entry, runners


def quick(
    model: nn.Module, example: torch.Tensor, device: torch.device, threads: int, replay: bool, precision: str = "auto"
) -> tuple[dict, nn.Module]:
    """No timing: the :func:`~.backends.preferred` candidate, its parity checked once on a crop of
    the example of at most ``QUICK_CROP`` a side; eager when it fails (or cannot run)."""
    name = preferred(device, replay, precision)
    crop = example[..., :QUICK_CROP, :QUICK_CROP]
    tol = tolerance_for(name)
    entry: dict = {
        "chosen_by": "parity check, untimed",
        "checked_on": f"{crop.shape[-1]}x{crop.shape[-2]} crop",
        "parity": {},
        "tolerance": {name: tol},
        "rejected": {},
        "measured": _now(),
    }
    what = f"checking the {name} backend against eager on a {entry['checked_on']}"
    with torch.inference_mode(), notice_if_slow(what):
        try:
            runner = build(name, model, crop, threads)
            diff = entry["parity"][name] = _parity(name, model(crop), runner, crop)
        except Exception as exc:  # cannot run here: eager does
            entry["rejected"][name] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            return {**entry, "backend": "eager"}, model
    if diff > tol:
        entry["rejected"][name] = f"max abs diff {diff:.2e} > tolerance {tol:g}"
        return {**entry, "backend": "eager"}, model
    return {**entry, "backend": name}, runner


def _remember(key: tuple, runner: nn.Module, memo: dict | None = None, size: int = 4) -> nn.Module:
    """Keep ``runner`` under ``key`` in ``memo`` (``_RUNNERS`` by default), the oldest of ``size`` dropped."""
    memo = _RUNNERS if memo is None else memo
    if len(memo) >= size:
        memo.pop(next(iter(memo)))
    memo[key] = runner
    return runner


def forget() -> None:
    """Drop every runner and decision this process remembers (the next call reads the cache file)."""
    _RUNNERS.clear()
    _DECIDED.clear()


def _runner(req: _Request, name: str) -> nn.Module:
    """The (remembered or newly built) runner of backend ``name``; the model itself for eager."""
    if name == "eager":
        return req.model
    memo = (req.sha, name, str(req.device), req.threads)
    return _remember(memo, _RUNNERS.get(memo) or build(name, req.model, req.example, req.threads))


def _check_request(backend: str, precision: str, replay: bool) -> None:
    if backend not in BACKENDS:
        raise HadamardRestoreError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise HadamardRestoreError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if backend in REDUCED and precision == "fp32":
        raise HadamardRestoreError(
            f"the {backend} backend computes in reduced precision, which --precision fp32 rules out; "
            "use --precision auto with it, or another --backend"
        )
    if replay and backend in ("onnx", "compile"):
        raise HadamardRestoreError(
            f"the {backend} backend cannot replay whole-image norm statistics in tiles; "
            "use --norm-stats tile, or --backend eager/channels-last/bf16/auto"
        )
