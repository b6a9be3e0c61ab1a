"""How well a locomotion policy tracks random velocity commands in its own training conditions: the walking
check that train.py logs at its end and bench/quadruped_walk.py and bench/time_to_walk.py print."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from envs.config import TaskConfig
from envs.rollout import check_obs_size, rollout
from envs.task import LocomotionTask

# vx and vy RMSE (m/s) at most, share of 10-s episodes without a fall at least
WALK_TARGETS = {"vx_rmse": 0.25, "vy_rmse": 0.25, "fall_free_share": 0.95}


@dataclass
class TrackingResult:
    episodes: int
    fall_free_share: float
    vx_rmse: float
    vy_rmse: float
    yaw_rmse: float
    mean_speed_command: float

    @property
    def walks(self) -> bool:
        """Meets WALK_TARGETS."""
        return (self.vx_rmse <= WALK_TARGETS["vx_rmse"] and self.vy_rmse <= WALK_TARGETS["vy_rmse"]
                and self.fall_free_share >= WALK_TARGETS["fall_free_share"])  # fmt: skip

    def line(self) -> str:
        """One log line: the figures and the verdict."""
        return (f"vx RMSE {self.vx_rmse:.3f}  vy RMSE {self.vy_rmse:.3f}  yaw RMSE {self.yaw_rmse:.3f}  "
                f"fall-free {self.fall_free_share:.1%} of {self.episodes}  -> {'WALKS' if self.walks else 'NOT YET'} "
                f"(targets: vx, vy RMSE <= 0.25 m/s, >= 95% fall-free)")  # fmt: skip


def _check_task(cfg: TaskConfig, episode_s: float, velocity_params: dict) -> TaskConfig:
    """The task config of a check: its episode length and the velocity command's parameters replaced."""
    velocity = dataclasses.replace(cfg.env.commands["velocity"], params=velocity_params)
    sim = dataclasses.replace(cfg.env.sim, episode_length_s=episode_s)
    env = dataclasses.replace(cfg.env, sim=sim, commands={**cfg.env.commands, "velocity": velocity})
    return dataclasses.replace(cfg, env=env)


def track_velocity(policy: Callable[[np.ndarray], np.ndarray], cfg: TaskConfig, episodes: int = 128,
                   episode_s: float = 10.0, warmup_s: float = 1.0, seed: int = 12345) -> TrackingResult:  # fmt: skip
    """One episode per environment with the task's commands and randomization; RMSE of the base-frame
    velocity against the command after warm-up, and the share of episodes without a fall.

    `policy` maps raw actor observations (n, obs_dim) to actions and has an `obs_dim` attribute."""
    # every component drawn from its whole range, whatever training practised
    params = {k: v for k, v in cfg.env.commands["velocity"].params.items() if k != "zero_share"}
    task = LocomotionTask(_check_task(cfg, episode_s, params), num_envs=episodes, seed=seed)
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


# Fixed commands a walking policy must hold (issue 9): vx, vy (m/s), yaw rate (rad/s)
FIXED_COMMANDS = {"forward 0.5": (0.5, 0.0, 0.0), "forward 1.0": (1.0, 0.0, 0.0), "lateral 0.4": (0.0, 0.4, 0.0),
                  "turn 0.8": (0.0, 0.0, 0.8), "stand": (0.0, 0.0, 0.0)}  # fmt: skip
HOLD_TOLERANCE = 0.1


@dataclass
class HoldResult:
    name: str
    command: list[float]
    measured: list[float]
    """Mean vx, vy (base frame) and yaw rate over the last seconds of the episodes that did not fall."""
    falls: int
    episodes: int

    @property
    def holds(self) -> bool:
        """Within HOLD_TOLERANCE of the command on every component, and no fall."""
        return self.falls == 0 and bool(np.all(np.abs(np.subtract(self.measured, self.command)) <= HOLD_TOLERANCE))

    def line(self) -> str:
        got = ", ".join(f"{m:+.2f}" for m in self.measured)
        return (f"{self.name:14} command ({', '.join(f'{c:+.2f}' for c in self.command)})  measured ({got})  "
                f"falls {self.falls}/{self.episodes}  -> {'OK' if self.holds else 'OFF'}")  # fmt: skip


def hold_commands(policy: Callable[[np.ndarray], np.ndarray], cfg: TaskConfig, episodes: int = 16,
                  episode_s: float = 10.0, last_s: float = 5.0, seed: int = 12345,
                  commands: dict[str, tuple[float, float, float]] | None = None) -> list[HoldResult]:  # fmt: skip
    """Each fixed command (FIXED_COMMANDS by default) held for whole episodes in the task's randomization: the
    mean velocity over the last `last_s` seconds against the command, and the falls."""
    commands = FIXED_COMMANDS if commands is None else commands
    names = list(commands)
    fixed = [list(commands[n]) for n in names]
    n = episodes * len(names)
    params = {**cfg.env.commands["velocity"].params, "fixed": fixed}
    task = LocomotionTask(_check_task(cfg, episode_s, params), num_envs=n, seed=seed)
    check_obs_size(policy, task)
    alive, fell = np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
    total, count = np.zeros((n, 3)), np.zeros(n)
    start = task.max_episode_steps - int(round(last_s / task.dt))
    for step in rollout(policy, task, task.max_episode_steps):
        s = step.state
        if step.index >= start:
            total[alive] += np.concatenate([s.base_lin_vel[:, :2], s.base_ang_vel[:, 2:]], axis=1)[alive]
            count[alive] += 1
        fell |= alive & step.result.terminated
        alive &= ~(step.result.terminated | step.result.truncated)
    which = np.arange(n) % len(names)
    results = []
    for k, name in enumerate(names):
        mine = (which == k) & ~fell
        measured = (total[mine].sum(axis=0) / max(count[mine].sum(), 1)).tolist()
        results.append(HoldResult(name, fixed[k], measured, int(fell[which == k].sum()), episodes))
    return results
