"""Peak memory of ``hadamard-restore enhance`` on a 6000x4000 photo (issue 6 acceptance).

Makes a synthetic 6000x4000 low-light image (8-bit PNG, deterministic) and a model file of
the derived ``paper-lol`` network (width 32, 7 HNUs; untrained weights, which cost the same
memory as trained ones), then runs the real CLI in a child process under ``/usr/bin/time -v``
and reads the child's peak resident set size ("Maximum resident set size"). GNU time forks
the command from its own tiny process, so the figure is the enhance process alone; reading
``getrusage(RUSAGE_CHILDREN)`` here instead (the fallback when GNU time is missing) can
include this script's own peak, because Python starts children with vfork and Linux carries
the parent's high-water mark across the exec. The result goes to
``benchmarks/results/product/enhance_memory.md`` with the machine it ran on.

Usage (from the repository root; one thread, as on the shared 2-core CI machine):

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/product/enhance_memory.py [--tile 512 --overlap 32]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
from benchmarks.timing import cpu_model as cpu_name  # noqa: E402
from hadamard_restore.artifacts import atomic_write_text  # noqa: E402
from hadamard_restore.data.io import write_image  # noqa: E402
from hadamard_restore.net.genotype import load_genotype  # noqa: E402
from hadamard_restore.net.model_file import save_model  # noqa: E402
from hadamard_restore.net.network import HadamardNet  # noqa: E402

LIMIT_GB = 4.0


def synthetic_photo(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A dark photo-like image: smooth random shapes (bilinear upsampling of a coarse field)
    times 0.3, plus sensor-like noise, ``(3, H, W)`` in ``[0, 1]``."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, height // 100 + 1, width // 100 + 1, generator=gen)
    img = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)[0]
    img.mul_(0.3).add_(torch.randn(3, height, width, generator=gen).mul_(0.02))
    return img.clamp_(0, 1)


def run_enhance(
    height: int, width: int, tile: int | None, overlap: int | None
) -> tuple[int, float, float, str, tuple[int, int]]:
    """Run the CLI on a synthetic ``width`` x ``height`` photo in a child process: ``(parameters, wall
    seconds, peak RSS in GB, how the peak was read, output size)``."""
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        photo = tmp / "photo.png"
        write_image(photo, synthetic_photo(height, width))
        net = HadamardNet(load_genotype("paper-lol"))
        model = save_model(tmp / "model.pt", net, net.genotype, {}, None)
        params = sum(p.numel() for p in net.parameters())
        del net
        cmd = [sys.executable, "-m", "hadamard_restore", "enhance", str(model), str(photo), "--out", str(tmp / "out")]
        if tile is not None:
            cmd += ["--tile", str(tile)]
        if overlap is not None:
            cmd += ["--overlap", str(overlap)]
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        gnu_time = Path("/usr/bin/time")
        if gnu_time.is_file():
            cmd = [str(gnu_time), "-v"] + cmd
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"enhance failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        if found:
            peak_gb, method = int(found.group(1)) * 1024 / 1e9, "`/usr/bin/time -v` (Maximum resident set size)"
        else:
            peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e9  # Linux: KiB
            method = "`getrusage(RUSAGE_CHILDREN).ru_maxrss` (may include this script's own peak)"
        from PIL import Image

        with Image.open(tmp / "out" / "photo.png") as im:
            out_size = im.size
    return params, wall, peak_gb, method, out_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--height", type=int, default=4000)
    ap.add_argument("--width", type=int, default=6000)
    ap.add_argument("--tile", type=int, default=None, help="default: the config's enhance.tile")
    ap.add_argument("--overlap", type=int, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "product" / "enhance_memory.md")
    args = ap.parse_args()

    params, wall, peak_gb, method, out_size = run_enhance(args.height, args.width, args.tile, args.overlap)
    from hadamard_restore.config import EnhanceConfig

    defaults = EnhanceConfig()
    tile = args.tile or defaults.tile
    overlap = args.overlap if args.overlap is not None else defaults.overlap
    verdict = "PASS" if peak_gb < LIMIT_GB and out_size == (args.width, args.height) else "FAIL"
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    command = f"OMP_NUM_THREADS={threads} PYTHONPATH=src python benchmarks/product/enhance_memory.py"
    command += "".join(" " + a for a in sys.argv[1:])
    tiling = f"tile {tile}, overlap {overlap}, norm statistics {defaults.norm_stats}"
    tiling += f" (images above {defaults.max_untiled_pixels} pixels are tiled)"
    tiled = "tiled " if args.width * args.height > defaults.max_untiled_pixels else ""
    text = f"""# enhance: peak memory on a {args.width}x{args.height} photo

Command: `{command}`
(runs `hadamard-restore enhance model.pt photo.png --out DIR` in a child process; peak RSS of
that process measured with {method}).

| item | value |
|---|---|
| machine | {cpu_name()}, {os.cpu_count()} logical CPUs (shared with other jobs), {platform.system()} |
| torch | {torch.__version__}, threads {os.environ.get("OMP_NUM_THREADS", "default")} |
| network | derived paper-lol, channels 32, 7 HNUs, {params / 1e6:.3f} M parameters (untrained weights) |
| input | synthetic 8-bit PNG, {args.width}x{args.height} (W x H), {args.width * args.height / 1e6:.0f} Mpixel |
| tiling | {tiling} |
| output | {out_size[0]}x{out_size[1]} PNG |
| wall time | {wall:.0f} s (process start, read, {tiled}inference, write) |
| **peak RSS** | **{peak_gb:.2f} GB** (limit {LIMIT_GB:g} GB): {verdict} |
"""
    atomic_write_text(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
