"""ONNX parity of the paper-lol network: onnxruntime (CPU) vs PyTorch (issue 6 acceptance).

Exports a model file with ``export_onnx`` (dynamic H/W) and reports the max abs difference
on a random 131x97 image and on a real LOL-v1 low-light image at full size (600x400), for
each exporter. Without ``--checkpoint`` it saves the derived paper-lol network (width 32,
untrained weights) as a model file first. Writes ``benchmarks/results/product/onnx_parity.md``.

Usage (from the repository root):

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/product/onnx_parity.py \\
        --image ../shared/data/lol-v1/our485/low/101.png [--checkpoint run/model.pt]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
from benchmarks.timing import cpu_model as cpu_name  # noqa: E402
from benchmarks.timing import markdown_table, write_markdown  # noqa: E402
from hadamard_restore.inference.export import export_onnx  # noqa: E402

HEADER = ["exporter", "image", "W x H", "max abs diff", "max abs output", "verdict", "export + check time"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", type=Path, required=True, help="a real photo, e.g. a LOL-v1 low image")
    ap.add_argument("--checkpoint", type=Path, default=None, help="model file (default: untrained paper-lol)")
    ap.add_argument("--exporters", default="dynamo,torchscript")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "product" / "onnx_parity.md")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint, weights = args.checkpoint, f"trained ({args.checkpoint})"
        if checkpoint is None:
            from hadamard_restore.net.genotype import load_genotype
            from hadamard_restore.net.model_file import save_model
            from hadamard_restore.net.network import HadamardNet

            net = HadamardNet(load_genotype("paper-lol"))
            checkpoint = save_model(Path(tmp) / "model.pt", net, net.genotype, {}, None)
            weights = "untrained (seed 0)"
        for exporter in args.exporters.split(","):
            start = time.perf_counter()
            report = export_onnx(
                checkpoint,
                Path(tmp) / f"{exporter}.onnx",
                exporter=exporter,
                check_images=[args.image],
                clamp=False,  # the raw output: the strictest comparison
            )
            seconds = time.perf_counter() - start
            for check in report.checks:
                rows.append(
                    [
                        f"{report.exporter} (opset {report.opset})",
                        check.name,
                        f"{check.size[1]}x{check.size[0]}",
                        f"{check.max_abs_diff:.2e}",
                        f"{check.output_max_abs:.3g}",
                        "pass" if check.max_abs_diff <= report.tolerance else "FAIL",
                        f"{seconds:.0f} s",
                    ]
                )
    write_markdown(
        args.out,
        [
            "# ONNX parity: onnxruntime (CPU) vs PyTorch, paper-lol network",
            "",
            "Command: `OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/product/onnx_parity.py "
            f"{' '.join(sys.argv[1:])}`",
            "",
            f"Network: derived paper-lol, channels 32, 7 HNUs, weights {weights}. "
            f"Machine: {cpu_name()} CPU ({os.cpu_count()} logical CPUs, shared), torch {torch.__version__}. "
            "Tolerance 1e-3 on the raw "
            "(unclamped) output; H and W are dynamic in the graph (the random image is 131x97, odd).",
            "",
            markdown_table(HEADER, rows),
        ],
    )


if __name__ == "__main__":
    main()
