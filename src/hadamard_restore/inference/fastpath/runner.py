"""``runner_for``: the cached choice, or a new one (untimed: the preferred backend checked on a crop;
timed with ``backend="timed"``), or a named backend checked once; ``for_enhance``: the same as
``enhance``, ``enhance_image`` and ``evaluate`` call it (see the package docstring).

The steps live in :mod:`.choice` and are called through the module, so that tests can replace them.
"""

from __future__ import annotations

import torch
from torch import nn

import hadamard_restore.inference.fastpath.backends as backends
import hadamard_restore.inference.fastpath.choice as choice
from hadamard_restore.config import EnhanceConfig
from hadamard_restore.errors import HadamardRestoreError
from hadamard_restore.inference.fastpath.backends import size_class, weights_sha
from hadamard_restore.inference.fastpath.cache import make_key, read_entry, store
from hadamard_restore.inference.fastpath.precision import tolerance_for
from hadamard_restore.inference.norm_stats import has_image_stats

log = choice.log


def runner_for(
    model: nn.Module,
    example: torch.Tensor,
    device: torch.device | str = "cpu",
    backend: str = "auto",
    threads: int | None = None,
    replay: bool = False,
    precision: str = "auto",
    timing: bool = False,
) -> nn.Module:
    """The module to run ``model`` with on inputs like ``example`` (see the package docstring).

    Args:
        precision: ``auto`` lets ``auto`` use a reduced-precision backend (bf16) where it is
            native and within :data:`~.precision.REDUCED_TOLERANCE`; ``fp32`` keeps full precision.
        timing: with ``auto`` and no timed choice cached, time every candidate (``True``; what
            ``backend="timed"`` asks for) instead of taking the preferred one after a parity check
            on a crop (``False``, the default: no backend is timed on the user's time).

    Raises:
        BackendParityError: ``backend`` named explicitly disagrees with eager beyond its tolerance.
        HadamardRestoreError: an unknown backend or precision, bf16 with ``precision="fp32"``, or a
            backend that cannot replay norm statistics when needed.
    """
    device = torch.device(device)
    choice._check_request(backend, precision, replay)
    if backend == "timed":
        backend, timing = "auto", True
    if backend == "eager" or (backend == "auto" and example.shape[-2] * example.shape[-1] < choice.AUTO_MIN_PIXELS):
        return model
    threads = threads or torch.get_num_threads()
    sha = weights_sha(model)
    key = make_key(sha, example, device, threads, replay, precision)
    decided = (key, backend, timing, id(model))
    runner = choice._DECIDED.get(decided)  # this process decided already: no file read, no check
    if runner is None:
        req = choice._Request(model, example, device, threads, replay, precision, sha, key)
        runner = _auto(req, read_entry(key), timing) if backend == "auto" else _named(req, backend, read_entry(key))
        choice._remember(decided, runner, choice._DECIDED, 16)
    return runner


def _auto(req: choice._Request, entry: dict, timing: bool) -> nn.Module:
    """The cached choice when there is one (a timed one, when ``timing``), else a new choice."""
    cached = entry.get("backend")
    usable = cached is not None and (entry.get("times_s") or not timing)  # untimed: a timing call times anew
    if usable and cached in backends.candidates(req.device, req.replay, req.precision):  # e.g. another CPU
        return choice._runner(req, cached)
    where = size_class(*req.example.shape[-2:])
    if timing:
        log.info("timing the backends on %s once (cached per model and size class; can take a minute)", where)
        new, runners = choice.choose(req.model, req.example, req.device, req.threads, req.replay, 3, req.precision)
        runner = runners[new["backend"]]
        times = {k: round(v, 4) for k, v in new["times_s"].items()}
        rejected = new["rejected"] or "none"
        log.info("fast path for %s: %s, timed (median s %s; rejected %s)", where, new["backend"], times, rejected)
    else:
        new, runner = choice.quick(req.model, req.example, req.device, req.threads, req.replay, req.precision)
        if new["rejected"]:
            log.info("fast path for %s: eager (untimed): %s", where, new["rejected"])
        else:
            name = new["backend"]
            diff, tol, crop = new["parity"][name], new["tolerance"][name], new["checked_on"]
            what = "untimed (max abs diff %.1e <= %g on a %s)"
            log.info("fast path for %s: %s, " + what, where, name, diff, tol, crop)
    store(req.key, new)
    if new["backend"] == "eager":
        return req.model
    return choice._remember((req.sha, new["backend"], str(req.device), req.threads), runner)


def _named(req: choice._Request, backend: str, entry: dict) -> nn.Module:
    """``backend`` by name, its parity against eager checked once on the example and cached."""
    tol = tolerance_for(backend)
    runner = choice._runner(req, backend)
    diff = entry.get("parity", {}).get(backend)
    if diff is None or entry.get("tolerance", {}).get(backend) != tol:  # checked once, then cached
        with torch.inference_mode():
            diff = choice._parity(backend, req.model(req.example), runner, req.example)
        store(req.key, {"parity": {backend: diff}, "tolerance": {backend: tol}})
    if not diff <= tol:
        choice._RUNNERS.pop((req.sha, backend, str(req.device), req.threads), None)
        raise choice.BackendParityError(
            f"backend {backend} differs from eager by {diff:.2e} (tolerance {tol:g}) on this model; "
            "use --backend eager or auto"
        )
    return runner


def for_enhance(model: nn.Module, x: torch.Tensor, cfg: EnhanceConfig, device: torch.device | str) -> nn.Module:
    """:func:`runner_for` as ``enhance`` and ``enhance_image`` use it: the example is the image, or its
    first tile when the image will be tiled (then with ``replay`` when whole-image norm statistics
    are replayed); ``cfg.backend="timed"`` times the backends once, any other never does."""
    backend, threads = cfg.backend, cfg.threads
    if threads and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    if backend == "eager":
        return model
    h, w = x.shape[-2:]
    tiled = h * w > cfg.max_untiled_pixels
    example = x[..., : min(h, cfg.tile), : min(w, cfg.tile)] if tiled else x
    replay = tiled and cfg.norm_stats == "global" and has_image_stats(model)
    try:
        return runner_for(model, example.to(device), device, backend, threads, replay, cfg.precision)
    except HadamardRestoreError:
        raise
    except Exception as exc:  # the fast path must never stop an enhancement that eager can do
        log.warning("fast path unavailable (%s: %s); running eager", type(exc).__name__, exc)
        return model


class FastPath(nn.Module):
    """``model`` on the fast path for whatever it is given (``evaluate``: one image at a time, of any
    size): each call runs :func:`runner_for` (a dictionary look-up once a size class is decided)."""

    def __init__(self, model: nn.Module, device: torch.device | str, backend: str = "auto", precision: str = "fp32"):
        super().__init__()
        self.model, self.device, self.backend, self.precision = model, torch.device(device), backend, precision
        choice._check_request(backend, precision, False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return runner_for(self.model, x, self.device, self.backend, precision=self.precision)(x)
