"""The pairs a run uses: ``load_pairs(data, seed) -> (train_pairs, val_pairs)``.

Every function takes the ``data`` config section and the run's ``seed`` (never the whole
config). It honours:

- ``source: demo`` generates the built-in demo pairs (:mod:`.demo`) into ``<run_dir>/demo-data``
  or, without a run directory, into a cache folder (``$HADAMARD_RESTORE_CACHE``, else
  ``$XDG_CACHE_HOME/hadamard_restore`` or ``~/.cache/hadamard_restore``), reused when present.
- ``source: folder`` reads ``root`` with ``layout`` (detected when null) or with
  ``degraded_dir``/``reference_dir``.
- ``split_file``: loaded and verified (names + sha256) when it exists; otherwise the split is
  made (``val_ratio``, ``group_key``, ``seed``) and saved there. A copy of the split used is
  written to ``<run_dir>/split.json`` when a run directory is given.
- ``max_pairs``: a deterministic subset of whole groups, validation keeping its share.

:func:`load_test_pairs` gives the held-out test set: ``test_root`` (``test_layout``, detected
when null) when set, else the validation pairs.
"""

from __future__ import annotations

import os
from pathlib import Path

from hadamard_restore.config import DataConfig
from hadamard_restore.data.demo import make_demo_pairs
from hadamard_restore.data.integrity import verify_split
from hadamard_restore.data.layouts import Pair, find_pairs, layout_folders, match_folders
from hadamard_restore.data.split import Split, limit_split, make_split
from hadamard_restore.errors import DataError
from hadamard_restore.runtime.log import get_logger


def cache_root() -> Path:
    """Folder for generated data (demo pairs) when no run directory is given."""
    if os.environ.get("HADAMARD_RESTORE_CACHE"):
        return Path(os.environ["HADAMARD_RESTORE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hadamard_restore"


def demo_root(data: DataConfig, seed: int, run_dir: str | Path | None = None) -> Path:
    """Where the demo pairs of ``data.demo`` live (generated on first use)."""
    demo = data.demo
    if run_dir is not None:
        out = Path(run_dir) / "demo-data"
    else:
        out = cache_root() / f"demo-{demo.task}-{demo.size}px-{demo.crops_per_image}x-seed{seed}"
    return make_demo_pairs(demo, out, seed)


def dataset_pairs(data: DataConfig, seed: int, run_dir: str | Path | None = None) -> tuple[Path, str, list[Pair]]:
    """``(root, layout_name, pairs)`` of the configured data source (all pairs, unsplit)."""
    layout: str | None
    if data.source == "demo":
        root, layout, deg, ref = demo_root(data, seed, run_dir), "paired", None, None
    else:
        if data.root is None:
            raise DataError(
                "data.root is not set: point it at the dataset folder "
                "(in the YAML or with --set data.root=PATH), or use data.source=demo"
            )
        root, layout, deg, ref = Path(data.root), data.layout, data.degraded_dir, data.reference_dir
    name, folders = layout_folders(root, layout, deg, ref)
    pairs: list[Pair] = []
    for deg_dir, ref_dir in folders:
        pairs.extend(match_folders(deg_dir, ref_dir, strict=True)[0])
    return root, name, pairs


def load_split(data: DataConfig, seed: int, run_dir: str | Path | None = None) -> tuple[Path, Split]:
    """``(root, split)``: the pinned split of ``data``, loaded+verified or made+saved."""
    root, name, pairs = dataset_pairs(data, seed, run_dir)
    if data.split_file is not None and Path(data.split_file).is_file():
        split = Split.load(data.split_file)
        verify_split(split, root)
    else:
        split = make_split(pairs, data.val_ratio, seed, data.group_key, root=root, layout=name)
        if data.split_file is not None:
            split.save(data.split_file)
    if run_dir is not None:
        split.save(Path(run_dir) / "split.json")
    return root, split


def load_pairs(data: DataConfig, seed: int, run_dir: str | Path | None = None) -> tuple[list[Pair], list[Pair]]:
    """The ``(train_pairs, val_pairs)`` of a run (see the module docstring).

    Args:
        data: the ``data`` config section.
        seed: the run's seed (demo generation, the split, the ``max_pairs`` subset).
        run_dir: optional run directory: holds generated demo data and a copy of the split.

    Raises:
        DataError: missing root, unknown layout, unmatched names, a split file that does not
            match the files on disk, and so on (each message says what to do).
    """
    root, split = load_split(data, seed, run_dir)
    train, val = split.train, split.val
    if data.max_pairs is not None:
        train, val = limit_split(split, data.max_pairs, seed)
    return [e.pair(root) for e in train], [e.pair(root) for e in val]


def load_test_pairs(data: DataConfig, seed: int, run_dir: str | Path | None = None) -> list[Pair]:
    """The pairs to evaluate on: every pair under ``data.test_root`` (all of them, unsplit, read
    with ``data.test_layout`` or the detected layout), or the validation pairs of
    :func:`load_pairs` when no ``test_root`` is configured.
    """
    if data.test_root is not None:
        return find_pairs(data.test_root, data.test_layout)

    get_logger(__name__).warning("data.test_root is not set: evaluating on the validation split")
    return load_pairs(data, seed, run_dir)[1]
