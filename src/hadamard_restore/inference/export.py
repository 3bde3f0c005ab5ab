"""ONNX export with dynamic batch, height and width, checked against PyTorch with onnxruntime.

``export_onnx(checkpoint, onnx_path)`` loads a model file, exports the network with input
``image`` ``(N, 3, H, W)`` and output ``restored`` ``(N, 3, H, W)`` where N, H and W are dynamic
(any batch and size, odd included: the reflection padding to a multiple of 4 and the crop back are
computed from the input's shape inside the graph), runs the exported graph with
onnxruntime (CPU) on a random image of odd size and on a real photo, and compares with
the PyTorch output. The file is written (atomically) only when every max abs difference is
at most ``tolerance``; otherwise :class:`ParityError` says by how much it failed.

Exporter: ``exporter="dynamo"`` (``torch.onnx.export(..., dynamo=True)`` with
``Dim.DYNAMIC`` batch, height and width; the default and the recommended path in torch 2.x) or
``"torchscript"`` (the legacy tracer with ``dynamic_axes``); ``"auto"`` tries dynamo and
falls back to the tracer if it raises. Both export the reflection pad, the HNU division and
the instance norm.

**Output range.** The graph clamps its output to ``[0, 1]`` (an image, as ``enhance`` saves it; the
raw network value reaches about 2 on bright regions), and the parity check compares it with the
clamped PyTorch output. ``clamp=False`` (``export --raw``) keeps the raw network value, as PyTorch's
``model(x)`` returns it.

The ONNX file carries ``metadata_props``: the genotype (JSON), the net settings, the exporter
used and the output range (``output``: ``clamped to [0, 1]`` or ``raw``), so a deployed file says
what it is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from skimage import data as skdata
from torch import nn

from hadamard_restore.artifacts import atomic_write_bytes
from hadamard_restore.data.io import read_image
from hadamard_restore.errors import HadamardRestoreError
from hadamard_restore.inference.onnx_graph import INPUT_NAME, OUTPUT_NAME, export_proto
from hadamard_restore.net.model_file import load_model
from hadamard_restore.runtime.slow import notice_if_slow

Exporter = Literal["auto", "dynamo", "torchscript"]
RANDOM_SIZE = (131, 97)  # odd on both axes: exercises the pad-to-4 path at run time


MIN_CHECK_SIDE = 16  # a smaller parity photo checks next to nothing
MAX_TOLERANCE = 0.1  # outputs are in [0, 1]: a larger tolerance passes any graph


def check_parity_options(check_max_side: int | None, tolerance: float) -> None:
    """Refuse parity-check options that would make the check meaningless (before any work)."""
    if check_max_side is not None and check_max_side < MIN_CHECK_SIDE:
        raise ParityOptionError(
            f"--check-max-side {check_max_side} is too small: the parity check needs photos of at least "
            f"{MIN_CHECK_SIDE} pixels on the longer side (leave it out to check at full size)"
        )
    if not (math.isfinite(tolerance) and 0 <= tolerance <= MAX_TOLERANCE):
        raise ParityOptionError(
            f"--tolerance {tolerance:g} makes the parity check meaningless; give a number from 0 (exact) "
            f"to {MAX_TOLERANCE:g} (the default 1e-3 is what fp32 ONNX Runtime meets)"
        )


class ParityOptionError(HadamardRestoreError, ValueError):
    """``check_max_side`` or ``tolerance`` would make the parity check meaningless."""


class Clamped(nn.Module):
    """``model``'s output clamped to ``[0, 1]``: what the exported graph computes by default."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).clamp(0.0, 1.0)


class ParityError(HadamardRestoreError, RuntimeError):
    """The exported graph disagrees with PyTorch by more than the tolerance."""


@dataclass
class ParityCheck:
    """One comparison: the image's name, its ``(H, W)``, ``max |onnx - torch|`` and, for scale,
    ``max |torch|``."""

    name: str
    size: tuple[int, int]
    max_abs_diff: float
    output_max_abs: float = float("nan")


@dataclass
class ExportReport:
    """Where the file went, how it was made and the parity checks."""

    path: Path
    exporter: str
    opset: int
    tolerance: float
    checks: list[ParityCheck] = field(default_factory=list)
    clamped: bool = True

    @property
    def max_abs_diff(self) -> float:
        return max((c.max_abs_diff for c in self.checks), default=float("nan"))

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.max_abs_diff <= self.tolerance for c in self.checks)

    def summary(self) -> str:
        lines = [f"ONNX parity (onnxruntime CPU vs PyTorch, tolerance {self.tolerance:g}):"]
        lines += [
            f"  {c.name} {c.size[0]}x{c.size[1]}: max abs diff {c.max_abs_diff:.3e} "
            f"(output max |y| {c.output_max_abs:.3g})"
            for c in self.checks
        ]
        output = "output clamped to [0, 1]" if self.clamped else "raw output, not clamped"
        lines.append(
            f"{'PASS' if self.ok else 'FAIL'}: {self.path} (exporter {self.exporter}, opset {self.opset}, {output})"
        )
        return "\n".join(lines)


def parity_check(model: nn.Module, onnx_bytes: bytes, images: dict[str, torch.Tensor]) -> list[ParityCheck]:
    """Run each image through PyTorch and onnxruntime (CPU) and compare the outputs.

    Args:
        model: the network (eval mode, CPU).
        onnx_bytes: the serialised ONNX model.
        images: name -> ``(3, H, W)`` or ``(1, 3, H, W)`` float32 in ``[0, 1]``.

    Returns:
        One :class:`ParityCheck` per image with ``max |onnx - torch|`` over all pixels.
    """
    import onnxruntime as ort  # lazy: start-up cost (onnxruntime, 0.06 s)

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, torch.get_num_threads())
    session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    checks = []
    for name, img in images.items():
        x = (img if img.dim() == 4 else img[None]).float().cpu().contiguous()
        with torch.inference_mode():
            ref = model(x).float().numpy()
        got = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
        if got.shape != ref.shape:
            diff = math.inf
        else:
            diff = float(np.max(np.abs(got.astype(np.float64) - ref.astype(np.float64))))
        if not math.isfinite(diff):
            diff = math.inf
        checks.append(ParityCheck(name, (int(x.shape[-2]), int(x.shape[-1])), diff, float(np.abs(ref).max())))
    return checks


def default_check_images(
    real: Sequence[str | Path] = (), max_side: int | None = None, seed: int = 0
) -> dict[str, torch.Tensor]:
    """The images a parity check uses: one random image of odd size and real photos.

    Args:
        real: image files to check on; when empty, scikit-image's bundled ``astronaut``
            photo (512x512), cropped to 511x509 so that both sides are odd.
        max_side: shrink real photos (area resampling) so the longer side is at most this.
        seed: seed of the random image (explicit generator).
    """
    gen = torch.Generator().manual_seed(seed)
    images = {"random": torch.rand(1, 3, *RANDOM_SIZE, generator=gen)}
    if real:
        photos = {Path(p).name: read_image(p) for p in real}
    else:
        photo = torch.from_numpy(skdata.astronaut().copy()).permute(2, 0, 1).float() / 255.0
        photos = {"astronaut (scikit-image)": photo[:, :511, :509]}
    for name, img in photos.items():
        if max_side is not None and max(img.shape[-2:]) > max_side:
            scale = max_side / max(img.shape[-2:])
            size = [max(4, round(s * scale)) for s in img.shape[-2:]]
            img = torch.nn.functional.interpolate(img[None], size=size, mode="area")[0]
        images[name] = img
    return images


def export_onnx(
    checkpoint: str | Path | nn.Module,
    onnx_path: str | Path,
    opset: int = 18,
    exporter: Exporter = "auto",
    check_images: Sequence[str | Path] = (),
    check_max_side: int | None = None,
    tolerance: float = 1e-3,
    clamp: bool = True,
) -> ExportReport:
    """Export a model file to ONNX (dynamic N, H and W; output clamped to [0, 1] unless
    ``clamp=False``) and check it against PyTorch.

    Args:
        checkpoint: a model file (``model.pt``/``last.pt``) or a built network.
        onnx_path: destination ``.onnx`` file (written atomically, only if parity passes).
        opset: ONNX opset (18 by default; the TorchScript tracer uses at most 17).
        exporter: ``auto``, ``dynamo`` or ``torchscript`` (see the module docstring).
        check_images: real photos for the parity check (default: a bundled photo).
        check_max_side: shrink the real photos to this longer side first (None: full size).
        tolerance: largest allowed max abs difference.
        clamp: clamp the graph's output to ``[0, 1]`` (default); ``False`` keeps the raw value.

    Returns:
        :class:`ExportReport` (``.summary()`` prints the differences).

    Raises:
        ParityError: some max abs difference exceeds ``tolerance`` (nothing is written).
        ParityOptionError: ``check_max_side`` below 16, or ``tolerance`` not in [0, 0.1].
        CheckpointError: the model file is bad.
    """
    check_parity_options(check_max_side, tolerance)
    meta: dict = {}
    if isinstance(checkpoint, nn.Module):
        model = checkpoint
    else:
        model, meta = load_model(checkpoint, "cpu")
    model = model.cpu().eval()
    if clamp:
        model = Clamped(model).eval()
    example = torch.rand(1, 3, *RANDOM_SIZE, generator=torch.Generator().manual_seed(1))
    with notice_if_slow(f"exporting the network to ONNX (exporter {exporter})"):
        proto, used = export_proto(model, example, opset, exporter)
    props = {
        "producer": "hadamard-restore",
        "exporter": used,
        "genotype": json.dumps(meta.get("genotype", {})),
        "net": json.dumps(meta.get("net", {})),
        "output": "clamped to [0, 1]" if clamp else "raw",
    }
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    data = proto.SerializeToString()
    opset_used = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), opset)
    report = ExportReport(Path(onnx_path), used, int(opset_used), tolerance, clamped=clamp)
    with notice_if_slow("checking the ONNX graph against PyTorch"):
        report.checks = parity_check(model, data, default_check_images(check_images, check_max_side))
    if not report.ok:
        raise ParityError(
            report.summary() + f"\nnot written: the exported graph differs from PyTorch by "
            f"more than {tolerance:g}; try --exporter torchscript or another --opset"
        )
    atomic_write_bytes(onnx_path, data)
    return report
