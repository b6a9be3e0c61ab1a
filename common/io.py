"""Run-directory and bundle I/O shared by training, validation and export: nothing here imports a room."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import platform
import subprocess
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("numpy", "torch", "mujoco", "mujoco-core", "gymnasium", "stable-baselines3", "sb3-contrib", "hydra-core",
            "omegaconf", "onnx", "onnxruntime")  # fmt: skip
REPO = Path(__file__).resolve().parent.parent
FILE_MODE = 0o644
DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
"""Write failures that mean 'no room': reported in one line, never as a traceback."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write a file so that readers see the old content or the new, never half of it (mode 0644 less umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE & ~_umask())  # mkstemp makes 0600: outputs are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def no_room(err: OSError, where: Path) -> str | None:
    """One line for a write that failed for want of room (disk full, quota, file-size limit), else None."""
    if err.errno not in DISK_FULL:
        return None
    return f"cannot write into '{where}': {os.strerror(err.errno)} ({err.filename}); free space or choose another place"


def keep_file_size_errors() -> None:
    """A file-size limit (ulimit -f) then fails the write with EFBIG instead of killing the process unannounced."""
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def versions() -> dict[str, str]:
    """Versions of Python and the packages a run depends on."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def git_commit() -> dict[str, Any]:
    """The repository's commit and whether the tree had uncommitted changes (None outside a checkout)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(dirty.strip())}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def is_run_dir(path: Path) -> bool:
    """A LocoForge training run directory holds run.json and config.yaml."""
    path = Path(path)
    return (path / "run.json").is_file() and (path / "config.yaml").is_file()


def load_run_config(run_dir: Path) -> Any:
    """A run's saved config.yaml as an OmegaConf DictConfig (sections are typed where they are used)."""
    from omegaconf import OmegaConf

    path = Path(run_dir) / "config.yaml"
    try:
        return OmegaConf.load(path)
    except Exception as err:  # missing, unreadable or not YAML: one line, whatever the parser raised
        raise ValueError(f"policy: cannot read {path} ({type(err).__name__})") from None
