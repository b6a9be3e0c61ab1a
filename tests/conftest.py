"""Shared helpers: small task configs and a runner for the root scripts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run_script(script: str, *args: str, timeout: float = 600, check: bool = False) -> subprocess.CompletedProcess:
    """Run a root script (train.py, ...) in a subprocess from the repo root."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HYDRA_FULL_ERROR": "0"}
    proc = subprocess.run(
        [sys.executable, script, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{script} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


@pytest.fixture
def quiet_task():
    """A factory for small LocomotionTasks: no randomization, flat ground, 2 threads."""
    from envs import task_config
    from envs.task import LocomotionTask

    def make(n: int = 4, seed: int = 0, randomization: str = "none", terrain: str = "flat", **env_overrides):
        # env_overrides (events={...}, commands={...}, sim={...}) merge over the preset: with `none`, only the
        # events a test names are randomized
        cfg = task_config("quadruped_flat", randomization=randomization, terrain=terrain)
        return LocomotionTask(task_config(cfg, **env_overrides), num_envs=n, seed=seed, nthread=2)

    return make


def compose_train(*overrides: str, choices: dict | None = None):
    """train.py's config composed in-process, exactly as the command line would compose it; `choices`, when
    given, receives Hydra's group choices (what train.py records in run.json)."""
    from omegaconf import open_dict

    from agents.config import register
    from common.configs import compose
    from envs.presets import register as register_task

    register()
    register_task()
    cfg = compose("train", list(overrides), return_hydra_config=True)
    if choices is not None:
        choices.update({k: str(v) for k, v in cfg.hydra.runtime.choices.items()})
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def train_in_process(run_dir: Path, *overrides: str) -> Path:
    """Train in this process (no subprocess start-up): the run dir train.py would write."""
    from agents.trainer import train

    choices: dict = {}
    cfg = compose_train("progress=false", *overrides, choices=choices)
    train(cfg, Path(run_dir), list(overrides), choices)
    return Path(run_dir)


def start_training(run_dir: Path, *overrides: str) -> str:
    """What train.py answers a start with, in-process: Hydra's composition error, our one `error:` line, or
    'started' (training then runs to its end)."""
    from agents.checkpoint import CheckpointError
    from agents.trainer import train

    choices: dict = {}
    try:
        cfg = compose_train("progress=false", *overrides, choices=choices)
    except Exception as err:  # Hydra's own message and its causes, as train.py prints them
        lines = []
        while err is not None:
            lines.append(str(err))
            err = err.__cause__
        return "\n".join(lines)
    try:
        train(cfg, Path(run_dir), list(overrides), choices)
    except (ValueError, FileNotFoundError, CheckpointError) as err:
        return f"error: {err}"
    return "started"


TINY_QUAD = ("total_timesteps=1536", "num_envs=32", "algo.hyperparams.batch_size=256", "eval_every=0",
             "checkpoint_every=0", "env.sim.episode_length_s=2.0", "walk_check_episodes=0")  # fmt: skip


@pytest.fixture(scope="session")
def exported(tmp_path_factory) -> tuple[Path, Path, str]:
    """A small trained policy exported by export.py itself (the export smoke test): (run, bundle, stdout).
    Session-wide: export and deploy tests share it, and none may change it (they copy it first)."""
    root = tmp_path_factory.mktemp("export")
    run_dir = train_in_process(root / "run", "total_timesteps=2048", "num_envs=32", "algo.hyperparams.batch_size=256",
                               "eval_every=0", "checkpoint_every=0")  # fmt: skip
    bundle = root / "bundle"
    result = run_script("export.py", f"policy={run_dir}", "device=orin_nx", f"out={bundle}", "closed_loop_episodes=10",
                        f"hydra.run.dir={root / 'export_run'}")  # fmt: skip
    rejected = json.loads((bundle / "manifest.json").read_text())["rejected"]
    assert result.returncode == (1 if rejected else 0), result.stderr  # exit 1 exactly when an artifact is rejected
    assert ("error: rejected in closed loop" in result.stderr) == bool(rejected)
    return run_dir, bundle, result.stdout
