"""Data mistakes found, not absorbed: leakage in a split, pairs of different sizes, damaged files.

* :func:`check_no_leakage`: a pair (by name or by content) or a group on both sides of a split
  is an error wherever a split is used (``data verify``, ``train``, ``evaluate``), since the
  validation score would then measure memorisation.
* :func:`verify_split`: that check, then every file of the split present with its sha256.
* :func:`check_pair_sizes`: ``data split`` refuses pairs whose two images differ in size.
* :func:`read_eval_pair`: one evaluation pair read and checked (same size, large enough for the
  metrics); any problem is a :class:`DataError` naming the files, so ``evaluate`` can list the
  bad pairs and score the rest.

Damaged files (a cut-off PNG, a truncated JPEG) are found by :mod:`.damage`, which
``data.io.read_image_array`` uses, so ``enhance``, ``evaluate`` and ``data check --full`` agree.
"""

from __future__ import annotations

from pathlib import Path

from hadamard_restore.artifacts import sha256_file
from hadamard_restore.data.io import image_size, read_image
from hadamard_restore.data.layouts import SHOW
from hadamard_restore.errors import DataError

SSIM_WINDOW = 11


def _few(items: list[str]) -> str:
    return ", ".join(items[:SHOW]) + (f" and {len(items) - SHOW} more" if len(items) > SHOW else "")


def check_no_leakage(split, source: str = "the split") -> None:
    """Raise when a pair, a file's content or a group appears in both train and validation.

    Args:
        split: a ``data.split.Split``.
        source: how to name the split in the message (its file name).

    Raises:
        DataError: listing the leaked names (a few) and what to do.
    """
    problems = []
    for what, key in (
        ("pair", lambda e: e.degraded),
        ("degraded image content (sha256)", lambda e: e.degraded_sha256),
        ("group", lambda e: e.group),
    ):
        both = sorted({key(e) for e in split.train} & {key(e) for e in split.val})
        if both:
            names = both if what == "pair" else [e.degraded for e in split.val if key(e) in set(both)]
            problems.append(f"{len(both)} {what}(s) in both train and validation: {_few(names)}")
            if what == "pair":
                break
    if problems:
        raise DataError(
            f"{source} leaks validation data into training: "
            + "; ".join(problems)
            + ". Every pair (and every group of pairs sharing a reference) must be on one side "
            "only; make a new split with `hadamard-restore data split`"
        )


def verify_split(split, root: str | Path) -> None:
    """Check that ``split`` (a ``data.split.Split``) does not leak and that every file exists under
    ``root`` with the recorded sha256.

    Raises:
        DataError: a pair (or group) in both train and validation; missing files and files whose
            content changed (a few of each).
    """
    check_no_leakage(split)  # a pair on both sides is an error wherever a split is used
    root = Path(root)
    missing, changed = [], []
    seen: set[str] = set()
    for e in split.train + split.val:
        for name, digest in ((e.degraded, e.degraded_sha256), (e.reference, e.reference_sha256)):
            if name in seen:
                continue
            seen.add(name)
            path = root / name
            if not path.is_file():
                missing.append(name)
            elif sha256_file(path) != digest:
                changed.append(name)
    found = {"missing file(s)": missing, "file(s) whose content changed (sha256 differs)": changed}
    parts = [f"{len(names)} {what}: {_few(names)}" for what, names in found.items() if names]
    if parts:
        raise DataError(
            f"the split does not match the files under {root}: "
            + "; ".join(parts)
            + ". Restore the original files, point at the right root, or make a new split "
            "(hadamard-restore data split)"
        )


def check_pair_sizes(pairs) -> None:
    """Raise when any pair's degraded and reference images differ in size (headers only).

    Raises:
        DataError: listing every mismatched pair (a few) with both sizes.
    """
    bad = []
    for p in pairs:
        (h0, w0), (h1, w1) = image_size(p.degraded), image_size(p.reference)
        if (h0, w0) != (h1, w1):
            bad.append(f"{Path(p.degraded).name} {w0}x{h0} vs {Path(p.reference).name} {w1}x{h1}")
    if bad:
        raise DataError(
            f"{len(bad)} pair(s) have images of different sizes (W x H): {_few(bad)}; fix or remove "
            "them (`hadamard-restore data check` lists all) before making a split"
        )


def min_eval_side(crop_border: int = 0) -> int:
    """The smallest side evaluation accepts: the SSIM window after ``crop_border`` on each side."""
    return SSIM_WINDOW + 2 * crop_border


def read_eval_pair(pair, crop_border: int = 0):
    """``(degraded, reference)`` tensors of one pair, checked for evaluation.

    Raises:
        DataError: unreadable or damaged file, sizes that differ, or an image smaller than
            :func:`min_eval_side`.
    """
    deg, ref = read_image(pair.degraded), read_image(pair.reference)
    if deg.shape != ref.shape:
        raise DataError(
            f"pair sizes differ: {pair.degraded} {tuple(deg.shape[1:])} vs {pair.reference} "
            f"{tuple(ref.shape[1:])}; fix or remove this pair"
        )
    side = min_eval_side(crop_border)
    if min(ref.shape[1:]) < side:
        raise DataError(
            f"{pair.degraded} is {ref.shape[2]}x{ref.shape[1]} pixels; evaluation needs at least "
            f"{side}x{side} (the 11-pixel SSIM window after eval.crop_border {crop_border}); "
            "remove this pair"
        )
    return deg, ref
