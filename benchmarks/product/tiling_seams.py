"""How much tiling changes a trained network's output, and whether seams show.

For each image: the one-pass output; tiled outputs with raised-cosine blending, with
instance-norm statistics from a half-size copy of the whole image (``global``, the default)
or from each tile (``tile``); and a hard-stitched one (overlap 0, per-tile statistics).
Reports PSNR of each against the reference image, PSNR
of the tiled outputs against the one-pass output, and a seam score. With the difference
image ``D = tiled - one_pass`` and its column-jump profile ``J(x) = mean_{c,y} |D[c,y,x] -
D[c,y,x-1]|`` (rows alike), the score is the mean of ``J`` at the positions where one tile
hands over to the next (the middle of each shared region; the tile border when the overlap is
0), divided by the median of ``J``. About 1: tiling changes nothing special at the hand-over
(no seam); well above 1: the output steps there (a seam).

Usage (from the repository root):

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/product/tiling_seams.py RUN/model.pt \\
        --data ../shared/data/lol-v1/our485 --count 3 --tile 128 --overlap 32
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from benchmarks.timing import markdown_table, write_markdown  # noqa: E402
from hadamard_restore.config import EnhanceConfig  # noqa: E402
from hadamard_restore.data.io import read_image  # noqa: E402
from hadamard_restore.inference.enhance import enhance_tensor  # noqa: E402
from hadamard_restore.inference.tiling import tile_starts  # noqa: E402
from hadamard_restore.net.model_file import load_model  # noqa: E402


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1.0 / ((a - b) ** 2).mean()))


def _handover(size: int, tile: int, overlap: int) -> list[int]:
    starts = tile_starts(size, tile, overlap)
    return [(nxt + prev + min(tile, size)) // 2 for prev, nxt in zip(starts, starts[1:])]


def seam_score(tiled: torch.Tensor, one_pass: torch.Tensor, tile: int, overlap: int) -> float:
    d = tiled - one_pass
    cols = (d[..., :, 1:] - d[..., :, :-1]).abs().mean(dim=(0, 1))  # cols[x-1]: jump from x-1 to x
    rows = (d[..., 1:, :] - d[..., :-1, :]).abs().mean(dim=(0, 2))
    xs = [x - 1 for x in _handover(d.shape[-1], tile, overlap)]
    ys = [y - 1 for y in _handover(d.shape[-2], tile, overlap)]
    ratios = torch.cat([cols[xs] / cols.median(), rows[ys] / rows.median()])
    return float(ratios.mean())


TILED = ("global", "tile", "hard")
HEADER = [
    "image",
    "input",
    "one-pass",
    *TILED,
    *(f"{k} vs one-pass" for k in TILED),
    *(f"seam {k}" for k in TILED),
]


def image_row(model: torch.nn.Module, low: Path, high: Path, tile: int, overlap: int) -> list[str]:
    """One image: PSNR of the input, of one pass and of each way of tiling against the reference, of
    each tiled output against one pass, and each tiled output's seam score."""
    x, ref = read_image(low), read_image(high)
    half = x.shape[-2] * x.shape[-1] // 4  # tiled runs get statistics from a half-size copy
    fp32 = {"precision": "fp32"}  # tiling effects only: no bf16 rounding (about 50-57 dB) in the comparison
    configs = {
        "one-pass": EnhanceConfig(max_untiled_pixels=2**28, **fp32),  # the largest allowed: never tiled here
        "global": EnhanceConfig(tile=tile, overlap=overlap, max_untiled_pixels=half, **fp32),
        "tile": EnhanceConfig(tile=tile, overlap=overlap, max_untiled_pixels=half, norm_stats="tile", **fp32),
        "hard": EnhanceConfig(tile=tile, overlap=0, max_untiled_pixels=half, norm_stats="tile", **fp32),
    }
    outs = {name: enhance_tensor(model, x, c) for name, c in configs.items()}
    one = outs["one-pass"]
    return [
        low.name,
        f"{psnr(x, ref):.2f}",
        *(f"{psnr(o, ref):.2f}" for o in outs.values()),
        *(f"{psnr(outs[k], one):.2f}" for k in TILED),
        *(f"{seam_score(outs[k], one, tile, configs[k].overlap):.2f}" for k in TILED),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--data", type=Path, required=True, help="folder with low/ and high/")
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("--tile", type=int, default=128)
    ap.add_argument("--overlap", type=int, default=32)
    ap.add_argument("--note", default="", help="how the checkpoint was made (printed in the results)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "product" / "tiling_seams.md")
    args = ap.parse_args()
    model, meta = load_model(args.checkpoint, "cpu")
    lows = sorted((args.data / "low").glob("*.png"))[: args.count]
    rows = [image_row(model, low, args.data / "high" / low.name, args.tile, args.overlap) for low in lows]
    write_markdown(
        args.out,
        [
            "# Tiling: global vs per-tile statistics, blended vs hard-stitched, against one pass",
            "",
            "Command: `OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/product/tiling_seams.py "
            f"{' '.join(sys.argv[1:])}`",
            "",
            f"Network: {meta.get('net')} genotype {meta.get('genotype', {}).get('name')}, "
            f"{meta.get('step', '?')} training steps{'; ' + args.note if args.note else ''}. "
            f"Tiles {args.tile}; overlap {args.overlap} (global, tile) "
            "or 0 (hard). global: blended, instance-norm statistics from a half-size copy of the image; "
            "tile: blended, per-tile statistics; hard: per-tile statistics, no overlap.",
            "PSNR in dB (peak 1) against the reference, then of each tiled output against the one-pass output; "
            "seam score = jump of (tiled - one-pass) where tiles hand over, relative to its median jump "
            "(about 1: no seam).",
            "",
            markdown_table(HEADER, rows),
        ],
    )


if __name__ == "__main__":
    main()
