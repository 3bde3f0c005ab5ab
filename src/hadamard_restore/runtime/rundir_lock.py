"""One run directory, one writer: a lock file created with ``O_EXCL``.

While a command writes into a run directory it holds ``<run_dir>/.hadamard-restore.lock``, a
small JSON file with the writer's pid, host, command line and start time. A second writer
(another training, search, evaluation ... into the same folder, or into a folder below it) is
refused with :class:`RunDirLockedError` naming the running one.

A lock left by a killed process is *stale* when it names this host and a pid that no longer
runs (or runs a different process, judged by its start time), or when it is still empty
seconds after its creation (the writer died between creating and filling it). It is taken over
safely: the takeover is serialised by an ``flock`` on the run directory itself, and the stale
file is removed only after re-reading it under that flock, so two processes never both take it. A lock
from another host cannot be judged; the message says how to remove it when that run is gone.

Examples:
    >>> with RunDirLock("runs/x", "hadamard-restore train cfg.yaml"):   # doctest: +SKIP
    ...     train(...)
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path

from hadamard_restore.errors import HadamardRestoreError

LOCK_NAME = ".hadamard-restore.lock"
EMPTY_STALE_S = 5.0


class RunDirLockedError(HadamardRestoreError, RuntimeError):
    """Another live process writes into this run directory."""


def _process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (Linux ``/proc``), to tell a reused pid from the original."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists (permission errors count as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe(info: dict) -> str:
    """``pid 123 on host h since 2024-... : hadamard-restore train ...``."""
    return f"pid {info.get('pid')} on {info.get('host')} since {info.get('started')}: {info.get('command') or '?'}"


def read_lock(path: Path) -> dict | None:
    """The lock's JSON, ``{}`` when unreadable (being written), None when absent."""
    try:
        return json.loads(path.read_text() or "{}")
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}


def is_stale(info: dict, path: Path | None = None) -> bool:
    """A lock of this host whose process is gone (or whose pid now belongs to another process),
    or an empty lock file older than :data:`EMPTY_STALE_S` seconds."""
    if not info and path is not None:
        try:
            return time.time() - path.stat().st_mtime > EMPTY_STALE_S
        except OSError:
            return False
    if info.get("host") != socket.gethostname() or not isinstance(info.get("pid"), int):
        return False
    pid = info["pid"]
    if not pid_alive(pid):
        return True
    recorded, now = info.get("proc_start"), _process_start(pid)
    return recorded is not None and now is not None and recorded != now


def live_lock_above(run_dir: Path) -> tuple[Path, dict] | None:
    """A live lock in a folder above ``run_dir`` (a ``run`` writing its sub-stages), if any."""
    for parent in run_dir.resolve().parents:
        info = read_lock(parent / LOCK_NAME)
        if info is not None and info.get("pid") != os.getpid() and not is_stale(info, parent / LOCK_NAME):
            return parent, info
    return None


class RunDirLock:
    """The lock of one run directory (a context manager; :meth:`acquire` / :meth:`release`)."""

    def __init__(self, run_dir: str | Path, command: str = "") -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self.command = command
        self.info: dict | None = None

    def _payload(self) -> dict:
        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": self.command,
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "proc_start": _process_start(os.getpid()),
        }

    def _create(self) -> bool:
        """Create the lock file exclusively; False when one exists."""
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        self.info = self._payload()
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(self.info))
            fh.flush()
            os.fsync(fh.fileno())
        return True

    def _take_over_stale(self, seen: dict) -> None:
        """Remove the stale lock ``seen`` under the guard, only if it is still that same file."""
        fd = os.open(self.run_dir, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if read_lock(self.path) == seen:
                self.path.unlink(missing_ok=True)
        finally:
            os.close(fd)  # closing releases the flock

    def acquire(self) -> RunDirLock:
        """Take the lock or raise :class:`RunDirLockedError` naming the running writer."""
        above = live_lock_above(self.run_dir)
        if above is not None:
            raise RunDirLockedError(
                f"{self.run_dir} is inside the run directory {above[0]}, which "
                f"another command is writing ({describe(above[1])}); wait for it or "
                "choose another --out"
            )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            if self._create():
                return self
            info = read_lock(self.path)
            if info is None:
                continue  # released between our two looks: try again
            if info.get("pid") == os.getpid() and info.get("host") == socket.gethostname():
                raise RunDirLockedError(f"{self.run_dir} is already being written by this process")
            if not is_stale(info, self.path):
                raise RunDirLockedError(
                    f"{self.run_dir} is being written by another command ({describe(info)}); wait for it "
                    f"to finish or choose another --out. If that run is gone (e.g. its machine "
                    f"rebooted), delete {self.path}"
                )
            self._take_over_stale(info)
        raise RunDirLockedError(
            f"could not lock {self.run_dir}: its lock file keeps changing; another command is starting there"
        )

    def release(self) -> None:
        """Remove the lock file if it is still ours."""
        if self.info is not None and read_lock(self.path) == self.info:
            self.path.unlink(missing_ok=True)
        self.info = None

    def __enter__(self) -> RunDirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
