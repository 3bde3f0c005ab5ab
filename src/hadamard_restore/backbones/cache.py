"""The weights cache: where it is, which files it may hold, and its manifest.

``$HADAMARD_RESTORE_WEIGHTS`` or ``<user cache dir>/hadamard_restore/weights`` holds ``<name>.pth``
for each name in :data:`NAMES` and ``manifest.json`` (source and sha256 of each file).
:func:`hadamard_restore.backbones.install.install` fills it; the builders of
:mod:`hadamard_restore.backbones.weights` read it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hadamard_restore.artifacts import read_json

REQUIRED = ("vgg16", "alexnet", "lpips-alex", "lpips-vgg")
OPTIONAL = ("vgg19", "resnet18", "resnet50")
NAMES = REQUIRED + OPTIONAL
INSTALL_COMMAND = "hadamard-restore backbones install"


def cache_dir() -> Path:
    """``$HADAMARD_RESTORE_WEIGHTS``, else the platform user cache dir + ``hadamard_restore/weights``."""
    env = os.environ.get("HADAMARD_RESTORE_WEIGHTS")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "hadamard_restore" / "weights"


def weight_path(name: str) -> Path:
    if name not in NAMES:
        raise ValueError(f"unknown weights {name!r}; expected one of {', '.join(NAMES)}")
    return cache_dir() / f"{name}.pth"


def status() -> dict[str, bool]:
    """``{name: present}`` for every name in :data:`NAMES` (file exists in the cache)."""
    return {name: weight_path(name).is_file() for name in NAMES}


def read_manifest() -> dict:
    """``manifest.json`` of the cache: ``{name: {"file", "sha256", "source", "installed"}}``."""
    path = cache_dir() / "manifest.json"
    return read_json(path) if path.is_file() else {}
