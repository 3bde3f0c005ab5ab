"""Pinned train/validation splits: JSON files with names and a sha256 of every file.

A split is made once (seeded), saved, and verified against the files on disk each time it is
used (:func:`hadamard_restore.data.integrity.verify_split`, also importable from here), so a
reported number can be reproduced with exactly the same images.

Pairs are split by **group**, never one by one, so pairs that share a reference cannot
straddle train and validation (the validation score would leak). Group keys:

- ``reference_hash``: the sha256 of the reference's content. Catches LOL-v1's repeated
  references, which are identical images under different names. ``auto`` means this.
- ``scene``: the reference file (SOTS ``1400_*.png`` all map to ``1400.png``).
- ``stem``: the degraded file's stem (pairs alone unless stems repeat across folders).
- ``none``: every pair is its own group.

The split file (``format: hadamard-restore-split/1``)::

    {"format": ..., "seed": 0, "val_ratio": 0.2, "group_key": "reference_hash",
     "layout": "lol-v1", "root": "/abs/path/at/creation (informational)",
     "train": [{"degraded": "low/2.png", "reference": "high/2.png",
                "degraded_sha256": "...", "reference_sha256": "...", "group": "..."}, ...],
     "val": [...]}

Names are POSIX paths relative to the dataset root (never absolute, never ``..``).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

import torch

from hadamard_restore.artifacts import read_json, sha256_file, write_json
from hadamard_restore.data.layouts import Pair
from hadamard_restore.errors import DataError

GROUP_KEYS = ("auto", "reference_hash", "scene", "stem", "none")

FORMAT = "hadamard-restore-split/1"


@dataclass(frozen=True)
class SplitEntry:
    """One pair of a split: names relative to the dataset root, content hashes, group."""

    degraded: str
    reference: str
    degraded_sha256: str
    reference_sha256: str
    group: str

    def pair(self, root: Path) -> Pair:
        return Pair(Path(root) / self.degraded, Path(root) / self.reference)


def outside_root(name: str) -> bool:
    """True when a split name could lead outside the dataset root: absolute (POSIX or Windows),
    or with a ``..`` component. Decided from the name alone, so nothing outside is looked at."""
    windows = PureWindowsPath(name)
    return (
        PurePosixPath(name).is_absolute()
        or bool(windows.drive or windows.root)
        or ".." in PurePosixPath(name.replace("\\", "/")).parts
    )


def _refuse_outside(path: Path, side: str, entries: list[SplitEntry]) -> None:
    bad = [name for e in entries for name in (e.degraded, e.reference) if outside_root(str(name))]
    if bad:
        raise DataError(
            f"{path}: {len(bad)} {side} path(s) point outside the dataset folder (e.g. {bad[0]!r}); "
            "a split names files relative to --data, without '..' or absolute paths. Nothing was read; "
            "make a new split with `hadamard-restore data split`"
        )


@dataclass
class Split:
    """A train/validation split of a paired dataset (see the module docstring)."""

    train: list[SplitEntry]
    val: list[SplitEntry]
    seed: int = 0
    val_ratio: float = 0.2
    group_key: str = "reference_hash"
    layout: str | None = None
    root: str | None = None
    extra: dict = field(default_factory=dict)

    def pairs(self, root: str | Path) -> tuple[list[Pair], list[Pair]]:
        """``(train_pairs, val_pairs)`` with paths under ``root``."""
        return [e.pair(Path(root)) for e in self.train], [e.pair(Path(root)) for e in self.val]

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "seed": self.seed,
            "val_ratio": self.val_ratio,
            "group_key": self.group_key,
            "layout": self.layout,
            "root": self.root,
            **self.extra,
            "counts": {"train": len(self.train), "val": len(self.val)},
            "train": [asdict(e) for e in self.train],
            "val": [asdict(e) for e in self.val],
        }

    def save(self, path: str | Path) -> Path:
        """Write the split as JSON (atomically)."""
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> Split:
        """Read a split file.

        Raises:
            DataError: missing file, invalid JSON, or not a split file of this format.
        """
        path = Path(path)
        if path.is_dir():
            raise DataError(
                f"split file {path} is a folder; pass the split.json that `hadamard-restore data split` wrote"
            )
        try:
            data = read_json(path)
        except (OSError, ValueError) as exc:
            raise DataError(f"split file: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DataError(
                f'{path}: not a split file (expected "format": "{FORMAT}"); make one with `hadamard-restore data split`'
            )
        try:
            train = [SplitEntry(**e) for e in data["train"]]
            val = [SplitEntry(**e) for e in data["val"]]
        except (KeyError, TypeError) as exc:
            raise DataError(f"{path}: malformed split entries ({exc}); make a new split") from None
        _refuse_outside(path, "train", train)
        _refuse_outside(path, "validation", val)
        known = {"format", "seed", "val_ratio", "group_key", "layout", "root", "counts", "train", "val"}
        return cls(
            train,
            val,
            data.get("seed", 0),
            data.get("val_ratio", 0.0),
            data.get("group_key", "none"),
            data.get("layout"),
            data.get("root"),
            {k: v for k, v in data.items() if k not in known},
        )


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise DataError(f"{path} is not below the dataset root {root}; give the root that holds every pair") from None


def resolve_group_key(group_key: str) -> str:
    if group_key not in GROUP_KEYS:
        raise DataError(f"unknown group_key {group_key!r}; choose one of {', '.join(GROUP_KEYS)}")
    return "reference_hash" if group_key == "auto" else group_key


def _group(entry_fields: dict, key: str) -> str:
    if key == "reference_hash":
        return entry_fields["reference_sha256"]
    if key == "scene":
        return entry_fields["reference"]
    if key == "stem":
        return Path(entry_fields["degraded"]).stem
    return entry_fields["degraded"]


def make_entries(pairs: list[Pair], root: str | Path | None = None, group_key: str = "auto") -> list[SplitEntry]:
    """Hash every file once and describe each pair relative to ``root`` (default: common folder)."""
    if not pairs:
        raise DataError("no pairs to split; check the dataset folder with `hadamard-restore data check`")
    key = resolve_group_key(group_key)
    base = Path(root) if root is not None else Path(_common_root(pairs))
    hashes: dict[Path, str] = {}
    entries = []
    for p in pairs:
        for f in (p.degraded, p.reference):
            if f not in hashes:
                try:
                    hashes[f] = sha256_file(f)
                except FileNotFoundError:
                    raise DataError(f"{f}: file not found") from None
        fields = {
            "degraded": _relative(p.degraded, base),
            "reference": _relative(p.reference, base),
            "degraded_sha256": hashes[p.degraded],
            "reference_sha256": hashes[p.reference],
        }
        entries.append(SplitEntry(**fields, group=_group(fields, key)))
    return entries


def _common_root(pairs: list[Pair]) -> str:
    return os.path.commonpath([str(Path(f).resolve().parent) for p in pairs for f in (p.degraded, p.reference)])


def shuffled_groups(entries: list[SplitEntry], seed: int) -> list[list[SplitEntry]]:
    """Entries grouped by ``group`` (groups in first-seen order inside), in a seeded random order."""
    groups: dict[str, list[SplitEntry]] = {}
    for e in entries:
        groups.setdefault(e.group, []).append(e)
    names = sorted(groups)
    order = torch.randperm(len(names), generator=torch.Generator().manual_seed(seed)).tolist()
    return [groups[names[i]] for i in order]


def take_groups(groups: list[list[SplitEntry]], target: int) -> tuple[list[SplitEntry], list[SplitEntry]]:
    """Walk ``groups`` in order, taking each whole group that still fits in ``target`` pairs.

    Returns ``(taken, rest)``. If no group fits, the smallest group is taken, so ``taken`` is
    never empty.
    """
    taken_ids: set[int] = set()
    count = 0
    for i, g in enumerate(groups):
        if count + len(g) <= target:
            taken_ids.add(i)
            count += len(g)
    if not taken_ids:
        taken_ids.add(min(range(len(groups)), key=lambda i: len(groups[i])))
    taken = [e for i, g in enumerate(groups) if i in taken_ids for e in g]
    rest = [e for i, g in enumerate(groups) if i not in taken_ids for e in g]
    return taken, rest


def split_entries(entries: list[SplitEntry], val_ratio: float, seed: int) -> tuple[list[SplitEntry], list[SplitEntry]]:
    """Seeded group-wise split: validation gets whole groups up to ``round(val_ratio * N)`` pairs."""
    if not 0.0 < val_ratio < 1.0:
        raise DataError(f"val_ratio must be between 0 and 1 (exclusive), got {val_ratio}")
    groups = shuffled_groups(entries, seed)
    if len(groups) < 2:
        raise DataError(
            f"cannot split {len(entries)} pairs: they form a single group under this group key; "
            "add pairs or use group_key none"
        )
    target = max(1, round(val_ratio * len(entries)))
    val, train = take_groups(groups, target)
    if not train:
        raise DataError("the split left no training pairs; lower val_ratio")
    order = {id(e): i for i, e in enumerate(entries)}
    return sorted(train, key=lambda e: order[id(e)]), sorted(val, key=lambda e: order[id(e)])


def development_split(held: Split, note: str, val_ratio: float = 0.15, seed: int = 1) -> Split:
    """The training part of a held-out split, split again by whole groups.

    Its validation part picks checkpoints and settings, so the held-out pairs of ``held`` stay
    unseen until the final evaluation (tools/make_pretrained.py, benchmarks/studies/budget_curves.py).
    """
    train, val = split_entries(held.train, val_ratio, seed)
    return Split(train, val, seed, val_ratio, held.group_key, held.layout, held.root, {"note": note})


def make_split(
    pairs: list[Pair],
    val_ratio: float = 0.2,
    seed: int = 0,
    group_key: str = "auto",
    root: str | Path | None = None,
    layout: str | None = None,
) -> Split:
    """Split pairs into train and validation by whole groups (seeded, reproducible).

    Args:
        pairs: all pairs of the dataset.
        val_ratio: share of pairs for validation; the split takes whole groups, so the achieved
            share is close to, and never above, ``round(val_ratio * N)`` pairs (unless a single
            group is larger than that, in which case the smallest group is used).
        seed: seeds the group order (a ``torch.Generator``).
        group_key: see the module docstring.
        root: the folder names are stored relative to (default: the pairs' common folder).
        layout: recorded in the file for information.
    """
    key = resolve_group_key(group_key)
    entries = make_entries(pairs, root, key)
    train, val = split_entries(entries, val_ratio, seed)
    base = Path(root) if root is not None else Path(_common_root(pairs))
    return Split(train, val, seed, val_ratio, key, layout, str(base.resolve()))


def subset_entries(entries: list[SplitEntry], n: int, seed: int) -> list[SplitEntry]:
    """A deterministic subset of about ``n`` entries made of whole groups (at least one group)."""
    if n >= len(entries):
        return list(entries)
    taken, _ = take_groups(shuffled_groups(entries, seed), n)
    order = {id(e): i for i, e in enumerate(entries)}
    return sorted(taken, key=lambda e: order[id(e)])


def limit_split(split: Split, max_pairs: int, seed: int) -> tuple[list[SplitEntry], list[SplitEntry]]:
    """Keep at most ``max_pairs`` pairs (whole groups), validation keeping its share (>= 1 pair)."""
    total = len(split.train) + len(split.val)
    if max_pairs >= total:
        return list(split.train), list(split.val)
    n_val = min(max(1, math.floor(max_pairs * len(split.val) / total)), max_pairs - 1)
    return subset_entries(split.train, max_pairs - n_val, seed), subset_entries(split.val, n_val, seed + 1)
