"""Pack everything a bare GPU machine needs to run the whole method for one task, and prove it fits.

    python tools/device_pack.py low-light --out .device_pack/low-light     # then carry that folder

The GPU machine has PyTorch but not this project's other dependencies, no pretrained weights, no
data and no network, and one call carries at most 64 MiB (the working tree included). The folder
``--out`` (kept out of git: it gets its own ``.gitignore``) holds:

* ``wheels/``: the pure-Python and manylinux wheels of pydantic (and its core) and lpips for
  CPython 3.12 (``--no-wheels`` skips the download);
* ``weights-fp16.pt``: the ImageNet VGG16 trunk up to relu4_3 (the deepest VGG-loss candidate and
  the deepest tap of the VGG-feature judge) and the AlexNet trunk in float16, and the LPIPS heads;
* ``data/``: the task's pairs named by the bundled model's pinned held-out split (its training part
  and its held-out part): lossless copies when everything fits, else JPEG quality 95 without
  chroma subsampling with every file's PSNR against its original printed, else (only then) a
  subset of the training pairs, named in ``pack.json``;
* ``heldout.json`` / ``dev.json``: the bundled model's held-out split and its development split,
  rewritten for the packed files (their names and sha256s), so the factory model is scored on the
  same held-out pairs as the bundled one and never trains on them;
* ``pack.json``: what was packed, how, each file's PSNR against its original, and the sizes.

Exit status 1 when the pack and the working tree do not fit in 64 MiB.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "src")]

from benchmarks.product.gpu_pack import LIMIT, download_wheels, pack_weights, tree_bytes  # noqa: E402
from hadamard_restore.data.split import Split, SplitEntry, development_split  # noqa: E402

TASKS = {  # task -> (config, dataset folder under $HADAMARD_RESTORE_DATA, bundled model)
    "low-light": ("configs/low-light.yaml", "lol-v1/our485", "low-light"),
    "dehaze": ("configs/dehaze.yaml", "sots-indoor", "dehaze"),
    "underwater": ("configs/underwater.yaml", "lsui", "underwater"),
}
VGG16_UP_TO = 22  # relu4_3: the deepest VGG-loss candidate and the VGG-feature judge's deepest tap
MARGIN = 2 * 2**20  # what the pack's small files and the call's own overhead may take
JPEG_QUALITY = 95


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def psnr_8bit(a, b) -> float:
    """PSNR (dB) of two 8-bit RGB images, with the project's metric (peak 255)."""
    import numpy as np
    import torch

    from hadamard_restore.metrics.psnr import psnr

    x, y = (torch.from_numpy(np.asarray(im, dtype=np.float64)).permute(2, 0, 1)[None] for im in (a, b))
    return float(psnr(x, y, data_range=255.0)[0])


def encode(path: Path, mode: str) -> tuple[bytes, str, float]:
    """``(bytes, packed name suffix, PSNR vs the original)`` of one file packed as ``mode``."""
    from PIL import Image

    raw = path.read_bytes()
    if mode == "lossless":
        return raw, path.suffix, math.inf
    with Image.open(io.BytesIO(raw)) as im:
        rgb = im.convert("RGB")
    buf = io.BytesIO()
    rgb.save(buf, "JPEG", quality=JPEG_QUALITY, subsampling=0)
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as back:
        return data, ".jpg", psnr_8bit(rgb, back.convert("RGB"))


def bundled_split(model: str) -> Split:
    from importlib import resources

    with resources.as_file(resources.files("hadamard_restore") / "resources" / "models" / model / "heldout.json") as p:
        return Split.load(p)


Encoded = dict[str, tuple[bytes, str, float]]  # name -> (packed bytes, suffix, PSNR vs the original)


def plan(entries: list[tuple[str, SplitEntry]], root: Path, budget: int) -> tuple[str, list, Encoded]:
    """The packing mode, the entries it keeps (lossless if all fit, else JPEG, else a JPEG subset)
    and every file encoded for that mode (each file is encoded once)."""
    names = sorted({n for _, e in entries for n in (e.degraded, e.reference)})
    if sum((root / n).stat().st_size for n in names) <= budget:
        return "lossless", entries, {n: encode(root / n, "lossless") for n in names}
    encoded = {n: encode(root / n, "jpeg") for n in names}
    kept, used = [], 0
    for part, e in sorted(entries, key=lambda pe: pe[0] != "val"):  # held-out pairs first: never dropped
        cost = sum(len(encoded[n][0]) for n in {e.degraded, e.reference})
        if used + cost <= budget or part == "val":
            kept.append((part, e))
            used += cost
    return ("jpeg" if len(kept) == len(entries) else "jpeg-subset"), kept, encoded


def pack_data(task: str, data_root: Path, out: Path, budget: int) -> dict:
    """Write ``data/``, ``heldout.json`` and ``dev.json``; returns the ``data`` block of pack.json."""
    _, folder, model = TASKS[task]
    root = data_root / folder
    held = bundled_split(model)
    entries = [("train", e) for e in held.train] + [("val", e) for e in held.val]
    for _, e in entries:  # the originals must be the files the split pinned
        for name, digest in ((e.degraded, e.degraded_sha256), (e.reference, e.reference_sha256)):
            if not (root / name).is_file() or sha256((root / name).read_bytes()) != digest:
                raise SystemExit(
                    f"{root / name} is missing or differs from the bundled {model} split; re-copy the data"
                )
    mode, kept, encoded = plan(entries, root, budget)
    packed: dict[str, tuple[str, str, float]] = {}  # original name -> (packed name, sha256, PSNR)
    for _, e in kept:
        for name in (e.degraded, e.reference):
            if name in packed:
                continue
            data, suffix, quality = encoded[name]
            new = str(Path(name).with_suffix(suffix))
            dest = out / "data" / new
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            packed[name] = (new, sha256(data), quality)

    def moved(e: SplitEntry) -> SplitEntry:
        (d, dh, _), (r, rh, _) = packed[e.degraded], packed[e.reference]
        return SplitEntry(d, r, dh, rh, e.group)

    note = f"the bundled {model} model's held-out split, for the packed copies ({mode})"
    new_held = Split(
        [moved(e) for p, e in kept if p == "train"],
        [moved(e) for p, e in kept if p == "val"],
        held.seed,
        held.val_ratio,
        held.group_key,
        held.layout,
        "data",
        {"note": note},
    )
    new_held.save(out / "heldout.json")
    development_split(new_held, f"development split of the training part of heldout.json ({task})").save(
        out / "dev.json"
    )
    finite = [q for _, _, q in packed.values() if math.isfinite(q)]
    return {
        "dataset": folder,
        "layout": held.layout,
        "mode": mode,
        "jpeg_quality": None if mode == "lossless" else JPEG_QUALITY,
        "pairs": {"train": sum(p == "train" for p, _ in kept), "heldout": sum(p == "val" for p, _ in kept)},
        "pairs_left_out": len(entries) - len(kept),
        "psnr_vs_original": {
            "min": min(finite) if finite else None,
            "mean": sum(finite) / len(finite) if finite else None,
            "files": {packed[n][0]: (None if math.isinf(q) else round(q, 2)) for n, (_, _, q) in packed.items()},
        },
    }


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("task", choices=sorted(TASKS))
    ap.add_argument("--out", type=Path, required=True, help="a new or empty folder")
    ap.add_argument("--data", type=Path, default=None, help="default: $HADAMARD_RESTORE_DATA")
    ap.add_argument("--no-wheels", action="store_true", help="skip the wheel download (a CPU dry run needs none)")
    args = ap.parse_args(argv)
    data_env = os.environ.get("HADAMARD_RESTORE_DATA")
    if args.data is None and not data_env:
        ap.error("no data: set $HADAMARD_RESTORE_DATA or pass --data")
    data_root = (args.data or Path(str(data_env))).resolve()
    out = args.out.resolve()
    if out.exists() and any(out.iterdir()):
        ap.error(f"--out {out} is not empty; give a new folder (nothing was written)")
    out.mkdir(parents=True, exist_ok=True)
    (out / ".gitignore").write_text("# made by tools/device_pack.py: never committed\n*\n")
    from hadamard_restore.backbones.cache import cache_dir

    pack_weights(cache_dir(), out / "weights-fp16.pt", VGG16_UP_TO)
    if not args.no_wheels:
        download_wheels(out / "wheels")
    tree = tree_bytes(REPO)
    budget = LIMIT - tree - folder_bytes(out) - MARGIN
    data = pack_data(args.task, data_root, out, budget)
    total = tree + folder_bytes(out)
    info = {
        "task": args.task,
        "data": data,
        "bytes": {"pack": folder_bytes(out), "working_tree": tree, "total": total, "limit": LIMIT},
        "wheels": sorted(p.name for p in (out / "wheels").glob("*.whl")) if not args.no_wheels else [],
    }
    (out / "pack.json").write_text(json.dumps(info, indent=1))
    for name, q in sorted(data["psnr_vs_original"]["files"].items()):
        print(f"  {name}: {'lossless' if q is None else f'{q:.2f} dB vs original'}")
    fits = total <= LIMIT
    print(
        f"{args.task}: {data['pairs']['train']} training + {data['pairs']['heldout']} held-out pairs, {data['mode']}"
        + (f" (min PSNR vs originals {data['psnr_vs_original']['min']:.2f} dB)" if data["mode"] != "lossless" else "")
        + (f", {data['pairs_left_out']} training pairs left out" if data["pairs_left_out"] else "")
    )
    print(
        f"pack {info['bytes']['pack'] / 2**20:.2f} MiB + working tree {tree / 2**20:.2f} MiB = {total / 2**20:.2f} MiB "
        f"of the {LIMIT / 2**20:.0f} MiB one call may carry: {'fits' if fits else 'DOES NOT FIT'} ({out})"
    )
    return 0 if fits else 1


if __name__ == "__main__":
    sys.exit(main())
