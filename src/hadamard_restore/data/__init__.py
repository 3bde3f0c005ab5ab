"""Paired images: file I/O (:mod:`.io`, with 16-bit colour through :mod:`.codec16`, cut-off files
in :mod:`.damage` and the pixel limit in :mod:`.pixel_limit`), dataset layouts and pairing
(:mod:`.layouts`), pinned splits (:mod:`.split`) and their checks (:mod:`.integrity`), paired
crops/flips (:mod:`.transforms`, :mod:`.dataset`), degradations (:mod:`.degrade`), the demo data
(:mod:`.demo`), dataset checks (:mod:`.check`) and the pairs of a run (:mod:`.task_data`); the
contract is in docs/internals.md (data/).
"""
