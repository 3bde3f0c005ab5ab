"""Before/after ratios of the speed issue, each measured side by side in ONE process, interleaved.

Run on a quiet machine (the load average is recorded in the table)::

    OMP_NUM_THREADS=2 PYTHONPATH=src:. python -m benchmarks.product.speed_paths --section enhance \\
        --checkpoint MODEL.pt --sizes 600x400,4000x3000 --threads 2 --old-path
    OMP_NUM_THREADS=2 PYTHONPATH=src:. python -m benchmarks.product.speed_paths --section train \\
        --crop 96 --batch 8 --threads 2 --old-path --compile
    OMP_NUM_THREADS=2 PYTHONPATH=src:. python -m benchmarks.product.speed_paths --section search \\
        --crop 64 --batch 1 --threads 2 --old-path

* ``enhance``: :func:`hadamard_restore.inference.enhance.enhance_tensor` (the Python single-image
  path, tiling included) with ``backend="auto"``, ``precision="auto"`` (the new default: bf16
  where it is native) and with ``precision="fp32"`` (full precision only), against ``--old-path``
  ``backend="eager"`` (the default before the fast path). The one-off cost of each choice (timing
  the candidates, the ONNX export) is reported apart; it is paid once per model and size class,
  and the backend each one chose is named in the table.
* ``train``: one training step of the derived network with the searched loss mix (VGG and LPIPS
  included): ``Trainer.train_step`` as training runs it now (:mod:`benchmarks.product.speed`),
  against ``--old-path`` the same step with the per-step code as it was (the loss mix read its
  weights from the device every step; the VGG input normalisation rebuilt its constants every
  call; the instance norm was ``var_mean`` plus element-wise ops), in float32, in contiguous and
  channels-last layouts; where bfloat16 is native also the new default, ``channels_last + bf16``
  (bf16 autocast of the network and the VGG/LPIPS terms).
  The ratio column is against the old default (channels-last, float32: ``train.amp`` was ignored
  on a CPU). With ``--compile`` a ``torch.compile``-d network (compile time reported apart).
* ``search``: one bilevel step of each search stage (:func:`hadamard_restore.search.loop.bilevel_step`
  with the finite-difference hypergradient, as searches run; :mod:`benchmarks.product.speed`) on a
  width-``--channels`` supernet with ``--num-hnu`` HNUs, for each ``--judges`` classifier, against
  ``--old-path`` the same step with every mixed op summing its candidates one by one (the supernet
  before :mod:`hadamard_restore.net.fused_mix`) and the per-step code of ``old_step_code`` as it
  was. The hypergradient's per-weight arithmetic (now ``torch._foreach_*``) is the new one on both
  sides, so the ratio slightly understates the change.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

if __package__ in (None, ""):
    sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[2] / "src")]

import torch

from benchmarks.product.speed import _csv, parse_wh
from benchmarks.timing import machine_info, markdown_table, measure


def _old_instance_norm(self, x: torch.Tensor) -> torch.Tensor:
    """``InstanceNorm.forward`` as it was: ``var_mean`` and element-wise ops in float32."""
    from hadamard_restore.net.hnu import instance_stats, normalize

    return normalize(x, *instance_stats(x), self.eps)


@contextlib.contextmanager
def old_step_code():
    """The per-step code as it was before the speed work: the loss mix read β from the device and
    rebuilt the VGG constants at every call, and the HNU's instance norm was ``var_mean`` plus
    element-wise ops (now PyTorch's fused kernel)."""
    from hadamard_restore.losses import mix, preprocess
    from hadamard_restore.net.hnu import InstanceNorm

    def host_weights(self: mix.LossMix) -> list[float]:
        return self.beta.detach().cpu().tolist()

    def constants(dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        return (
            torch.tensor(preprocess.IMAGENET_MEAN, dtype=dtype, device=device).view(1, 3, 1, 1),
            torch.tensor(preprocess.IMAGENET_STD, dtype=dtype, device=device).view(1, 3, 1, 1),
        )

    with (
        mock.patch.object(mix.LossMix, "_host_weights", host_weights),
        mock.patch.object(preprocess, "_constants", constants),
        mock.patch.object(InstanceNorm, "forward", _old_instance_norm),
    ):
        yield


def _model(args):
    from hadamard_restore.net.genotype import load_genotype
    from hadamard_restore.net.model_file import load_model
    from hadamard_restore.net.network import HadamardNet

    if args.checkpoint:
        return load_model(args.checkpoint, "cpu")[0].eval()
    return HadamardNet(load_genotype(args.genotype), channels=args.channels).eval()


def enhance_section(args) -> tuple[list, dict]:
    from hadamard_restore.config import EnhanceConfig
    from hadamard_restore.inference.enhance import enhance_tensor

    model, rows = _model(args), []
    extra: dict[str, object] = {}
    for h, w in args.sizes:
        img = torch.nn.functional.interpolate(
            torch.rand(1, 3, max(8, h // 16), max(8, w // 16), generator=torch.Generator().manual_seed(0)),
            size=(h, w),
            mode="bilinear",
        )[0]
        new_cfg = EnhanceConfig(backend="auto", precision="auto", threads=args.threads)
        configs = {"new: auto": new_cfg, "new: auto, precision fp32": new_cfg.model_copy(update={"precision": "fp32"})}
        if args.old_path:
            configs["old: eager"] = new_cfg.model_copy(update={"backend": "eager"})
        variants, backends = {}, {}
        for name, cfg in configs.items():
            backends[name] = "eager"
            if cfg.backend == "auto":
                before, t0 = _entries(), time.perf_counter()
                enhance_tensor(model, img, cfg)  # the choice: checked once (untimed), cached
                extra[f"{w}x{h} {name}: choice s"] = round(time.perf_counter() - t0, 2)
                backends[name] = _chosen(before, _entries())
            variants[name] = lambda img=img, c=cfg: enhance_tensor(model, img, c)
        stats = measure(variants, args.warmup, args.repeats)
        base = stats.get("old: eager")
        rows += [
            [
                f"{w}x{h}",
                k,
                backends[k],
                f"{s.median * 1e3:,.1f}",
                f"{s.q1 * 1e3:,.1f}-{s.q3 * 1e3:,.1f}",
                f"{base.median / s.median:.2f}" if base else "",
            ]
            for k, s in stats.items()
        ]
    from hadamard_restore.inference.fastpath.cache import cache_path

    extra["choices"] = cache_path().read_text() if cache_path().is_file() else "none"
    return [["size", "path", "backend", "median ms", "IQR ms", "x old"], *rows], extra


def _entries() -> dict:
    from hadamard_restore.inference.fastpath.cache import cache_path

    path = cache_path()
    return json.loads(path.read_text())["entries"] if path.is_file() else {}


def _chosen(before: dict, after: dict) -> str:
    """The backend of the cache entry a choice wrote (``eager`` for inputs too small for auto)."""
    new = [e for k, e in after.items() if before.get(k) != e]
    if new:
        return new[-1].get("backend", "?")
    # nothing new: below AUTO_MIN_PIXELS, or the size class (for tiled images: the tile's) was chosen in an earlier row
    return "the earlier row's choice (same size class)" if after else "eager (below AUTO_MIN_PIXELS)"


def train_section(args) -> tuple[list, dict]:
    from benchmarks.product.speed import trainer_cases
    from hadamard_restore.losses.loss_weights import load_loss_weights
    from hadamard_restore.losses.mix import LossMix

    net = _model(args).train()
    mix = LossMix.from_weights(load_loss_weights("paper-lol"), trainable=False)
    gen = torch.Generator().manual_seed(1)
    x, y = (torch.rand(args.batch, 3, args.crop, args.crop, generator=gen) for _ in range(2))
    variants, extra = {}, {}
    for fmt, step in trainer_cases(net, mix, x, y).items():
        variants[f"new | {fmt}"] = step
        if args.old_path and "bf16" not in fmt:  # the old code trained in float32 on a CPU

            def old(step=step):
                with old_step_code():
                    step()

            variants[f"old | {fmt}"] = old
    if args.compile:
        fn = _compiled_step(net, mix, args.crop, args.batch)
        t0 = time.perf_counter()
        fn()
        extra["compile s"] = round(time.perf_counter() - t0, 1)
        variants["new | channels_last + compile"] = fn
    stats = measure(variants, args.warmup, args.repeats)
    # the old default: channels-last in float32 (train.amp was ignored on a CPU before bf16 autocast)
    base = stats.get("old | channels_last") or stats.get("new | channels_last")
    rows = [
        [
            k,
            f"{s.median * 1e3:,.1f}",
            f"{s.q1 * 1e3:,.1f}-{s.q3 * 1e3:,.1f}",
            f"{base.median / s.median:.2f}" if base else "",
        ]
        for k, s in stats.items()
    ]
    return [["path | layout", "median ms", "IQR ms", "x old default (channels_last, fp32)"], *rows], extra


def search_section(args) -> tuple[list, dict]:
    from benchmarks.product.speed import search_cases
    from hadamard_restore.net.mixed import candidate_by_candidate

    variants: dict = {}
    extra: dict = {}
    for judge in args.judges:
        cases, notes = search_cases(
            args.channels, args.num_hnu, args.crop, args.batch, torch.device("cpu"), ("finite_difference",), judge
        )
        if not cases:
            raise SystemExit(f"search steps cannot be timed: {notes}")
        for name, step in cases.items():
            stage = name.split(" | ")[0] + ("" if name.startswith("stage 2") else f", {judge} judge")
            if name.startswith("stage 2") and any(stage in k for k in variants):
                continue  # stage 2 has no judge: once is enough
            variants[f"new | {stage}"] = step
            if args.old_path:

                def old(step=step):
                    with candidate_by_candidate(), old_step_code():
                        step()

                variants[f"old | {stage}"] = old
    stats = measure(variants, args.warmup, args.repeats)
    rows = []
    for k, s in stats.items():
        was = stats.get(k.replace("new | ", "old | "))
        ratio = f"{was.median / s.median:.2f}" if was is not None else "-"
        rows.append([k, f"{s.median * 1e3:,.1f}", f"{s.q1 * 1e3:,.1f}-{s.q3 * 1e3:,.1f}", ratio])
    extra["sizes"] = f"width {args.channels}, {args.num_hnu} HNUs, batch {args.batch} x {args.crop} px, fp32"
    return [["path | stage", "median ms", "IQR ms", "x old"], *rows], extra


def _compiled_step(net, mix, crop: int, batch: int):
    """The work of ``Trainer.train_step`` (forward, loss mix, backward, clip, AdamW) with a ``torch.compile``-d
    channels-last network (the Trainer itself runs no compiled network)."""
    m = copy.deepcopy(net).train().to(memory_format=torch.channels_last)
    compiled = torch.compile(m)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(batch, 3, crop, crop, generator=gen).contiguous(memory_format=torch.channels_last)
    y = torch.rand(batch, 3, crop, crop, generator=gen)

    def step() -> None:
        total = mix(compiled(x).float(), y)[0]
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 5.0)
        opt.step()

    return step


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--section", choices=("enhance", "train", "search"), required=True)
    p.add_argument("--old-path", action="store_true", help="also time the path as it was, side by side")
    p.add_argument("--checkpoint", help="model file (default: an untrained network: same cost)")
    p.add_argument("--genotype", default="paper-lol")
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--num-hnu", type=int, default=7, help="search: HNUs in the supernet")
    p.add_argument("--judges", type=_csv, default=["resnet18", "vgg16-features"], help="search: stage-1 judges")
    p.add_argument("--sizes", type=lambda s: [parse_wh(x) for x in _csv(s)], default=[(400, 600), (3000, 4000)])
    p.add_argument("--crop", type=int, default=96)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--compile", action="store_true", help="train: add a torch.compile-d network (minutes)")
    p.add_argument("--threads", type=int, default=None, help="torch and onnxruntime threads")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=None, help="default benchmarks/results/product/speed-paths-SECTION.md")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    threads_before = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    from hadamard_restore.artifacts import atomic_write_text

    saved = os.environ.get("HADAMARD_RESTORE_CACHE")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HADAMARD_RESTORE_CACHE"] = tmp  # a fresh choice, not one cached earlier
        try:
            section = {"enhance": enhance_section, "train": train_section, "search": search_section}[args.section]
            table, extra = section(args)
        finally:
            if saved is None:
                os.environ.pop("HADAMARD_RESTORE_CACHE", None)
            else:
                os.environ["HADAMARD_RESTORE_CACHE"] = saved
    out = args.out or Path(f"benchmarks/results/product/speed-paths-{args.section}.md")
    text = [
        f"# Speed, old vs new path: {args.section}",
        "",
        f"`python -m benchmarks.product.speed_paths {' '.join(sys.argv[1:] if argv is None else argv)}`",
        "",
        markdown_table(["machine", ""], [[k, v] for k, v in machine_info().items()]),
        "",
        markdown_table(table[0], table[1:]),
        "",
        *[f"- {k}: {v}" for k, v in extra.items()],
        "",
    ]
    torch.set_num_threads(threads_before)
    atomic_write_text(out, "\n".join(text))
    print("\n".join(text))
    return out


if __name__ == "__main__":
    main()
