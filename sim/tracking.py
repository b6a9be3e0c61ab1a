"""How well a trained quadruped policy tracks random velocity commands in its own training conditions."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.policy import SB3Policy


@dataclass
class TrackingResult:
    episodes: int
    fall_free_share: float
    vx_rmse: float
    vy_rmse: float
    yaw_rmse: float
    mean_speed_command: float


def track_velocity(run_dir: Path, episodes: int = 128, episode_s: float = 10.0, warmup_s: float = 1.0,
                   seed: int = 12345) -> TrackingResult:  # fmt: skip
    """One episode per environment with the run's commands and randomization; RMSE of the base-frame
    velocity against the command after warm-up, and the share of episodes without a fall."""
    from agents.trainer import task_parts
    from envs.task import LocomotionTask

    policy = SB3Policy(Path(run_dir))
    parts = task_parts(policy.cfg)
    parts["env"].sim = dataclasses.replace(parts["env"].sim, episode_length_s=episode_s)
    task = LocomotionTask(**parts, num_envs=episodes, seed=seed)
    obs = task.reset()
    alive = np.ones(episodes, dtype=bool)
    fell = np.zeros(episodes, dtype=bool)
    errors = []
    warmup = int(round(warmup_s / task.dt))
    for step in range(task.max_episode_steps):
        command = task.command.copy()
        result = task.step(np.asarray(policy(obs["policy"] if isinstance(obs, dict) else obs), dtype=np.float64))
        s = task.last_state
        if step >= warmup:
            err = np.concatenate(
                [command[:, :2] - s.base_lin_vel[:, :2], command[:, 2:] - s.base_ang_vel[:, 2:]], axis=1
            )
            errors.append(err[alive])
        fell |= alive & result.terminated
        alive &= ~(result.terminated | result.truncated)
        obs = result.obs
    rmse = np.sqrt(np.mean(np.square(np.concatenate(errors)), axis=0))
    return TrackingResult(episodes, float(1.0 - fell.mean()), float(rmse[0]), float(rmse[1]), float(rmse[2]),
                          float(np.mean(np.linalg.norm(task.command[:, :2], axis=1))))  # fmt: skip
