"""Finding a dataset's pairs: known folder layouts, and matching degraded files to their
references by name.

A layout names the folder of degraded images and the folder of references (matched
case-insensitively) and where they sit below the dataset root. ``root`` may be the
dataset's own root or any folder on the way down: for LOL-v1 both ``LOL`` (holding
``our485`` and ``eval15``) and ``LOL/our485`` work. When the root holds several parts,
``parts`` says which is used: the training part (``our485``, ``Real_captured/Train``, ...);
point ``root`` at a test folder (``eval15``, ``Test``) to read that one. EUVP's three
paired subsets are read together.

Names are matched by file stem, case-insensitively (``a.png <-> a.jpg``). A degraded stem with no
reference of the same stem is matched by dropping ``_suffix`` pieces from its end, so many-to-one
names work: SOTS ``1400_3.png -> 1400.png``, ITS ``1_1_0.90179.png -> 1.png``
(:func:`match_folders`, which also pairs two folders named directly). Errors list a few names of
each side (:data:`SHOW`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hadamard_restore.data.io import IMAGE_SUFFIXES, is_image_file, refuse_special_files
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


@dataclass(frozen=True)
class Layout:
    """Where a benchmark keeps its degraded and reference folders.

    Attributes:
        name: the layout's name (``--layout NAME``).
        degraded: accepted names of the degraded folder (case-insensitive).
        reference: accepted names of the reference folder.
        parts: sub-paths below the dataset root holding those folders, in order of preference.
        combine: read every part found (EUVP) instead of only the first.
        description: one line for help texts and ``data check``.
    """

    name: str
    degraded: tuple[str, ...]
    reference: tuple[str, ...]
    parts: tuple[str, ...] = ()
    combine: bool = False
    description: str = ""


LAYOUTS: dict[str, Layout] = {
    "lol-v1": Layout(
        "lol-v1",
        ("low",),
        ("high",),
        ("our485", "eval15"),
        description="LOL-v1: our485/{low,high} (train), eval15/{low,high} (test)",
    ),
    "lol-v2": Layout(
        "lol-v2",
        ("Low",),
        ("Normal",),
        ("Real_captured/Train", "Synthetic/Train", "Real_captured/Test", "Synthetic/Test"),
        description="LOL-v2: {Real_captured,Synthetic}/{Train,Test}/{Low,Normal}",
    ),
    "reside": Layout(
        "reside",
        ("hazy",),
        ("clear", "gt"),
        ("indoor", "outdoor"),
        description="RESIDE SOTS/ITS: hazy/<scene>_<k>.png -> clear|gt/<scene>.png",
    ),
    "uieb": Layout(
        "uieb", ("raw-890",), ("reference-890",), description="UIEB: raw-890/ and reference-890/, same file names"
    ),
    "lsui": Layout("lsui", ("input",), ("GT",), description="LSUI: input/ and GT/, same file names"),
    "euvp": Layout(
        "euvp",
        ("trainA", "Inp"),
        ("trainB", "GTr"),
        ("Paired/underwater_dark", "Paired/underwater_imagenet", "Paired/underwater_scenes"),
        combine=True,
        description="EUVP paired: Paired/<subset>/{trainA,trainB}; test_samples/{Inp,GTr}",
    ),
    "paired": Layout(
        "paired",
        ("degraded", "input", "low", "hazy", "lq"),
        ("reference", "target", "gt", "high", "clear", "hq"),
        description="any two folders matched by stem: degraded|input|low|hazy|lq and "
        "reference|target|gt|high|clear|hq, or degraded_dir and reference_dir",
    ),
}
#: detected only where no named layout matches (LOL's low/high, LSUI's input/GT are theirs)
FALLBACK_LAYOUT = "paired"
ALIASES = {"lol": "lol-v1", "lolv1": "lol-v1", "lolv2": "lol-v2", "sots": "reside", "its": "reside", "custom": "paired"}


def layout_names() -> list[str]:
    return list(LAYOUTS)


def get_layout(name: str) -> Layout:
    """The layout called ``name`` (case-insensitive, a few aliases such as ``sots``)."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in LAYOUTS:
        raise DataError(
            f"unknown layout {name!r}; known layouts: {', '.join(LAYOUTS)} (or leave it empty to auto-detect)"
        )
    return LAYOUTS[key]


def _child(folder: Path, names: tuple[str, ...]) -> Path | None:
    """The sub-folder of ``folder`` whose name is one of ``names`` (case-insensitive)."""
    if not folder.is_dir():
        return None
    wanted = [n.lower() for n in names]
    found = {p.name.lower(): p for p in folder.iterdir() if p.is_dir()}
    for n in wanted:
        if n in found:
            return found[n]
    return None


def _suffixes(part: str) -> list[str]:
    pieces = part.split("/")
    return ["/".join(pieces[i:]) for i in range(len(pieces))]


def resolve_folders(root: Path, layout: Layout) -> list[tuple[Path, Path]]:
    """The ``(degraded_dir, reference_dir)`` folders ``layout`` finds below ``root`` (may be [])."""
    root = Path(root)
    degraded, reference = _child(root, layout.degraded), _child(root, layout.reference)
    if degraded and reference:
        return [(degraded, reference)]
    found: list[tuple[Path, Path]] = []
    for part in layout.parts:
        for sub in _suffixes(part):
            base = _child_path(root, sub)
            if base is None:
                continue
            degraded, reference = _child(base, layout.degraded), _child(base, layout.reference)
            if degraded and reference and (degraded, reference) not in found:
                found.append((degraded, reference))
                break
        if found and not layout.combine:
            break
    return found


def _child_path(root: Path, sub: str) -> Path | None:
    node = root
    for piece in sub.split("/"):
        child = _child(node, (piece,))
        if child is None:
            return None
        node = child
    return node


def detect_layout(root: str | Path) -> str:
    """The name of the one known layout found below ``root``.

    Raises:
        DataError: no layout or several layouts match (the message lists what was looked for).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder not found")
    hits = [name for name, lay in LAYOUTS.items() if resolve_folders(root, lay)]
    if len(hits) > 1 and FALLBACK_LAYOUT in hits:
        hits.remove(FALLBACK_LAYOUT)
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise DataError(f"{root}: several layouts match ({', '.join(hits)}); choose one with --layout / data.layout")
    subs = sorted(p.name for p in root.iterdir() if p.is_dir())[:10]
    known = "; ".join(f"{l.name} ({l.description})" for l in LAYOUTS.values())
    raise DataError(
        f"{root}: no known dataset layout found (sub-folders: {subs or 'none'}). Known layouts: "
        f"{known}. For other folders use layout 'paired' with degraded_dir and reference_dir."
    )


def layout_folders(
    root: str | Path,
    layout: str | None = None,
    degraded_dir: str | Path | None = None,
    reference_dir: str | Path | None = None,
) -> tuple[str, list[tuple[Path, Path]]]:
    """Resolve ``(layout_name, [(degraded_dir, reference_dir), ...])`` for a dataset root.

    ``degraded_dir``/``reference_dir`` (relative to ``root`` or absolute) imply layout ``paired``.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder not found; check data.root or the PATH argument")
    if degraded_dir is not None or reference_dir is not None:
        if degraded_dir is None or reference_dir is None:
            raise DataError("give both degraded_dir and reference_dir (or neither and name a layout)")
        if layout is not None and get_layout(layout).name != "paired":
            raise DataError(f"degraded_dir/reference_dir go with layout 'paired', not {layout!r}")
        return "paired", [(root / degraded_dir, root / reference_dir)]
    name = get_layout(layout).name if layout else detect_layout(root)
    folders = resolve_folders(root, LAYOUTS[name])
    if not folders:
        lay = LAYOUTS[name]
        raise DataError(
            f"{root}: no {name} layout here ({lay.description}); expected folders "
            f"{'/'.join(lay.degraded)} and {'/'.join(lay.reference)}"
            + (f" directly or under {', '.join(lay.parts)}" if lay.parts else "")
            + (" (or set degraded_dir and reference_dir)" if name == "paired" else "")
        )
    return name, folders


def find_pairs(
    root: str | Path,
    layout: str | None = None,
    degraded_dir: str | Path | None = None,
    reference_dir: str | Path | None = None,
) -> list[Pair]:
    """All degraded/reference pairs of a dataset folder.

    Args:
        root: the dataset folder (or a sub-folder such as LOL's ``our485``).
        layout: a name in :data:`LAYOUTS`; None detects it.
        degraded_dir, reference_dir: two folders (relative to ``root``) for layout ``paired``.

    Returns:
        Pairs sorted by folder then natural file order.

    Raises:
        DataError: folder missing or empty, layout unknown or not found, names that do not match.
    """
    _, folders = layout_folders(root, layout, degraded_dir, reference_dir)
    pairs: list[Pair] = []
    for deg, ref in folders:
        pairs.extend(match_folders(deg, ref, strict=True)[0])
    return pairs
