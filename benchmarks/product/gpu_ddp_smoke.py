"""Architecture search then training through the CLI, on the multi-process code path, in ONE process.

Launched by :mod:`benchmarks.product.gpu_check` as ``torchrun --standalone --nproc_per_node 1
benchmarks/product/gpu_ddp_smoke.py --out DIR --device cuda``. With one process ``init_distributed``
would return the single-process context and nothing distributed would run, so this script joins
the process group itself (NCCL on a GPU, gloo on the CPU) and hands the CLI a context whose
``enabled`` is true: the search all-reduces and broadcasts through NCCL, and training wraps the
model in ``DistributedDataParallel``, exactly as with several GPUs.

Writes ``DIR/search`` (genotype.json) and ``DIR/train`` (model.pt, last.pt); exit 0 on success.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

from hadamard_restore.runtime.process import Dist  # noqa: E402
from hadamard_restore.workflows.demo import TOY_SIZE  # noqa: E402

TINY = [
    *TOY_SIZE,
    "search.arch_steps=2",
    "search.checkpoint_every=2",
    "train.steps=3",
    "train.crop=32",
    "train.batch_size=2",
    "train.val_every=3",
    "train.checkpoint_every=3",
    "train.val_max_images=1",
]


@dataclass(frozen=True)
class ForcedDist(Dist):
    """The distributed context with the multi-process paths on even for one process."""

    @property
    def enabled(self) -> bool:
        return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--device", default="cuda")
    args = p.parse_args(argv)
    cuda = args.device.startswith("cuda")
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo")
    ctx = ForcedDist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    import hadamard_restore.runtime.process as process_mod
    from hadamard_restore.cli.app import app

    # training and the search both join through runtime.process.setup_process
    process_mod.init_distributed = lambda device: ctx
    sets = [
        x for s in [f"device={args.device}", "train.amp=" + ("true" if cuda else "false"), *TINY] for x in ("--set", s)
    ]
    demo = str(ROOT / "configs" / "demo.yaml")
    app(
        ["search-arch", demo, "--loss-weights", "paper-lol", "--out", str(args.out / "search"), *sets],
        standalone_mode=False,
    )
    app(
        [
            "train",
            demo,
            "--genotype",
            str(args.out / "search" / "genotype.json"),
            "--loss-weights",
            "paper-lol",
            "--out",
            str(args.out / "train"),
            *sets,
        ],
        standalone_mode=False,
    )
    dist.barrier()
    dist.destroy_process_group()
    ok = (args.out / "search" / "genotype.json").is_file() and (args.out / "train" / "last.pt").is_file()
    print(f"ddp smoke ({'nccl' if cuda else 'gloo'}, world size {ctx.world_size}): {'OK' if ok else 'MISSING OUTPUTS'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
