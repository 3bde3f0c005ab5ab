"""``hadamard-restore demo``: the bundled pretrained models first, then the whole method on a CPU.

1. **Pretrained models** (seconds): every bundled model enhances built-in degraded photos of its
   task, and real held-out pairs where ``$HADAMARD_RESTORE_DATA`` holds them
   (:mod:`hadamard_restore.workflows.showcase`, into ``<run>/showcase/``). With no model
   bundled the demo says so in one line and goes on.
2. **The method, end to end** on built-in synthetic low-light data
   (:func:`hadamard_restore.workflows.run.run`): classifier, search, training, evaluation.

``report.md`` starts with the pretrained models' before/after grids and metrics, then the run.

The config ships inside the package (``hadamard_restore/resources/configs/demo.yaml``, an
exact copy of ``configs/demo.yaml``; a test keeps the two identical), so the demo works from
an installed package as well as from a checkout. The data are made at run time from photos
that scikit-image and matplotlib ship (``data.source: demo``); nothing is downloaded. The
sizes in the config are chosen so that all five stages finish on a 2-core CPU in a few minutes.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from hadamard_restore.config import RunConfig, dump_config, load_config

#: The demo at toy size, as ``--set`` overrides: width 4, one HNU, 32-pixel images and crops, batch 1.
#: Every stage then runs in seconds; the smoke runs of the code paths (the tests, the GPU check's DDP
#: smoke) start from it and add their own step counts.
TOY_SIZE: tuple[str, ...] = (
    "net.channels=4",
    "net.num_hnu=1",
    "data.demo.size=32",
    "data.demo.crops_per_image=2",
    "search.crop=32",
    "search.batch_size=1",
)


def demo_config(overrides: list[str] | None = None) -> RunConfig:
    """The packaged demo config (with optional dotted overrides)."""
    res = resources.files("hadamard_restore") / "resources" / "configs" / "demo.yaml"
    with resources.as_file(res) as path:
        return load_config(path, overrides)


def demo(out: str | Path | None = None, overrides: list[str] | None = None, pretrained: bool = True) -> Path:
    """The pretrained showcase (unless ``pretrained`` is False), then
    :func:`hadamard_restore.workflows.run.run` on the demo config; returns report.md's path."""
    from hadamard_restore.runtime.rundir import new_run_dir
    from hadamard_restore.workflows.run import run
    from hadamard_restore.workflows.showcase import showcase

    cfg = demo_config(overrides)
    run_dir = new_run_dir(cfg.out_dir, cfg.name, dump_config(cfg), out)
    if pretrained:
        showcase(run_dir / "showcase", seed=cfg.seed)
    return run(cfg, run_dir)
