"""Output-path guards: nothing a user owns is overwritten, and a bad destination fails first.

Every command that writes calls :func:`guard_outputs` before any work starts, with every path
it reads (inputs, checkpoints) and every path it will write. An output that resolves (through
``..``, symlinks or hard links) to one of the inputs, or to another output of the same call, is
refused with :class:`OutputConflictError` naming both paths. :func:`check_output_file` and
:func:`check_output_dir` then say, before the model runs, when a destination cannot be written
(a folder where a file is expected, a file in the way of a folder, no write permission).

Examples:
    >>> guard_outputs({"checkpoint": "m.pt"}, {"--onnx": "m.pt"})  # doctest: +SKIP
    OutputConflictError: refusing to write --onnx m.pt: it is the checkpoint m.pt ...
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from hadamard_restore.errors import HadamardRestoreError

PathLike = str | Path
Paths = PathLike | Iterable[PathLike] | None


class OutputConflictError(HadamardRestoreError, ValueError):
    """An output would replace an input, a checkpoint or another output of the same call."""


class OutputPathError(HadamardRestoreError, ValueError):
    """An output path cannot be written: a folder or file is in the way, or permission is missing."""


def resolved(path: PathLike) -> Path:
    """The absolute path with ``~``, ``..`` and symlinks resolved (the file need not exist)."""
    return Path(os.path.expanduser(str(path))).resolve(strict=False)


def same_file(a: PathLike, b: PathLike) -> bool:
    """True when ``a`` and ``b`` name one file: equal resolved paths, or hard links to one inode."""
    ra, rb = resolved(a), resolved(b)
    if ra == rb:
        return True
    try:
        return ra.exists() and rb.exists() and os.path.samefile(ra, rb)
    except OSError:
        return False


def _flatten(named: Mapping[str, Paths]) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    for label, value in named.items():
        if value is None:
            continue
        items = [value] if isinstance(value, (str, os.PathLike)) else list(value)
        out.extend((label, Path(p)) for p in items if p is not None)
    return out


def guard_outputs(inputs: Mapping[str, Paths], outputs: Mapping[str, Paths]) -> None:
    """Refuse any output that is an input or another output of the same call.

    Args:
        inputs: label -> path(s) the call reads (``"checkpoint"``, ``"input image"`` ...).
        outputs: label -> path(s) the call will write (``"--onnx"``, ``"output"`` ...).

    Raises:
        OutputConflictError: naming the output and the path it collides with.
    """
    read, written = _flatten(inputs), _flatten(outputs)
    _refuse_same_file(
        ((out, src) for out in written for src in read),
        "refusing to write {0} {1}: it is the {2} {3}, which this command reads; writing it would "
        "destroy the original. Choose another output path",
    )
    _refuse_same_file(
        ((out, other) for i, out in enumerate(written) for other in written[:i]),
        "refusing to write {0} {1}: the {2} {3} of this same command is the same file, so one "
        "result would replace the other. Give them different paths",
    )


def _refuse_same_file(pairs: Iterable[tuple[tuple[str, Path], tuple[str, Path]]], message: str) -> None:
    """Raise ``message.format(out label, out, other label, other)`` for the first pair naming one file."""
    for (out_label, out), (other_label, other) in pairs:
        if same_file(out, other):
            raise OutputConflictError(message.format(out_label, out, other_label, other))


def _nearest_existing(path: Path) -> Path:
    p = resolved(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _check_parents(path: Path, label: str, shown: Path | None = None) -> None:
    """The folders above ``path`` can be created and written (``shown`` names it in messages)."""
    base = _nearest_existing(path.parent)
    path = shown if shown is not None else path
    if not base.is_dir():
        raise OutputPathError(
            f"{label} {path}: {base} is a file, not a folder, so nothing can be written "
            "below it; choose another path or move that file"
        )
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputPathError(f"{label} {path}: no permission to write in {base}; choose a folder you can write to")


def check_output_file(path: PathLike, label: str = "output", example: str = "out.file") -> Path:
    """Say now (not after the work) when ``path`` cannot be written as a file.

    Raises:
        OutputPathError: ``path`` is an existing folder, sits below a file, or is not writable.
    """
    path = Path(path)
    check_name_length(path, label)  # first: a name over the limit makes every stat fail
    if path.is_dir():
        raise OutputPathError(f"{label} {path} is an existing folder; give a file name, e.g. {path / example}")
    _check_parents(path, label)
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputPathError(f"{label} {path} exists and is read-only; choose another path or make it writable")
    return path


def check_name_length(path: PathLike, label: str = "output") -> None:
    """Refuse a file name longer than the file system allows (``NAME_MAX`` bytes, usually 255) or
    a path longer than ``PATH_MAX``, before any work instead of an OSError when writing.

    Raises:
        OutputPathError: naming the length and the limit.
    """
    path = Path(path)
    base = _nearest_existing(path.parent)
    name_max, path_max = _limit(base, "PC_NAME_MAX", 255), _limit(base, "PC_PATH_MAX", 4096)
    name, full = len(os.fsencode(path.name)), len(os.fsencode(str(resolved(path))))
    if name > name_max or full >= path_max:
        what = f"its name is {name} bytes" if name > name_max else f"its full path is {full} bytes"
        limit = f"{name_max} bytes per name" if name > name_max else f"{path_max - 1} bytes per path"
        raise OutputPathError(
            f"{label} {path.parent / (path.name[:40] + '...')}: {what}, over the file system's limit of "
            f"{limit}; shorten the name (for enhance: the photo's name or --suffix) or the folder path "
            "(nothing was written)"
        )


def _limit(base: Path, name: str, default: int) -> int:
    try:
        return int(os.pathconf(base, name))
    except (OSError, ValueError):
        return default


def check_new_files(paths: Iterable[Path], label: str = "output", force: bool = False) -> None:
    """Every planned output file can be created: not an existing folder, a name the file system
    takes, and (without ``force``) not an existing file this call did not create.

    Raises:
        OutputPathError: a folder in the way or a name too long.
        OutputConflictError: existing files would be replaced (a few named), without ``force``.
    """
    paths = list(paths)
    for path in paths:
        check_name_length(path, label)
        if path.is_dir():
            raise OutputPathError(
                f"{label} {path} is an existing folder, so the file cannot be written there; move "
                "the folder or choose another --out (nothing was written)"
            )
    existing = [p for p in paths if p.exists() or p.is_symlink()]
    if existing and not force:
        more = f" and {len(existing) - 3} more" if len(existing) > 3 else ""
        option = label if label.startswith("--") else "--out"
        raise OutputConflictError(
            f"refusing to replace existing files: {', '.join(map(str, existing[:3]))}{more} "
            "would be overwritten by this call's outputs; pass --force to replace them, or choose "
            f"another {option} (nothing was written)"
        )


def check_output_dir(path: PathLike, label: str = "--out") -> Path:
    """Say now when ``path`` cannot be used as an output folder.

    Raises:
        OutputPathError: a file is in the way, or the folder (or its nearest parent) is not writable.
    """
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise OutputPathError(
            f"{label} {path} is a symbolic link to {os.readlink(path)}, which does not exist; create "
            "that folder or choose another --out"
        )
    if path.exists() and not path.is_dir():
        raise OutputPathError(
            f"{label} {path} is a file, not a folder; choose a folder path (it is created when missing)"
        )
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise OutputPathError(f"{label} {path}: no permission to write in this folder; choose another --out")
        return path
    _check_parents(path / "x", label, shown=path)
    return path


def refuse_earlier_run(run_dir: PathLike | None, resumable: bool) -> None:
    """Refuse to start a new run in a folder that holds checkpoints (``*.pt``) of an earlier one.

    Raises:
        OutputConflictError: naming a few of the checkpoints that a new run would overwrite.
    """
    if run_dir is None or not Path(run_dir).is_dir():
        return
    found = sorted(Path(run_dir).rglob("*.pt"))
    if found:
        names = ", ".join(str(p) for p in found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
        hint = "pass --resume to continue that run, or " if resumable else ""
        raise OutputConflictError(
            f"--out {run_dir} already holds checkpoints of an earlier run ({names}); a new "
            f"run would overwrite them: {hint}choose another --out"
        )
