"""The split file: a pinned train/validation split as JSON, with a sha256 of every file.

File format (``format: hadamard-restore-split/1``)::

    {"format": ..., "seed": 0, "val_ratio": 0.2, "group_key": "reference_hash",
     "layout": "lol-v1", "root": "/abs/path/at/creation (informational)",
     "train": [{"degraded": "low/2.png", "reference": "high/2.png",
                "degraded_sha256": "...", "reference_sha256": "...", "group": "..."}, ...],
     "val": [...]}

Names are POSIX paths relative to the dataset root. Splits are made by
:func:`hadamard_restore.data.split.make_split` (which re-exports :class:`Split`) and verified
against the files by :func:`hadamard_restore.data.integrity.verify_split`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from hadamard_restore.artifacts import read_json, write_json
from hadamard_restore.data.matching import Pair
from hadamard_restore.errors import DataError

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
