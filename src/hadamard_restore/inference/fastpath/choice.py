"""Choosing, checking and caching the backend (see the package docstring)."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from hadamard_restore.config import EnhanceConfig
from hadamard_restore.errors import HadamardRestoreError
from hadamard_restore.inference.fastpath.backends import BACKENDS, _time, build, candidates, size_class, weights_sha
from hadamard_restore.runtime import get_logger

TOLERANCE = 1e-3
log = get_logger("hadamard_restore.inference.fastpath")
_RUNNERS: dict[tuple, nn.Module] = {}


class BackendParityError(HadamardRestoreError):
    """A backend asked for by name disagrees with eager by more than the tolerance."""


AUTO_MIN_PIXELS = 256 * 256  # smaller inputs run eager under ``auto``: timing would cost more than it saves


def cache_path() -> Path:
    from hadamard_restore.data.task_data import cache_root

    return cache_root() / "fastpath.json"


def _read_cache() -> dict:
    from hadamard_restore.artifacts import read_json

    path = cache_path()
    try:
        data = read_json(path) if path.is_file() else {}
    except Exception as exc:  # a corrupt cache is rebuilt, not fatal
        log.warning("ignoring unreadable %s (%s); it will be rewritten", path, exc)
        data = {}
    return data if isinstance(data.get("entries"), dict) else {"format": "hadamard-restore/fastpath", "entries": {}}


def _store(key: str, entry: dict) -> None:
    from hadamard_restore.artifacts import write_json

    data = _read_cache()
    data["entries"][key] = entry
    write_json(cache_path(), data)


def _key(sha: str, example: torch.Tensor, device: torch.device, threads: int, replay: bool) -> str:
    try:
        import onnxruntime

        ort = onnxruntime.__version__
    except ImportError:
        ort = "none"
    return "|".join(
        [
            sha[:20],
            size_class(*example.shape[-2:]),
            "replay" if replay else "plain",
            str(device),
            f"{threads} threads",
            f"torch {torch.__version__}",
            f"onnxruntime {ort}",
        ]
    )


def max_abs_diff(ref: torch.Tensor, got: torch.Tensor) -> float:
    """``max |got - ref|``; infinite when the shapes differ or a value is not finite."""
    if got.shape != ref.shape:
        return math.inf
    d = float((got.float().cpu() - ref.float().cpu()).abs().max())
    return d if math.isfinite(d) else math.inf


def choose(
    model: nn.Module,
    example: torch.Tensor,
    device: torch.device,
    threads: int,
    replay: bool,
    repeats: int = 3,
    tolerance: float = TOLERANCE,
) -> tuple[dict, dict[str, nn.Module]]:
    """Build, check and time every candidate; returns the cache entry and the passing runners."""
    from datetime import datetime, timezone

    entry: dict = {
        "parity": {},
        "rejected": {},
        "tolerance": tolerance,
        "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    runners: dict[str, nn.Module] = {}
    with torch.inference_mode():
        ref = model(example)
        for name in candidates(device, replay):
            try:
                runner = build(name, model, example, threads)
                diff = max_abs_diff(ref, runner(example))
            except Exception as exc:  # a backend that cannot run here is recorded, not fatal
                entry["rejected"][name] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                continue
            entry["parity"][name] = diff
            if diff > tolerance:
                entry["rejected"][name] = f"max abs diff {diff:.2e} > tolerance {tolerance:g}"
                continue
            runners[name] = runner
        entry["times_s"] = _time(runners, example, repeats)
    entry["backend"] = min(entry["times_s"], key=entry["times_s"].get)
    return entry, runners


def _remember(key: tuple, runner: nn.Module) -> nn.Module:
    if len(_RUNNERS) >= 4:
        _RUNNERS.pop(next(iter(_RUNNERS)))
    _RUNNERS[key] = runner
    return runner


def runner_for(
    model: nn.Module,
    example: torch.Tensor,
    device: torch.device | str = "cpu",
    backend: str = "auto",
    threads: int | None = None,
    replay: bool = False,
) -> nn.Module:
    """The module to run ``model`` with on inputs like ``example`` (see the module docstring).

    Raises:
        BackendParityError: ``backend`` named explicitly disagrees with eager beyond :data:`TOLERANCE`.
        HadamardRestoreError: an unknown backend, or one that cannot replay norm statistics when needed.
    """
    device = torch.device(device)
    if backend not in BACKENDS:
        raise HadamardRestoreError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "eager" or (backend == "auto" and example.shape[-2] * example.shape[-1] < AUTO_MIN_PIXELS):
        return model
    if replay and backend in ("onnx", "compile"):
        raise HadamardRestoreError(
            f"the {backend} backend cannot replay whole-image norm statistics in tiles; "
            "use --norm-stats tile, or --backend eager/channels-last/auto"
        )
    threads = threads or torch.get_num_threads()
    sha = weights_sha(model)
    key = _key(sha, example, device, threads, replay)
    entry = _read_cache()["entries"].get(key)
    if backend == "auto" and entry is None:
        entry, runners = choose(model, example, device, threads, replay)
        _store(key, entry)
        log.info(
            "fast path for %s: %s (median s %s; rejected %s)",
            size_class(*example.shape[-2:]),
            entry["backend"],
            {k: round(v, 4) for k, v in entry["times_s"].items()},
            entry["rejected"] or "none",
        )
        return _remember((sha, entry["backend"], str(device), threads), runners[entry["backend"]])
    chosen = entry["backend"] if backend == "auto" else backend
    memo = (sha, chosen, str(device), threads)
    runner = _RUNNERS.get(memo) or build(chosen, model, example, threads)
    if backend != "auto" and chosen not in (entry or {}).get("parity", {}):  # checked once, then cached
        with torch.inference_mode():
            diff = max_abs_diff(model(example), runner(example))
        entry = entry or {"parity": {}, "rejected": {}, "tolerance": TOLERANCE}
        entry["parity"][chosen] = diff
        _store(key, {**entry, "backend": entry.get("backend", chosen)})
    if entry["parity"].get(chosen, math.inf) > TOLERANCE:
        raise BackendParityError(
            f"backend {chosen} differs from eager by {entry['parity'].get(chosen):.2e} "
            f"(tolerance {TOLERANCE:g}) on this model; use --backend eager or auto"
        )
    return _remember(memo, runner) if chosen != "eager" else model


def for_enhance(model: nn.Module, x: torch.Tensor, cfg: EnhanceConfig, device: torch.device | str) -> nn.Module:
    """:func:`runner_for` as ``enhance`` uses it: the example is the image, or its first tile when the
    image will be tiled (then with ``replay`` when whole-image norm statistics are replayed)."""
    from hadamard_restore.inference.norm_stats import has_instance_norm

    backend, threads = cfg.backend, cfg.threads
    if threads and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    if backend == "eager":
        return model
    h, w = x.shape[-2:]
    tiled = h * w > cfg.max_untiled_pixels
    example = x[..., : min(h, cfg.tile), : min(w, cfg.tile)] if tiled else x
    replay = tiled and cfg.norm_stats == "global" and has_instance_norm(model)
    try:
        return runner_for(model, example.to(device), device, backend, threads, replay)
    except HadamardRestoreError:
        raise
    except Exception as exc:  # the fast path must never stop an enhancement that eager can do
        log.warning("fast path unavailable (%s: %s); running eager", type(exc).__name__, exc)
        return model
