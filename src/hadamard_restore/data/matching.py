"""Pairing the images of two folders by file name.

Names are matched by file stem, case-insensitively (``a.png <-> a.jpg``). A degraded stem with no
reference of the same stem is matched by dropping ``_suffix`` pieces from its end, so many-to-one
names work: SOTS ``1400_3.png -> 1400.png``, ITS ``1_1_0.90179.png -> 1.png``. Errors list a few
names of each side (:data:`SHOW`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hadamard_restore.data.damage import require_regular
from hadamard_restore.data.io import IMAGE_SUFFIXES, is_image_file
from hadamard_restore.errors import DataError

SHOW = 5  # how many names an error message lists per side


@dataclass(frozen=True)
class Pair:
    """One degraded image and its reference."""

    degraded: Path
    reference: Path


def natural_key(text: str) -> tuple:
    """Sort key that orders ``2.png`` before ``10.png``."""
    return tuple(int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text))


def refuse_special_files(paths: Iterable[Path]) -> None:
    """Refuse a FIFO, device or socket named like an image (``x.png``) without opening it.

    Raises:
        DataError: naming the first such path and what it is.
    """
    for p in paths:
        if p.suffix.lower() in IMAGE_SUFFIXES and p.exists() and not (p.is_file() or p.is_dir()):
            require_regular(p)


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, naturally sorted.

    Raises:
        DataError: the folder does not exist or holds no image files.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found")
    refuse_special_files(folder.iterdir())
    files = sorted((p for p in folder.iterdir() if is_image_file(p)), key=lambda p: natural_key(p.name))
    if not files:
        others = sum(1 for p in folder.iterdir() if not p.name.startswith("."))
        raise DataError(
            f"{folder}: empty folder, no images in it (looked for {', '.join(IMAGE_SUFFIXES)}; "
            f"{others} other entries); put the images there or point the path at the right folder"
        )
    return files


def match_reference(stem: str, references: dict[str, Path]) -> Path | None:
    """The reference for a degraded stem: the same stem, else drop ``_piece`` endings one by one."""
    key = stem.lower()
    while True:
        if key in references:
            return references[key]
        if "_" not in key:
            return None
        key = key.rsplit("_", 1)[0]


def match_folders(
    degraded_dir: Path, reference_dir: Path, strict: bool = True
) -> tuple[list[Pair], list[Path], list[Path]]:
    """Pair the images of two folders by name.

    Returns:
        ``(pairs, unmatched_degraded, unused_references)``, pairs sorted by degraded name.

    Raises:
        DataError: a folder is missing or empty, two references share a stem, or (``strict``)
            some names do not match; the message lists a few names of each side.
    """
    degraded = list_images(degraded_dir)
    refs = list_images(reference_dir)
    by_stem: dict[str, Path] = {}
    for p in refs:
        if p.stem.lower() in by_stem:
            raise DataError(
                f"{reference_dir}: two references share the name {p.stem!r} "
                f"({by_stem[p.stem.lower()].name}, {p.name}); keep one of them"
            )
        by_stem[p.stem.lower()] = p
    pairs, unmatched = [], []
    for p in degraded:
        ref = match_reference(p.stem, by_stem)
        (pairs.append(Pair(p, ref)) if ref is not None else unmatched.append(p))
    used = {pr.reference for pr in pairs}
    unused = [p for p in refs if p not in used]
    if strict and (unmatched or unused):
        raise DataError(mismatch_message(degraded_dir, reference_dir, unmatched, unused, len(degraded), len(refs)))
    return pairs, unmatched, unused


def mismatch_message(
    degraded_dir: Path,
    reference_dir: Path,
    unmatched: list[Path],
    unused: list[Path],
    n_degraded: int,
    n_reference: int,
) -> str:
    """Names that do not match, a few of each side, and how matching works."""

    def few(paths: list[Path]) -> str:
        more = f" and {len(paths) - SHOW} more" if len(paths) > SHOW else ""
        return ", ".join(p.name for p in paths[:SHOW]) + more

    lines = [
        f"names do not match between {degraded_dir} ({n_degraded} images) and {reference_dir} ({n_reference} images):"
    ]
    if unmatched:
        lines.append(f"  {len(unmatched)} degraded without a reference: {few(unmatched)}")
    if unused:
        lines.append(f"  {len(unused)} references without a degraded image: {few(unused)}")
    lines.append(
        "  files are matched by stem (a.png <-> a.jpg; many-to-one 1400_3.png -> 1400.png); "
        "rename or remove the odd ones"
    )
    return "\n".join(lines)
