"""Side-by-side timing: warm-up, interleaved repeats, median and spread; machine description.

Method. Every variant is warmed up first (``warmup`` calls each). Then the repeats are
*interleaved*: round ``r`` times each variant once, in an order rotated by ``r``, so a change
in machine load during the run (the benchmark machines are shared) hits every variant alike
and the ratios between variants stay meaningful even when absolute times drift. Each call
is bracketed by ``sync()`` (``torch.cuda.synchronize`` on a GPU) and timed with
``time.perf_counter``.

Reported per variant: median, interquartile range (Q1-Q3), min and max over the repeats. The
reports are Markdown: :func:`markdown_table`, :func:`write_markdown`.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hadamard_restore.artifacts import atomic_write_text


@dataclass(frozen=True)
class Stats:
    """Summary of repeated timings, seconds."""

    median: float
    q1: float
    q3: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, times: Sequence[float]) -> Stats:
        if not times:
            raise ValueError("no timings to summarise")
        xs = sorted(times)
        if len(xs) >= 2:
            q1, _, q3 = statistics.quantiles(xs, n=4, method="inclusive")
        else:
            q1 = q3 = xs[0]
        return cls(statistics.median(xs), q1, q3, xs[0], xs[-1], len(xs))

    def ms(self) -> str:
        """``median [Q1-Q3]`` in milliseconds."""
        return f"{self.median * 1e3:.1f} [{self.q1 * 1e3:.1f}-{self.q3 * 1e3:.1f}]"


def _noop() -> None:
    return None


def measure(
    variants: Mapping[str, Callable[[], object]],
    warmup: int = 1,
    repeats: int = 5,
    sync: Callable[[], None] = _noop,
    errors: dict[str, str] | None = None,
) -> dict[str, Stats]:
    """Time each zero-argument callable, interleaved; see the module docstring.

    Args:
        variants: name -> callable (one call = one timed unit, e.g. one forward).
        warmup: untimed calls per variant before timing (compilation, allocator, caches).
        repeats: timed calls per variant (>= 1).
        sync: called before starting and before stopping each clock.
        errors: when given, a variant whose first (warm-up) call raises is dropped and its
            error recorded here instead of stopping the benchmark.

    Returns:
        name -> :class:`Stats`, in the order given (minus dropped variants).
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    names = []
    for name in variants:
        try:
            for _ in range(max(warmup, 1 if errors is not None else 0)):
                variants[name]()
        except Exception as exc:
            if errors is None:
                raise
            errors[name] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            continue
        names.append(name)
    sync()
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        k = r % len(names) if names else 0
        for name in names[k:] + names[:k]:
            sync()
            t0 = time.perf_counter()
            variants[name]()
            sync()
            times[name].append(time.perf_counter() - t0)
    return {n: Stats.of(times[n]) for n in names}


CPUINFO = Path("/proc/cpuinfo")


def _cpuinfo(cpuinfo: Path = CPUINFO) -> dict[str, str]:
    """``{field: value}`` of /proc/cpuinfo, each field's first occurrence (the first CPU's); {} where
    there is no such file."""
    fields: dict[str, str] = {}
    try:
        with open(cpuinfo) as fh:
            for line in fh:
                if ":" in line:
                    key, value = line.split(":", 1)
                    fields.setdefault(key.strip().lower(), value.strip())
    except OSError:
        pass
    return fields


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (``platform.processor()`` elsewhere)."""
    return _cpuinfo().get("model name") or platform.processor() or "unknown CPU"


def cpu_family() -> str:
    """``family F model M`` from /proc/cpuinfo (identifies the generation when the name is generic)."""
    info = _cpuinfo()
    return f"family {info['cpu family']} model {info.get('model')}" if info.get("cpu family") else ""


# the instruction sets that decide CPU speed here: training and the inference fast path use bf16 only
# where it is native (avx512_bf16 or AMX, runtime/precision.py), else float32; a one-core LOL cell
# (1 x 128 px) ran about 2.6 steps/s on a Zen 4 "AMD EPYC" (bf16) and 1.5 on a Zen 3 one (float32)
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: Path = CPUINFO) -> list[str]:
    """Which of :data:`SPEED_FLAGS` the first CPU lists, in that order ([] where unknown)."""
    have = set(_cpuinfo(cpuinfo).get("flags", "").split())
    return [f for f in SPEED_FLAGS if f in have]


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def machine_info() -> dict[str, str]:
    """What the numbers were measured on: CPU (or GPU), cores, threads, library versions."""
    import torch

    info = {
        "cpu": f"{cpu_model()} ({cpu_family()})" if cpu_family() else cpu_model(),
        "cpu flags": " ".join(cpu_flags()) or "unknown",
        "cores": str(os.cpu_count()),
        "torch threads": str(torch.get_num_threads()),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load average at start (1/5/15 min)": load_average(),
    }
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        info["onnxruntime"] = "not installed"
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info["gpu"] = f"{p.name} ({p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs)"
        info["cuda"] = str(torch.version.cuda)
    else:
        info["gpu"] = "none"
    return info


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub Markdown table; cells are ``str()``-ed, ``|`` escaped."""

    def cell(x: object) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def write_markdown(path: Path, lines: Sequence[str]) -> str:
    """A report: ``lines`` joined by newlines (one more at the end) written to ``path`` atomically,
    and printed; returns the text."""
    text = "\n".join([*lines, ""])
    atomic_write_text(path, text)
    print(text)
    return text
