"""The correctness parts of :mod:`benchmarks.gpu_check`: bf16 autocast, ONNX from a CUDA model, DDP smoke."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"


def bf16_finite(p) -> dict:
    """Forward and backward of the derived network under bf16 autocast with the loss mix: all finite?"""
    from hadamard_restore.losses.loss_weights import load_loss_weights
    from hadamard_restore.losses.mix import LossMix
    from hadamard_restore.net import HadamardNet

    s = p.sizes
    crop = min(s["train_crop"], 96)
    net = HadamardNet(s["genotype"], channels=s["channels"]).to(p.device).train()
    mix = LossMix.from_weights(load_loss_weights("paper-lol"), trainable=False).to(p.device)
    gen = torch.Generator().manual_seed(3)
    x, y = (torch.rand(2, 3, crop, crop, generator=gen).to(p.device) for _ in range(2))
    with torch.autocast(p.device.type, dtype=torch.bfloat16):
        out = net(x)
    total, terms = mix(out.float(), y)
    total.backward()
    grads = [q.grad for q in net.parameters() if q.grad is not None]
    return {
        "device": str(p.device),
        "output dtype under autocast": str(out.dtype),
        "loss": float(total.detach()),
        "terms": {k: float(v.detach()) for k, v in terms.items()},
        "loss finite": bool(torch.isfinite(total)),
        "output finite": bool(torch.isfinite(out).all()),
        "grads finite": bool(grads) and all(bool(torch.isfinite(g).all()) for g in grads),
        "params with grad": len(grads),
    }


def onnx_from_device(p) -> dict:
    """``export_onnx`` of a model living on the device; parity of onnxruntime against that device's fp32 output."""
    import onnxruntime as ort

    from hadamard_restore.inference.export import export_onnx
    from hadamard_restore.net import HadamardNet

    s = p.sizes
    net = HadamardNet(s["genotype"], channels=s["channels"]).to(p.device).eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        report = export_onnx(net, path, exporter=s["onnx_exporter"], check_max_side=s["onnx_side"])
        data = path.read_bytes()
    res = {
        "exporter": report.exporter,
        "opset": report.opset,
        "export parity (CPU torch vs onnxruntime)": report.max_abs_diff,
        "model device after export": str(next(net.parameters()).device),
    }
    net.to(p.device)
    side = s["onnx_side"]
    x = torch.rand(1, 3, side + 3, side - 1, generator=torch.Generator().manual_seed(4))
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = torch.from_numpy(sess.run(None, {"image": x.numpy()})[0])
    for tf32 in (True, False) if p.cuda else (False,):
        torch.backends.cudnn.allow_tf32 = tf32
        with torch.no_grad():
            ref = net(x.to(p.device)).float().cpu().clamp(0.0, 1.0)  # the exported graph clamps
        res[f"max |onnxruntime - {p.device.type} fp32| (TF32 {'on' if tf32 else 'off'})"] = float(
            (got - ref).abs().max()
        )
    torch.backends.cudnn.allow_tf32 = True
    return res


def correct_part(p) -> None:
    """bf16 autocast finiteness and ONNX export from a model on the device, each recorded on its own."""
    if not p.cuda:
        p.note("device", "dry run: both checks ran on the CPU (CPU bf16 autocast, ONNX from a CPU model)")
    for key, fn in (("bf16 autocast", bf16_finite), ("onnx from device model", onnx_from_device)):
        try:
            p.record(key, fn(p))
        except Exception as exc:  # one check failing must not hide the other
            p.record(key, {"error": _error(exc)})


def ddp_part(p) -> None:
    """``torchrun --nproc_per_node 1`` search + training through NCCL (:mod:`benchmarks.gpu_ddp_smoke`)."""
    if not p.cuda and not getattr(p, "ddp_on_cpu", False):
        p.note("ddp", "GPU only: skipped in the CPU dry run (--ddp-on-cpu runs it with gloo)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "1",
            str(ROOT / "benchmarks" / "gpu_ddp_smoke.py"),
            "--out",
            tmp,
            "--device",
            "cuda" if p.cuda else "cpu",
        ]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        tail = (proc.stdout + proc.stderr).strip().splitlines()
        p.record(
            "torchrun",
            {
                "command": f"torchrun --standalone --nproc_per_node 1 benchmarks/gpu_ddp_smoke.py --device {cmd[-1]}",
                "exit": proc.returncode,
                "ok": proc.returncode == 0 and "): OK" in proc.stdout,
                "last lines": tail[-6:],
            },
        )
        if proc.returncode != 0:
            raise RuntimeError(f"torchrun smoke exited {proc.returncode}: {tail[-1] if tail else ''}")
