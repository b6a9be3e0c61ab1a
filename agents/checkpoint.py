"""Checkpoints: written into a hidden temporary directory and renamed into place, so a checkpoint that
exists is complete; its meta.json lists each file's sha256, so a damaged one is detected on resume."""

from __future__ import annotations

import json
import os
import pickle
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from common.io import sha256_file

PREFIX = "step_"
CURRICULUM = "curriculum.pkl"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be trusted or used."""


def task_attr(env: VecEnv | None, name: str) -> Any:
    """An attribute of the batched task under an env's wrappers, or None for other envs (Gymnasium's)."""
    if env is None:
        return None
    try:
        return env.get_attr(name, [0])[0]
    except AttributeError:
        return None


def env_rng(env: VecEnv | None) -> np.random.Generator | None:
    """The batched task's random stream (commands, randomization, noise, spawn), or None for other envs."""
    rng = task_attr(env, "rng")
    return rng if isinstance(rng, np.random.Generator) else None


def env_curriculum(env: VecEnv | None) -> Any:
    """The batched task's curriculum manager (terrain levels, push speed), or None for other envs."""
    manager = task_attr(env, "curriculum")
    return manager if hasattr(manager, "load_state") else None


def load_curriculum(path: Path, env: VecEnv) -> None:
    """Put the task's curriculum back as a checkpoint saved it (before the env's reset places the robots); a
    checkpoint written before curricula were saved has no file, and the curriculum starts afresh."""
    manager = env_curriculum(env)
    if manager is not None and (path / CURRICULUM).is_file():
        with open(path / CURRICULUM, "rb") as f:
            manager.load_state(pickle.load(f))


def rng_state(env: VecEnv | None = None) -> dict[str, Any]:
    """Every random stream a continued run draws from: Python, NumPy, torch and the task's own."""
    rng = env_rng(env)
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": th.get_rng_state()}
    return {**state, "env": rng.bit_generator.state if rng is not None else None}


def set_rng_state(state: dict[str, Any], env: VecEnv | None = None) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    th.set_rng_state(state["torch"])
    rng = env_rng(env)
    if rng is not None and state.get("env") is not None:
        rng.bit_generator.state = state["env"]


def save(
    run_dir: Path, model: BaseAlgorithm, vecnorm: VecNormalize | None, save_replay_buffer: bool, keep: int
) -> Path:
    """Write checkpoints/step_<N>/ atomically and prune all but the newest `keep` (0 keeps all)."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    step = int(model.num_timesteps)
    final = root / f"{PREFIX}{step:012d}"
    if final.exists():
        return final
    tmp = root / f".tmp_{PREFIX}{step:012d}_{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    model.save(tmp / "model.zip")
    if vecnorm is not None:
        vecnorm.save(str(tmp / "vecnormalize.pkl"))
    if save_replay_buffer and isinstance(model, OffPolicyAlgorithm):
        model.save_replay_buffer(tmp / "replay_buffer.pkl")
    with open(tmp / "rng.pkl", "wb") as f:
        pickle.dump(rng_state(model.get_env()), f)
    manager = env_curriculum(model.get_env())
    if manager is not None:
        with open(tmp / CURRICULUM, "wb") as f:
            pickle.dump(manager.state(), f)
    files = {p.name: sha256_file(p) for p in sorted(tmp.iterdir())}
    (tmp / "meta.json").write_text(json.dumps({"step": step, "files": files}, indent=2))
    os.replace(tmp, final)
    if keep > 0:
        for old in complete(run_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def complete(run_dir: Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first (half-written temporary directories are ignored)."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.name.startswith(PREFIX) and (p / "meta.json").is_file())


def verify(path: Path) -> dict[str, Any]:
    """Check every file of a checkpoint against its recorded sha256; return its meta."""
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path}: meta.json unreadable ({err})") from None
    for name, digest in meta["files"].items():
        file = path / name
        if not file.is_file():
            raise CheckpointError(f"checkpoint {path}: {name} is missing")
        if sha256_file(file) != digest:
            raise CheckpointError(f"checkpoint {path}: {name} is corrupt (sha256 differs from meta.json)")
    return meta


def latest(run_dir: Path) -> Path | None:
    """The newest complete checkpoint, verified; None when the run has none."""
    found = complete(run_dir)
    if not found:
        return None
    verify(found[-1])
    return found[-1]


def cleanup_partial(run_dir: Path) -> None:
    """Remove temporary directories left by a checkpoint write that was interrupted."""
    root = Path(run_dir) / "checkpoints"
    if root.is_dir():
        for p in root.glob(f".tmp_{PREFIX}*"):
            shutil.rmtree(p, ignore_errors=True)
