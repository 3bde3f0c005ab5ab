"""``hadamard-restore demo``: the whole method on built-in synthetic low-light data, on a CPU.

The config ships inside the package (``hadamard_restore/resources/configs/demo.yaml``, an
exact copy of ``configs/demo.yaml``; a test keeps the two identical), so the demo works from
an installed package as well as from a checkout. The data are made at run time from photos
that scikit-image and matplotlib ship (``data.source: demo``); nothing is downloaded. The
sizes in the config are chosen so that all five stages finish on a 2-core CPU in a few minutes.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from hadamard_restore.config import RunConfig, load_config


def demo_config(overrides: list[str] | None = None) -> RunConfig:
    """The packaged demo config (with optional dotted overrides)."""
    res = resources.files("hadamard_restore") / "resources" / "configs" / "demo.yaml"
    with resources.as_file(res) as path:
        return load_config(path, overrides)


def demo(out: str | Path | None = None, overrides: list[str] | None = None) -> Path:
    """Run :func:`hadamard_restore.workflows.run.run` on the demo config; returns report.md's path."""
    from hadamard_restore.workflows.run import run

    return run(demo_config(overrides), out)
