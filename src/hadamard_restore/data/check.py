"""``data check``: find a dataset's layout and pairs and report every problem, without stopping.

By default images are not decoded: sizes come from the file headers (with EXIF orientation)
and truncation is spotted from the file's end (PNG ``IEND``, JPEG ``EOI``). ``full=True``
decodes every image as well, which also catches corrupt data inside a file.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hadamard_restore.data.io import image_size, looks_truncated, read_image_array
from hadamard_restore.data.layouts import Pair, layout_folders, match_folders, mismatch_message
from hadamard_restore.errors import DataError

MAX_SIZES_LISTED = 6


@dataclass
class CheckReport:
    """What ``check_dataset`` found. ``ok`` is True when ``problems`` is empty."""

    root: Path
    layout: str | None = None
    folders: list[tuple[Path, Path]] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)
    sizes: Counter = field(default_factory=Counter)  # (H, W) -> number of pairs
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def num_references(self) -> int:
        return len({p.reference for p in self.pairs})

    def format(self) -> str:
        """A human-readable report (what ``hadamard-restore data check`` prints)."""
        lines = [f"dataset: {self.root}", f"layout:  {self.layout or 'not found'}"]
        for deg, ref in self.folders:
            lines.append(f"folders: {deg} -> {ref}")
        lines.append(f"pairs:   {len(self.pairs)} ({self.num_references} distinct reference files)")
        if self.sizes:
            lines.append("sizes:   " + _format_sizes(self.sizes))
        if self.problems:
            lines.append(f"problems ({len(self.problems)}):")
            lines += [f"  - {p}".replace("\n", "\n    ") for p in self.problems]
        else:
            lines.append("problems: none")
        return "\n".join(lines)


def _format_sizes(sizes: Counter) -> str:
    """Distinct W x H sizes with counts, or min/max when there are many."""
    if len(sizes) <= MAX_SIZES_LISTED:
        return ", ".join(f"{w}x{h} ({n})" for (h, w), n in sorted(sizes.items(), key=lambda kv: -kv[1]))
    by_area = sorted(sizes, key=lambda hw: hw[0] * hw[1])
    (h0, w0), (h1, w1) = by_area[0], by_area[-1]
    return f"{len(sizes)} distinct sizes (W x H), smallest {w0}x{h0}, largest {w1}x{h1}"


def _check_pair(pair: Pair, full: bool, problems: list[str]) -> tuple[int, int] | None:
    sizes = []
    for path in (pair.degraded, pair.reference):
        try:
            size = image_size(path)
            if full:  # read_image_array refuses cut-off files too (data.damage)
                array = read_image_array(path)
                size = tuple(array.shape[:2])
            elif looks_truncated(path):
                problems.append(f"{path}: file looks truncated (its end marker is missing); re-copy it")
                return None
        except DataError as exc:
            problems.append(str(exc))
            return None
        sizes.append(size)
    if sizes[0] != sizes[1]:
        (h0, w0), (h1, w1) = sizes
        problems.append(
            f"sizes differ: {pair.degraded.name} is {w0}x{h0} but its reference {pair.reference} is {w1}x{h1} (W x H)"
        )
        return None
    return sizes[0]


def check_dataset(
    root: str | Path,
    layout: str | None = None,
    degraded_dir: str | None = None,
    reference_dir: str | None = None,
    full: bool = False,
) -> CheckReport:
    """Inspect a paired dataset folder and collect every problem found.

    Args:
        root: dataset folder.
        layout: layout name, or None to detect it.
        degraded_dir, reference_dir: the two folders for layout ``paired``.
        full: decode every image (slower; also finds corrupt pixel data).

    Returns:
        A :class:`CheckReport`; never raises :class:`DataError` (problems are listed instead).
    """
    report = CheckReport(Path(root))
    try:
        report.layout, report.folders = layout_folders(root, layout, degraded_dir, reference_dir)
    except DataError as exc:
        report.problems.append(str(exc))
        return report
    for deg_dir, ref_dir in report.folders:
        try:
            pairs, unmatched, unused = match_folders(deg_dir, ref_dir, strict=False)
        except DataError as exc:
            report.problems.append(str(exc))
            continue
        if unmatched or unused:
            n_deg, n_ref = len(pairs) + len(unmatched), len({p.reference for p in pairs}) + len(unused)
            report.problems.append(mismatch_message(deg_dir, ref_dir, unmatched, unused, n_deg, n_ref))
        report.pairs.extend(pairs)
    for pair in report.pairs:
        size = _check_pair(pair, full, report.problems)
        if size is not None:
            report.sizes[size] += 1
    return report
