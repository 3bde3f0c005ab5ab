"""The Python API's single-image time against the fastest backend's bare forward, and the first call
of the ``enhance`` command on an empty backend cache (issue 22).

Measured in one process, side by side and interleaved (:func:`benchmarks.timing.measure`):

* ``enhance_image(pil, model=NAME)``: the whole API call on a warm model (PIL image in, PIL image
  out: conversion, backend look-up, network, clamp, quantisation);
* the bare forward of the fastest backend: every backend that runs here (eager, channels-last,
  bf16 where native, ONNX Runtime) is timed on the same image first, and the fastest one's module
  is called on the ready float tensor, nothing else.

The ratio ``bare / API`` is the share of the fastest backend's speed the API delivers (goal >= 0.9).
Then ``hadamard-restore enhance --model NAME one.png --out DIR`` runs as a new process twice with
an empty ``HADAMARD_RESTORE_CACHE``: the first call (the backend checked) and the second (cached),
and once on a folder of 4 copies with another empty cache (before issue 22, 4 images or more
made the first call time every backend), process start included.

Run from the repository root, one thread on one core, e.g.::

    OMP_NUM_THREADS=1 PYTHONPATH=src:. taskset -c 1 python -m benchmarks.product.api_overhead \\
        --note "core 0 busy with a background job" --out benchmarks/results/product/api_overhead.md
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.timing import Stats, machine_info, markdown_table, measure


def _photo(path: str | None, size: tuple[int, int]):
    """The photo to enhance (W x H ``size``): ``path``, else a LOL low-light image, else a darkened
    crop of scikit-image's astronaut."""
    from PIL import Image

    data = os.environ.get("HADAMARD_RESTORE_DATA")
    found = sorted(Path(data).glob("lol-v1/**/low/*.png")) if data else []
    if path or found:
        img = Image.open(path or found[0]).convert("RGB")
        return img.crop((0, 0, min(size[0], img.width), min(size[1], img.height))), str(path or found[0])
    from skimage import data as skdata

    rgb = (skdata.astronaut().astype(np.float32) * 0.15).astype(np.uint8)
    return Image.fromarray(rgb).resize(size, Image.Resampling.BICUBIC), "scikit-image astronaut, darkened, resized"


def _cli_first_calls(model: str, photo, tmp: Path) -> list[tuple[str, float, str]]:
    """``enhance`` processes with a new empty cache: one photo twice (the first call checks the
    backend, the second reads the cache), then a folder of 4 copies on another empty cache (the
    old code timed every backend from 4 images up): (label, seconds, fast-path log line)."""
    src, many = tmp / "one.png", tmp / "four"
    photo.save(src)
    many.mkdir()
    for i in range(4):
        photo.save(many / f"{i}.png")
    rows: list[tuple[str, float, str]] = []
    calls = [("one photo, first call (empty cache)", src, "cache"), ("one photo, second call (cached)", src, "cache")]
    for label, what, cache in [*calls, ("4 photos of that size, first call (empty cache)", many, "cache-4")]:
        env = {**os.environ, "HADAMARD_RESTORE_CACHE": str(tmp / cache)}
        out = tmp / f"out-{len(rows)}"
        cmd = [sys.executable, "-m", "hadamard_restore", "enhance", "--model", model, str(what), "--out", str(out)]
        start = time.perf_counter()
        res = subprocess.run(cmd, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if res.returncode != 0:
            raise SystemExit(f"enhance failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        line = next((ln for ln in res.stderr.splitlines() if "fast path for" in ln), "(choice read from the cache)")
        rows.append((label, seconds, line.split(": ", 1)[-1]))
    return rows


def _measure_api(
    model: str, photo: Image.Image, repeats: int, tmp: Path
) -> tuple[float, dict[str, Stats], dict[str, Stats], str, str]:
    """The API's first call (its own empty cache under ``tmp``), every backend's bare forward, then the
    API against the fastest backend side by side: ``(first call s, backends, side by side, the bare
    forward's row name, the backend the API used and why)``."""
    import hadamard_restore as hr
    from hadamard_restore.inference.fastpath.backends import build as build_backend
    from hadamard_restore.inference.fastpath.cache import read_cache
    from hadamard_restore.runtime.precision import native_bf16
    from hadamard_restore.zoo.api import _cached

    os.environ["HADAMARD_RESTORE_CACHE"] = str(tmp / "api-cache")  # the API: its own empty cache
    start = time.perf_counter()
    hr.enhance_image(photo, model=model)
    api_first = time.perf_counter() - start
    net = _cached(model, "cpu")
    x = torch.from_numpy(np.asarray(photo, dtype=np.float32) / 255.0).permute(2, 0, 1)[None].contiguous()
    names = ["eager", "channels-last", "onnx"] + (["bf16"] if native_bf16("cpu") else [])
    runners = {n: build_backend(n, net, x, torch.get_num_threads()) for n in names}
    with torch.inference_mode():
        backends = measure({n: partial(r, x) for n, r in runners.items()}, warmup=1, repeats=5)
        fastest = min(backends, key=lambda n: backends[n].median)
        bare = f"bare forward ({fastest})"
        side = measure(
            {
                "enhance_image(pil)": lambda: hr.enhance_image(photo, model=model),
                bare: lambda: runners[fastest](x),
            },
            warmup=2,
            repeats=repeats,
        )
    chosen = [e for e in read_cache()["entries"].values() if "backend" in e]
    used = f"{chosen[0]['backend']}` ({chosen[0]['chosen_by']})" if chosen else "eager` (below 256x256 pixels)"
    return api_first, backends, side, bare, used


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="low-light")
    ap.add_argument("--image", default=None, help="photo to enhance (default: a LOL low-light image)")
    ap.add_argument("--size", default="600x400", help="W x H the photo is cropped to")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--note", default="", help="a line about the machine's state (e.g. other jobs)")
    ap.add_argument("--out", type=Path, default=None, help="Markdown table (default: print only)")
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    photo, source = _photo(args.image, (w, h))
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    info = machine_info()
    info["CPU affinity"] = (
        ",".join(map(str, sorted(os.sched_getaffinity(0)))) if hasattr(os, "sched_getaffinity") else "n/a"
    )
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        cli = _cli_first_calls(args.model, photo, tmp)
        api_first, backends, side, bare, used = _measure_api(args.model, photo, args.repeats, tmp)
    ratio = side[bare].median / side["enhance_image(pil)"].median
    text = "\n\n".join(
        [
            "# API overhead: `enhance_image` vs the fastest backend's bare forward (issue 22)",
            f"Photo: {source}, {photo.width}x{photo.height}; model `{args.model}`. Command: "
            "`OMP_NUM_THREADS=1 PYTHONPATH=src:. taskset -c 1 python -m benchmarks.product.api_overhead "
            f'--note "..." --out benchmarks/results/product/api_overhead.md`.',
            f"Machine state: `{uptime}`." + (f" {args.note}." if args.note else ""),
            markdown_table(["", ""], list(info.items())),
            "## Every backend's bare forward (median [Q1-Q3] ms, 5 interleaved repeats)",
            markdown_table(["backend", "ms"], [(n, s.ms()) for n, s in backends.items()]),
            f"## Side by side, interleaved ({args.repeats} repeats, warm model)",
            markdown_table(
                ["call", "median [Q1-Q3] ms", "min ms"], [(n, s.ms(), f"{s.min * 1e3:.1f}") for n, s in side.items()]
            ),
            f"The API ran `{used}; its speed is **{ratio:.2f}** of the "
            f"fastest backend's bare forward (goal >= 0.9). First API call in this process (model "
            f"loaded, backend checked, empty cache): {api_first:.2f} s.",
            "## `hadamard-restore enhance --model " + args.model + " one.png --out DIR` (new process, empty cache)",
            markdown_table(
                ["call", "wall s (process start included)", "fast-path log line"],
                [(a, f"{b:.2f}", c) for a, b, c in cli],
            ),
        ]
    )
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
