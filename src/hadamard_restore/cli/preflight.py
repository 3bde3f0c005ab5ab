"""Checks each deployment and data command makes before any work: paths and options.

Every function raises a :class:`~hadamard_restore.errors.HadamardRestoreError` subclass with a
message that names the paths involved and what to do, so the CLI prints one line instead of
a traceback, and nothing is written or computed first (:mod:`hadamard_restore.runtime.output_guard`).
``evaluate`` checks the files it writes per pair itself (``evaluation.evaluate.check_outputs``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import cast, get_args

from hadamard_restore.errors import HadamardRestoreError
from hadamard_restore.inference.export import Exporter
from hadamard_restore.runtime.output_guard import (
    OutputPathError,
    check_new_files,
    check_output_dir,
    check_output_file,
    guard_outputs,
    resolved,
    same_file,
)

TORCHSCRIPT_OPSETS = (11, 17)  # the tracer's reflection pad needs opset 11; it writes at most 17
DYNAMO_MIN_OPSET = 18  # the dynamo exporter writes 18 or newer (it silently used 18 below that)


class ExportOptionError(HadamardRestoreError, ValueError):
    """An ONNX export option (opset, exporter) that cannot be honoured."""


def dynamo_max_opset() -> int:
    """The newest opset the installed ``onnx`` package knows."""
    import onnx  # lazy: start-up cost (onnx, 0.9 s)

    return int(onnx.defs.onnx_opset_version())


def check_opset(opset: int | None, exporter: Exporter) -> tuple[Exporter, int]:
    """``(exporter, opset)`` that writes the asked opset exactly (``auto`` picks the tracer below
    18); with no opset: 18, or 17 for the TorchScript exporter.

    Raises:
        ExportOptionError: no exporter writes this opset (it would be silently replaced).
    """
    low, high = TORCHSCRIPT_OPSETS
    if opset is None:
        return exporter, high if exporter == "torchscript" else DYNAMO_MIN_OPSET
    top = dynamo_max_opset()
    ranges = (
        f"the dynamo exporter writes opsets {DYNAMO_MIN_OPSET}-{top} and the TorchScript exporter "
        f"(--exporter torchscript) {low}-{high}; the default is 18 (17 with --exporter torchscript)"
    )
    if exporter == "dynamo" and not DYNAMO_MIN_OPSET <= opset <= top:
        raise ExportOptionError(f"--opset {opset} cannot be written by --exporter dynamo: {ranges}")
    if exporter == "torchscript" and not low <= opset <= high:
        raise ExportOptionError(f"--opset {opset} cannot be written by --exporter torchscript: {ranges}")
    if not low <= opset <= top:
        raise ExportOptionError(f"--opset {opset} is not supported: {ranges}")
    if exporter == "auto" and opset < DYNAMO_MIN_OPSET:
        return "torchscript", opset
    return exporter, opset


def export_preflight(
    checkpoint: Path,
    onnx: Path,
    opset: int | None,
    exporter: str,
    check_images: Sequence[Path] = (),
    force: bool = False,
) -> tuple[Exporter, int]:
    """Paths and options of ``export``; returns ``(exporter, opset)`` to use (:func:`check_opset`).
    An existing ``--onnx`` file is replaced only with ``force``."""
    if exporter not in get_args(Exporter):
        raise ExportOptionError(f"--exporter must be auto, dynamo or torchscript, got {exporter!r}")
    named = cast(Exporter, exporter)
    check_output_file(onnx, "--onnx", "model.onnx")
    guard_outputs({"checkpoint": checkpoint, "--check-image": list(check_images)}, {"--onnx": onnx})
    check_new_files([onnx], "--onnx", force)
    return check_opset(opset, named)


def enhance_preflight(
    checkpoint: Path, inputs: Iterable[Path], out: Path, recursive: bool = False, suffix: str = "", force: bool = False
) -> None:
    """``enhance``: ``--out`` usable and not an input folder; no output replaces an input, the
    checkpoint or another output (:func:`hadamard_restore.photo.plan.plan_outputs`, plus the checkpoint
    and hard links to an input); every output name can be written, and an existing file in
    ``--out`` is replaced only with ``force`` (:func:`check_new_files`)."""
    from hadamard_restore.photo.plan import plan_outputs  # lazy: start-up cost (torch, 4-5 s)

    inputs = [Path(p) for p in inputs]
    for item in inputs:
        if item.is_dir() and same_file(item, out):
            raise OutputPathError(
                f"--out {out} is the input folder {item}: the enhanced photos would be written "
                "among the originals; choose another --out"
            )
    check_output_dir(out)
    jobs = plan_outputs(inputs, out, recursive, suffix)
    guard_outputs(
        {"checkpoint": checkpoint, "input image": [src for src, _ in jobs]},
        {f"output for {src}": dst for src, dst in jobs},
    )
    check_new_files([dst for _, dst in jobs], "output", force)


def evaluate_preflight(checkpoint: Path, data: Path, split: Path | None, out: Path | None) -> Path:
    """``evaluate``: the output folder (default ``<checkpoint folder>/eval``) is usable and not
    the dataset (or inside it); returns it."""
    folder = Path(out) if out is not None else resolved(checkpoint).parent / "eval"
    data_root = resolved(data)
    if resolved(folder) == data_root or data_root in resolved(folder).parents:
        raise OutputPathError(
            f"--out {folder} is inside the dataset {data}: evaluation outputs would be mixed "
            "with the pairs; choose a folder outside it"
        )
    check_output_dir(folder)
    guard_outputs({"checkpoint": checkpoint, "--split": split}, {"--out": folder})
    return folder


def split_preflight(out: Path, pairs) -> None:
    """``data split``: ``--out`` can be written as a file, and every pair has equal image sizes."""
    from hadamard_restore.data.integrity import check_pair_sizes  # lazy: start-up cost (torch, 4-5 s)

    check_output_file(out, "--out", "split.json")
    guard_outputs({"image": [f for p in pairs for f in (p.degraded, p.reference)]}, {"--out": out})
    check_pair_sizes(pairs)
