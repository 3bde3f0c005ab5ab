"""Prepare what :mod:`benchmarks.product.gpu_check` needs to carry to the GPU machine, and prove it fits.

The GPU machine (Python 3.12, PyTorch, onnx/onnxruntime, no network) lacks two packages this
project imports, ``pydantic`` (with its compiled core) and ``lpips``, and has no pretrained
weights. Run here, from the repository root::

    PYTHONPATH=src python -m benchmarks.product.gpu_pack            # writes .gpu_pack/ (git-ignored)

* ``.gpu_pack/wheels/``: ``pip download --no-deps`` of the versions installed here, for CPython
  3.12 on manylinux x86-64 (pydantic, pydantic-core, annotated-types, typing-inspection,
  typing-extensions, lpips);
* ``.gpu_pack/weights-fp16.pt``: the ImageNet VGG16 layers up to the deepest VGG tap of the
  ``paper-lol`` loss (relu4_2) and the AlexNet trunk in float16, and the LPIPS heads. On the GPU,
  ``--unpack`` rebuilds a float32 weights cache from it (layers past the deepest tap, which never
  run, are zero), so the loss mix runs as it does here, within fp16 rounding of the weights;
* a size report: the pack plus the tracked working tree against the 64 MiB a call may carry
  (exit status 1 when over).

``--unpack PACK --to DIR`` is what ``benchmarks/product/gpu_check.sh`` runs on the GPU machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import torch

LIMIT = 64 * 2**20
WHEELS = ("pydantic", "pydantic-core", "annotated-types", "typing-inspection", "typing-extensions", "lpips")
PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
)
HALF = ("vgg16", "alexnet")  # stored as float16
HEADS = ("lpips-alex", "lpips-vgg")


def deepest_tap(loss_weights: str = "paper-lol", backbone: str = "vgg16") -> int:
    """Index in ``<backbone>.features`` of the deepest VGG layer the loss uses."""
    from hadamard_restore.losses.loss_weights import load_loss_weights
    from hadamard_restore.losses.vgg import backbone_layer_names

    names, layers = backbone_layer_names(backbone), load_loss_weights(loss_weights).vgg_layers
    if layers is None:
        raise ValueError(f"loss weights {loss_weights!r} name no VGG layers (relaxed); give searched or bundled ones")
    return max(names.index(n) for n in layers)


def pack_weights(cache: Path, out: Path, vgg_up_to: int) -> Path:
    """Write the needed weights (see the module docstring) from the weights cache ``cache`` to ``out``."""
    from hadamard_restore.artifacts import atomic_torch_save
    from hadamard_restore.backbones.sources import load_torch_file

    blob: dict[str, dict[str, torch.Tensor]] = {}
    for name in HALF + HEADS:
        state = load_torch_file(cache / f"{name}.pth")
        if name == "vgg16":
            state = {k: v for k, v in state.items() if int(k.split(".")[0]) <= vgg_up_to}
        blob[name] = {k: (v.half() if name in HALF else v).contiguous() for k, v in state.items()}
    atomic_torch_save(blob, out)
    return out


def unpack_weights(pack: Path, dest: Path) -> list[Path]:
    """Rebuild a float32 weights cache in ``dest`` from :func:`pack_weights`' file."""
    from hadamard_restore.artifacts import atomic_torch_save
    from hadamard_restore.backbones.convert import expected_shapes

    blob = torch.load(pack, map_location="cpu", weights_only=True)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name, state in blob.items():
        state = {k: v.float() for k, v in state.items()}
        if name in HALF:
            for key, shape in expected_shapes(name).items():
                state.setdefault(key, torch.zeros(shape))
        atomic_torch_save(state, dest / f"{name}.pth")
        written.append(dest / f"{name}.pth")
    return written


def download_wheels(dest: Path, names=WHEELS) -> list[Path]:
    """``pip download --no-deps`` each package at the version installed here, for CPython 3.12 x86-64."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        spec = f"{name}=={metadata.version(name)}"
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            "3.12",
            "--implementation",
            "cp",
            "-d",
            str(dest),
            spec,
        ]
        cmd += [x for plat in PLATFORMS for x in ("--platform", plat)]
        if subprocess.run(cmd).returncode != 0:
            subprocess.run(cmd[: -2 * len(PLATFORMS)] + ["--platform", "any"], check=True)
    return sorted(dest.glob("*.whl"))


def tree_bytes(root: Path) -> int:
    """Bytes of the files git would send: tracked plus untracked-not-ignored."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    return sum((root / p.decode()).stat().st_size for p in out if p and (root / p.decode()).is_file())


def size_report(pack: Path, root: Path) -> tuple[str, bool]:
    files = sorted(p for p in pack.rglob("*") if p.is_file())
    rows = [f"  {p.relative_to(pack)}: {p.stat().st_size / 2**20:.2f} MiB" for p in files]
    pack_b, tree_b = sum(p.stat().st_size for p in files), tree_bytes(root)
    total = pack_b + tree_b
    ok = total <= LIMIT
    rows += [
        f"pack {pack_b / 2**20:.2f} MiB + working tree {tree_b / 2**20:.2f} MiB = {total / 2**20:.2f} MiB "
        f"of the {LIMIT / 2**20:.0f} MiB one call may carry: {'fits' if ok else 'DOES NOT FIT'}"
    ]
    return "\n".join(rows), ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path(".gpu_pack"))
    p.add_argument("--no-wheels", action="store_true", help="only the weights (no pip download)")
    p.add_argument("--unpack", type=Path, help="on the GPU machine: a weights-fp16.pt to unpack")
    p.add_argument("--to", type=Path, help="with --unpack: the weights cache folder to fill")
    args = p.parse_args(argv)
    if args.unpack:
        for path in unpack_weights(args.unpack, args.to):
            print(f"unpacked {path}")
        return 0
    from hadamard_restore.backbones.cache import cache_dir

    args.out.mkdir(parents=True, exist_ok=True)
    pack_weights(cache_dir(), args.out / "weights-fp16.pt", deepest_tap())
    if not args.no_wheels:
        download_wheels(args.out / "wheels")
    text, ok = size_report(args.out, Path.cwd())
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
