"""Paired images: file I/O, dataset layouts, pinned splits, paired crops/flips, degradations.

See ``docs/internals.md`` (data/) for the contract. Submodules:
:mod:`.io` (with :mod:`.damage`), :mod:`.layouts`, :mod:`.split`, :mod:`.integrity`,
:mod:`.transforms`, :mod:`.dataset`, :mod:`.degrade`, :mod:`.demo`, :mod:`.check`, :mod:`.task_data`.
"""

from hadamard_restore.data.dataset import PairedImages
from hadamard_restore.data.integrity import verify_split
from hadamard_restore.data.io import read_image, write_image
from hadamard_restore.data.layouts import LAYOUTS, Pair, detect_layout, find_pairs
from hadamard_restore.data.split import Split, make_split

__all__ = [
    "LAYOUTS",
    "Pair",
    "PairedImages",
    "Split",
    "detect_layout",
    "find_pairs",
    "make_split",
    "read_image",
    "verify_split",
    "write_image",
]
