"""A word to the user when a step runs long: :func:`notice_if_slow`.

Anything that can take more than a few seconds (checking or timing backends, enhancing a large
photo, exporting a graph) runs inside ``notice_if_slow(what)``: nothing is printed when it is
quick; once it has run :data:`SLOW_S` seconds one line says what is going on, and when it ends
another says how long it took.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from hadamard_restore.runtime.log import get_logger

SLOW_S = 3.0
log = get_logger("hadamard_restore")


@contextmanager
def notice_if_slow(what: str, after: float = SLOW_S) -> Iterator[None]:
    """Log ``"<what> (more than N s so far) ..."`` once the block has run ``after`` seconds, and
    ``"<what>: done in N s"`` when such a block ends."""
    start = time.perf_counter()
    timer = threading.Timer(after, log.info, args=("%s (more than %.0f s so far) ...", what, after))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        took = time.perf_counter() - start
        if took >= after:
            log.info("%s: done in %.1f s", what, took)
