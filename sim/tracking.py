"""How well a trained locomotion policy tracks random velocity commands in its own training conditions."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from envs import task_config
from envs.task import LocomotionTask
from sim.policy import Policy, load_policy
from sim.rollout import check_obs_size, rollout


@dataclass
class TrackingResult:
    episodes: int
    fall_free_share: float
    vx_rmse: float
    vy_rmse: float
    yaw_rmse: float
    mean_speed_command: float


def track_velocity(policy: str | Path | Policy, episodes: int = 128, episode_s: float = 10.0, warmup_s: float = 1.0,
                   seed: int = 12345) -> TrackingResult:  # fmt: skip
    """One episode per environment with the run's commands and randomization; RMSE of the base-frame
    velocity against the command after warm-up, and the share of episodes without a fall."""
    policy = load_policy(policy) if isinstance(policy, (str, Path)) else policy
    cfg = task_config(policy.cfg)
    cfg.env.sim = dataclasses.replace(cfg.env.sim, episode_length_s=episode_s)
    task = LocomotionTask(cfg, num_envs=episodes, seed=seed)
    check_obs_size(policy, task)
    alive = np.ones(episodes, dtype=bool)
    fell = np.zeros(episodes, dtype=bool)
    errors, speeds = [], []
    warmup = int(round(warmup_s / task.dt))
    for step in rollout(policy, task, task.max_episode_steps):
        s, command = step.state, step.command
        if step.index >= warmup:
            err = np.concatenate(
                [command[:, :2] - s.base_lin_vel[:, :2], command[:, 2:] - s.base_ang_vel[:, 2:]], axis=1
            )
            errors.append(err[alive])
            speeds.append(np.linalg.norm(command[alive, :2], axis=1))
        fell |= alive & step.result.terminated
        alive &= ~(step.result.terminated | step.result.truncated)
    rmse = np.sqrt(np.mean(np.square(np.concatenate(errors)), axis=0))
    return TrackingResult(episodes, float(1.0 - fell.mean()), float(rmse[0]), float(rmse[1]), float(rmse[2]),
                          float(np.mean(np.concatenate(speeds))))  # fmt: skip
