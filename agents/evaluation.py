"""Load a trained run and measure how well its quadruped policy tracks velocity commands."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf
from stable_baselines3.common.vec_env import VecNormalize

from agents import algos, checkpoint
from agents.config import load_saved
from agents.rundir import is_run_dir
from agents.trainer import task_parts


@dataclass
class TrackingResult:
    episodes: int
    fall_free_share: float
    vx_rmse: float
    vy_rmse: float
    yaw_rmse: float
    mean_speed_command: float


def load_run(run_dir: Path, n_envs: int, seed: int, **cfg_overrides):
    """The run's model and a fresh normalized batched env built from its saved config (with overrides)."""
    run_dir = Path(run_dir)
    if not is_run_dir(run_dir):
        raise ValueError(f"policy: '{run_dir}' is not a run directory (needs run.json and config.yaml)")
    cfg = load_saved(run_dir / "config.yaml")
    for key, value in cfg_overrides.items():
        OmegaConf.update(cfg, key, value, merge=True)
    from envs.task import LocomotionTask
    from envs.vec_env import BatchedVecEnv

    venv = BatchedVecEnv(LocomotionTask(**task_parts(cfg), num_envs=n_envs, seed=seed))
    # the final model, or the newest checkpoint of a run still training
    source = run_dir if (run_dir / "model.zip").is_file() else checkpoint.latest(run_dir)
    if source is None:
        raise ValueError(f"policy: '{run_dir}' has neither model.zip nor a complete checkpoint")
    if (source / "vecnormalize.pkl").is_file():
        venv = VecNormalize.load(str(source / "vecnormalize.pkl"), venv)
        venv.training, venv.norm_reward = False, False
    model = algos.ALGOS[cfg.algo.name].load(source / "model.zip", device="cpu")
    return model, venv, cfg


def track_velocity(run_dir: Path, episodes: int = 128, episode_s: float = 10.0, warmup_s: float = 1.0,
                   seed: int = 12345, randomization: str | None = None) -> TrackingResult:  # fmt: skip
    """Run one episode per environment; RMSE of base-frame velocity against the command after warm-up."""
    overrides = {"env.sim.episode_length_s": episode_s}
    if randomization is not None:
        from envs import presets

        overrides["randomization"] = OmegaConf.structured(presets.load("randomization", randomization))
    model, venv, _ = load_run(run_dir, episodes, seed, **overrides)
    task = venv.unwrapped.task if hasattr(venv, "unwrapped") else venv.task
    obs = venv.reset()
    alive = np.ones(episodes, dtype=bool)
    fell = np.zeros(episodes, dtype=bool)
    errors = []
    warmup = int(round(warmup_s / task.dt))
    for step in range(task.max_episode_steps):
        command = task.command.copy()
        actions, _ = model.predict(obs, deterministic=True)
        obs, _, dones, _ = venv.step(actions)
        s = task.last_state
        if step >= warmup:
            err = np.concatenate(
                [command[:, :2] - s.base_lin_vel[:, :2], command[:, 2:] - s.base_ang_vel[:, 2:]], axis=1
            )
            errors.append(err[alive])
        fell |= alive & s.terminated
        alive &= ~dones
    err = np.concatenate(errors)
    rmse = np.sqrt(np.mean(np.square(err), axis=0))
    return TrackingResult(episodes, float(1.0 - fell.mean()), float(rmse[0]), float(rmse[1]), float(rmse[2]),
                          float(np.mean(np.linalg.norm(task.command[:, :2], axis=1))))  # fmt: skip
