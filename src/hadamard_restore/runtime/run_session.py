"""One command, its run directories: locked while it writes, removed when it fails half-made.

The CLI runs every library call inside :func:`command_session`. Code that creates or reuses a
run directory calls :func:`claim_run_dir` (``runtime.rundir.new_run_dir`` and
``runtime.rundir.open_run_dir`` do), which inside a session

* takes the directory's lock (:mod:`.rundir_lock`), so a second writer is
  refused before it writes anything, and releases it when the command ends;
* remembers whether the directory was new (or empty), so that a command that fails before it
  wrote any checkpoint (``*.pt``) leaves no half-made run directory behind (a run refused for
  its settings, a resume refused for its checkpoint). A directory that held anything before
  the command, or that holds a checkpoint now, is never removed.

Outside a session (library use) :func:`claim_run_dir` does nothing. Under torchrun only rank 0
locks and cleans up.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hadamard_restore.runtime.log import get_logger
from hadamard_restore.runtime.rundir_lock import RunDirLock

log = get_logger(__name__)


@dataclass
class _Claim:
    path: Path
    lock: RunDirLock | None
    fresh: bool  # the directory did not exist, or was empty, before this command
    created: list[Path]  # folders this command created (deepest first)


@dataclass
class Session:
    """The run directories one command claimed."""

    command: str
    claims: list[_Claim] = field(default_factory=list)

    def claim(self, path: str | Path) -> Path:
        path = Path(path)
        key = path.resolve()
        if any(c.path.resolve() == key for c in self.claims):
            return path
        created = [p for p in [key, *key.parents] if not p.exists()]
        fresh = not key.exists() or (key.is_dir() and not any(key.iterdir()))
        lock = None
        if int(os.environ.get("RANK", "0")) == 0:
            lock = RunDirLock(path, self.command).acquire()  # creates the folder
        else:
            path.mkdir(parents=True, exist_ok=True)
        self.claims.append(_Claim(path, lock, fresh, created))
        return path

    def clean_up_failed(self) -> None:
        """Remove what a failed command made, where it made no checkpoint."""
        for c in reversed(self.claims):
            if c.lock is None or not c.fresh or not c.path.is_dir():
                continue
            if any(c.path.rglob("*.pt")):
                log.warning("the command failed; %s keeps its checkpoints", c.path)
                continue
            for child in c.path.iterdir():
                if child.name != c.lock.path.name:
                    shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
            c.lock.release()
            for folder in c.created:  # deepest first; stops at the first folder not empty
                try:
                    folder.rmdir()
                except OSError:
                    break

    def release(self) -> None:
        for c in reversed(self.claims):
            if c.lock is not None:
                c.lock.release()


_sessions: list[Session] = []


@contextmanager
def command_session(command: str) -> Iterator[Session]:
    """Run a command's work inside a session (see the module docstring)."""
    session = Session(command)
    _sessions.append(session)
    try:
        yield session
    except BaseException:
        session.clean_up_failed()
        raise
    finally:
        session.release()
        _sessions.remove(session)


def claim_run_dir(path: str | Path) -> Path:
    """Lock ``path`` for the running command (no-op outside a session); returns ``path``."""
    if _sessions:
        return _sessions[-1].claim(path)
    return Path(path)
