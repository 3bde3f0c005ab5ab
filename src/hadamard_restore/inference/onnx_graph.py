"""Turning a network into an ONNX graph whose batch, height and width are dynamic.

:func:`export_proto` runs ``torch.onnx.export`` with the dynamo exporter (``Dim.DYNAMIC`` batch,
height and width) or the legacy TorchScript tracer (``dynamic_axes``); ``"auto"`` tries dynamo and
falls back to the tracer if it raises. The graph's input is :data:`INPUT_NAME` ``(N, 3, H, W)``,
its output :data:`OUTPUT_NAME`. :func:`hadamard_restore.inference.export.export_onnx` checks the
graph against PyTorch before it writes a file.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn
from torch.export import Dim

from hadamard_restore.runtime.log import get_logger

INPUT_NAME, OUTPUT_NAME = "image", "restored"

log = get_logger("hadamard_restore.inference.export")


def export_proto(model: nn.Module, example: torch.Tensor, opset: int, exporter: str):
    """Export ``model`` and return ``(onnx.ModelProto, exporter used)``."""
    import onnx  # lazy: start-up cost (onnx, 0.9 s)

    if exporter in ("auto", "dynamo"):
        try:
            # the dynamo exporter prints its progress to stdout; keep the CLI output clean
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                program = torch.onnx.export(
                    model,
                    (example,),
                    dynamo=True,
                    opset_version=opset,
                    verbose=False,
                    input_names=[INPUT_NAME],
                    output_names=[OUTPUT_NAME],
                    dynamic_shapes=({0: Dim.DYNAMIC, 2: Dim.DYNAMIC, 3: Dim.DYNAMIC},),
                )
            if program is None:
                raise RuntimeError("torch.onnx.export(dynamo=True) returned no program")
            return program.model_proto, "dynamo"
        except Exception as exc:
            if exporter == "dynamo":
                raise
            log.warning(
                "dynamo exporter failed (%s: %s); falling back to the TorchScript tracer",
                type(exc).__name__,
                str(exc).splitlines()[0][:200] if str(exc) else "",
            )
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(tmp) / "model.onnx"
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=False,
            opset_version=min(opset, 17),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={name: {0: "batch", 2: "height", 3: "width"} for name in (INPUT_NAME, OUTPUT_NAME)},
        )
        return onnx.load(str(path)), "torchscript"
