"""An exclusive lock on an output directory for the life of a process: two writers never mix their files.

It is an OS-level `flock` on `<dir>/.lock`, so a process that dies, even by SIGKILL, releases it; the file
keeps the holder's pid so the refusal can name it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = ".lock"


class DirectoryLock:
    """Held from `acquire()` until `release()` or the process ends."""

    def __init__(self, directory: Path, what: str) -> None:
        self.directory, self.what = Path(directory), what
        self.path = self.directory / LOCK_NAME
        self.fd: int | None = None

    def acquire(self) -> DirectoryLock:
        """Take the lock or fail with one line naming the process that holds it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ValueError(f"{self.what}: '{self.directory}' is in use by process {holder}; wait for it to end or "
                             "choose another directory") from None  # fmt: skip
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
