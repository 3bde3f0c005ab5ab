"""Where each enhanced photo goes, checked before any work: no input is ever overwritten.

``plan_outputs(inputs, out_dir, recursive, suffix)`` expands files and folders into
``(source, destination)`` pairs:

* an explicit file ``d/pic.jpg`` goes to ``OUT/pic<suffix>.jpg``; files found in a folder keep
  their path relative to that folder (sub-folders only with ``recursive``), so a tree comes
  out with the same structure;
* the format is kept (:func:`.io.output_suffix`: JPEG, PNG, WebP, TIFF, BMP; others become PNG);
* the whole call is refused, naming both paths, when a destination resolves to **any** input
  of the call (not only its own) or to the destination of another input. Nothing has been
  read or written at that point.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from hadamard_restore.data.damage import require_regular
from hadamard_restore.data.io import is_image_file, refuse_special_files
from hadamard_restore.errors import DataError
from hadamard_restore.photo.io import output_suffix


def _relative_output(rel: Path, suffix: str) -> Path:
    return rel.with_name(f"{rel.stem}{suffix}{output_suffix(rel)}")


def collect(
    inputs: Iterable[str | Path], recursive: bool = False, exclude: Path | None = None
) -> list[tuple[Path, Path]]:
    """``[(image file, its path relative to the output folder, before the suffix)]``.

    Raises:
        DataError: an input does not exist, or nothing at all was found.
    """
    paths = [Path(p) for p in inputs]
    found: list[tuple[Path, Path]] = []
    excluded = exclude.resolve() if exclude is not None else None
    for item in paths:
        if item.is_dir():
            entries = sorted(item.rglob("*") if recursive else item.iterdir())
            refuse_special_files(entries)
            for f in entries:
                if is_image_file(f) and not (excluded and excluded in f.resolve().parents):
                    found.append((f, f.relative_to(item)))
        elif item.exists():
            require_regular(item)  # a FIFO or a device (/dev/zero) is refused before any work
            found.append((item, Path(item.name)))
        else:
            raise DataError(f"input {item} does not exist; pass image files or folders of images")
    if not found:
        raise DataError(f"no images found in {', '.join(map(str, paths))}; use --recursive for images in sub-folders")
    return found


def plan_outputs(
    inputs: Iterable[str | Path], out_dir: str | Path, recursive: bool = False, suffix: str = ""
) -> list[tuple[Path, Path]]:
    """``[(source, destination)]`` for one enhance call, refused as a whole if unsafe.

    Args:
        inputs: image files and/or folders.
        out_dir: the output folder (images already inside it are not picked up from folders).
        recursive: descend into sub-folders of folder inputs, keeping their structure.
        suffix: appended to every output stem (``pic.jpg`` -> ``pic_enhanced.jpg``).

    Raises:
        DataError: a missing input, no images, a suffix with a path separator, an output that
            would overwrite an input, or two inputs with the same output (both paths named).
    """
    if "/" in suffix or "\\" in suffix:
        raise DataError(f"--suffix {suffix!r} must not contain a path separator")
    out_dir = Path(out_dir)
    jobs = [(src, out_dir / _relative_output(rel, suffix)) for src, rel in collect(inputs, recursive, out_dir)]
    sources = {src.resolve(): src for src, _ in jobs}
    claimed: dict[Path, Path] = {}
    for src, dst in jobs:
        key = dst.resolve()
        if key in sources:
            raise DataError(
                f"refused: the output {dst} of {src} would overwrite the input {sources[key]}; "
                "choose another --out or add a --suffix (nothing was written)"
            )
        if key in claimed:
            raise DataError(
                f"refused: {claimed[key]} and {src} would both be written to {dst}; enhance them "
                "into different --out folders or rename one (nothing was written)"
            )
        claimed[key] = src
    return jobs
