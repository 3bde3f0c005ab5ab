"""Which pairs ``evaluate`` scores, and one sentence that says so (printed and kept in metrics.json).

* ``split``: the validation part of that split file (names and sha256 verified);
* ``model_split`` (a bundled model's held-out split, ``evaluate --model NAME``) and no ``split``:

  - the folder is that split's dataset root (every file of the split there by name): its
    held-out pairs, verified as a split file is;
  - else every pair of the folder, when none of them is a pair the model was trained on
    (compared by content, sha256 of the degraded image): the user's own data;
  - a folder holding some of its training pairs: the held-out pairs among them when all are
    there, else a :class:`DataError` (scoring training pairs would overstate the model);

* otherwise (or ``all_pairs``) every pair of the folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hadamard_restore.artifacts import sha256_file
from hadamard_restore.data.integrity import verify_split
from hadamard_restore.data.layouts import Pair, layout_folders, match_folders
from hadamard_restore.data.split import Split
from hadamard_restore.errors import DataError


@dataclass(frozen=True)
class ModelSplit:
    """A model's held-out split: its file and the names used in messages."""

    path: Path
    model: str
    dataset: str = "its training data"


@dataclass
class Selection:
    """The pairs to score, the split file they come from (None: every pair), and why."""

    pairs: list[Pair]
    split: Path | None
    description: str
    layout: str | None = None

    def source(self, root: Path) -> dict:
        """What ``metrics.json`` records about the data."""
        return {
            "data": str(Path(root).resolve()),
            "layout": self.layout,
            "split": str(self.split) if self.split else None,
            "selection": self.description,
        }


def folder_pairs(
    root: Path, layout: str | None = None, degraded_dir: str | None = None, reference_dir: str | None = None
) -> tuple[str, list[Pair]]:
    """``(layout name, every pair)`` of a folder (strict name matching, as ``find_pairs``)."""
    name, folders = layout_folders(root, layout, degraded_dir, reference_dir)
    return name, [p for deg, ref in folders for p in match_folders(deg, ref, strict=True)[0]]


def _split_pairs(split: Path, root: Path) -> list[Pair]:
    sp = Split.load(split)
    verify_split(sp, root)
    pairs = sp.pairs(root)[1]
    if not pairs:
        raise DataError(f"split {split} has no validation pairs to evaluate")
    return pairs


def _holds_split(split: Path, root: Path) -> bool:
    sp = Split.load(split)
    return all((root / n).is_file() for e in sp.train + sp.val for n in (e.degraded, e.reference))


def _by_content(ms: ModelSplit, root: Path, name: str, pairs: list[Pair]) -> Selection:
    sp = Split.load(ms.path)
    trained, heldout = {e.degraded_sha256 for e in sp.train}, {e.degraded_sha256 for e in sp.val}
    digests = [sha256_file(p.degraded) for p in pairs]
    seen_train = sum(d in trained for d in digests)
    if not seen_train:
        return Selection(
            pairs,
            None,
            f"all {len(pairs)} pairs of {root} ({name} layout): not {ms.model}'s dataset ({ms.dataset}), "
            "none of the pairs it was trained on are here",
            name,
        )
    found = [p for p, d in zip(pairs, digests) if d in heldout]
    if len({d for d in digests if d in heldout}) == len(heldout):
        return Selection(
            found,
            ms.path,
            f"the {len(found)} held-out pairs of {ms.model} found in {root} by content "
            f"({seen_train} pairs it was trained on are left out)",
            name,
        )
    raise DataError(
        f"{root} holds {seen_train} pair(s) that {ms.model} was trained on ({ms.dataset}) but only "
        f"{len(found)} of its {len(heldout)} held-out pairs: scoring them would overstate the model. Point "
        "--data at the dataset root its held-out split names (`hadamard-restore models --json`), pass "
        "--split FILE, or --all-pairs to score every pair anyway"
    )


def select_pairs(
    root: str | Path,
    layout: str | None = None,
    degraded_dir: str | None = None,
    reference_dir: str | None = None,
    split: str | Path | None = None,
    model_split: ModelSplit | None = None,
    all_pairs: bool = False,
) -> Selection:
    """The pairs to evaluate under ``root``; see the module docstring.

    Raises:
        DataError: a missing folder, a split that does not match the files, an ambiguous choice.
    """
    root = Path(root)
    if not root.exists():
        raise DataError(f"--data {root} does not exist; pass the folder of paired images")
    if split is not None and all_pairs:
        raise DataError("give --split FILE (score its validation pairs) or --all-pairs, not both")
    if split is not None and (degraded_dir or reference_dir):
        raise DataError("--split names its pairs itself; --degraded-dir/--reference-dir go without --split")
    if split is not None:
        pairs = _split_pairs(Path(split), root)
        return Selection(pairs, Path(split), f"the {len(pairs)} validation pairs of split {split}", layout)
    ms = None if all_pairs else model_split
    if ms is not None and not (degraded_dir or reference_dir) and _holds_split(ms.path, root):
        pairs = _split_pairs(ms.path, root)
        what = f"the held-out split of {ms.model}: {len(pairs)} pairs of {ms.dataset} it was never trained on"
        return Selection(pairs, ms.path, what, layout)
    name, pairs = folder_pairs(root, layout, degraded_dir, reference_dir)
    if not pairs:
        raise DataError(f"no pairs to evaluate under {root}")
    if ms is not None:
        return _by_content(ms, root, name, pairs)
    return Selection(pairs, None, f"all {len(pairs)} pairs of {root} ({name} layout)", name)
