"""Command terms: what the robot is asked to do, drawn per environment and resampled on its own timer.

A command term is a class built once as `cls(task, **params)`; it holds `value` (n, k), draws new values for
environments that reset (`reset(ids)`) and for running ones whose timer ran out (`step(running)`).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import numpy as np

from envs.mdp.ranges import check_range
from envs.mdp.state import quat_yaw


class VelocityCommand:
    """Base velocity (vx, vy in m/s, yaw rate in rad/s) in the heading frame; a share of commands stand still."""

    size = 3

    def __init__(self, task: Any, vx: list[float] = (-1.0, 1.0), vy: list[float] = (-1.0, 1.0),
                 yaw_rate: list[float] = (-1.0, 1.0), resample_s: list[float] = (5.0, 10.0), standing_share: float = 0.1,
                 zero_share: list[float] | None = None, heading_share: float = 0.0, heading_stiffness: float = 0.5,
                 fixed: list[list[float]] | None = None, script: list[list[float]] | None = None) -> None:  # fmt: skip
        """Args:
        vx, vy, yaw_rate: [low, high] of each component.
        resample_s: each environment draws the time to its next command from this range (s).
        standing_share: share of commands that are exactly zero.
        zero_share: per component (vx, vy, yaw rate), the share of draws where it alone is zero, so that pure
            forward, sideways and turning commands are practised (MuJoCo Playground's joystick does the same).
        heading_share: share of moving commands that hold a random world heading instead of a yaw rate: the
            yaw rate is heading_stiffness x the heading error, within yaw_rate (Isaac Lab's heading command).
            Robots then walk straight lines, which a terrain curriculum judged by distance walked needs.
        fixed: evaluation commands: environment i always gets fixed[i % len(fixed)], never resampled.
        script: an operator's script for every environment: [seconds, vx, vy, yaw_rate] segments in episode
            time, the last held after the script ends (the deploy suite flies the same script on the stand-in).
        """
        where = "env.commands.velocity.params"
        for name, value in (("vx", vx), ("vy", vy), ("yaw_rate", yaw_rate)):
            check_range(f"{where}.{name}", list(value), non_negative=False)
        check_range(f"{where}.resample_s", list(resample_s), non_negative=True)
        if not 0.0 <= standing_share <= 1.0:
            raise ValueError(f"{where}.standing_share: must be in [0, 1], got {standing_share}")
        if zero_share is not None and (len(zero_share) != 3 or not all(0.0 <= z <= 1.0 for z in zero_share)):
            raise ValueError(f"{where}.zero_share: three shares in [0, 1] (vx, vy, yaw_rate), got {zero_share}")
        if not 0.0 <= heading_share <= 1.0 or heading_stiffness <= 0:
            raise ValueError(f"{where}: heading_share in [0, 1] and heading_stiffness > 0 required, got "
                             f"{heading_share}, {heading_stiffness}")  # fmt: skip
        self.zero_share = None if zero_share is None else np.asarray(zero_share, dtype=np.float64)
        self.heading_share, self.heading_stiffness = heading_share, heading_stiffness
        self.heading = np.full(task.num_envs, np.nan)
        """Target world heading (rad) of each environment; NaN: a yaw-rate command."""
        self.task = task
        self.low = np.array([vx[0], vy[0], yaw_rate[0]], dtype=np.float64)
        self.high = np.array([vx[1], vy[1], yaw_rate[1]], dtype=np.float64)
        self.resample_s = list(resample_s)
        self.standing_share = standing_share
        self.fixed = None if fixed is None else np.asarray(fixed, dtype=np.float64).reshape(-1, 3)
        self.script = None
        if script is not None:
            rows = np.asarray(script, dtype=np.float64)
            if rows.ndim != 2 or rows.shape[1] != 4 or len(rows) == 0 or (rows[:, 0] <= 0).any():
                raise ValueError(f"{where}.script: [[seconds > 0, vx, vy, yaw_rate], ...], got {script}")
            self.script = (np.cumsum(rows[:, 0]), rows[:, 1:])
        self.value = np.zeros((task.num_envs, 3))
        self.timer = np.zeros(task.num_envs)

    @classmethod
    def ranges(cls, params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """The [low, high] of (vx, vy, yaw rate) a term built with `params` draws from (its defaults where absent)."""
        defaults = inspect.signature(cls).parameters
        ranges = np.array([params.get(k, defaults[k].default) for k in ("vx", "vy", "yaw_rate")], dtype=np.float64)
        return ranges[:, 0], ranges[:, 1]

    def segment_at(self, t: np.ndarray) -> np.ndarray:
        """The script's segment index at episode times t (s); times are rounded to 1 ns first, so that a
        boundary falls on the same policy step wherever the time was summed up."""
        ends = self.script[0]
        return np.minimum(np.searchsorted(ends, np.round(t, 9), side="right"), len(ends) - 1)

    def scripted(self, t: np.ndarray) -> np.ndarray:
        """The script's command at episode times t (s)."""
        return self.script[1][self.segment_at(t)]

    def _draw(self, ids: np.ndarray) -> None:
        rng, n = self.task.rng, len(ids)
        if self.script is not None or self.fixed is not None:
            scripted = self.script is not None
            self.value[ids] = self.scripted(np.zeros(n)) if scripted else self.fixed[ids % len(self.fixed)]
            self.timer[ids] = np.inf
            self.heading[ids] = np.nan
            return
        cmd = rng.uniform(self.low, self.high, size=(n, 3))
        if self.zero_share is not None:
            cmd[rng.random((n, 3)) < self.zero_share] = 0.0
        standing = rng.random(n) < self.standing_share
        cmd[standing] = 0.0
        self.value[ids] = cmd
        self.timer[ids] = rng.uniform(self.resample_s[0], self.resample_s[1], size=n)
        if self.heading_share > 0:  # no draws otherwise: yaw-rate tasks keep their random streams
            heading = (rng.random(n) < self.heading_share) & ~standing
            self.heading[ids] = np.where(heading, rng.uniform(-np.pi, np.pi, size=n), np.nan)
            self._steer(ids)

    def _steer(self, ids: np.ndarray) -> None:
        """The yaw rate of heading commands: proportional to the heading error, within the yaw-rate range."""
        ids = ids[~np.isnan(self.heading[ids])]
        if len(ids) == 0:
            return
        r = self.task.scene.root_qpos
        yaw = quat_yaw(self.task.qpos[ids, r + 3 : r + 7])
        error = np.mod(self.heading[ids] - yaw + np.pi, 2 * np.pi) - np.pi
        self.value[ids, 2] = np.clip(self.heading_stiffness * error, self.low[2], self.high[2])

    def hold(self, ids: np.ndarray, value: np.ndarray) -> None:
        """An operator's command (play, teleoperation) for simulations ids, held until set again."""
        self.value[ids] = value
        self.timer[ids] = np.inf
        self.heading[ids] = np.nan

    def reset(self, ids: np.ndarray) -> None:
        self._draw(ids)

    def step(self, running: np.ndarray) -> None:
        """Advance the timers one policy step; new commands for running environments whose timer ran out."""
        if self.script is not None:
            ids = np.flatnonzero(running)
            self.value[ids] = self.scripted(self.task.episode_step[ids] * self.task.dt)
            return
        self.timer -= self.task.dt
        due = np.flatnonzero((self.timer <= 0) & running)
        if len(due):
            self._draw(due)
        if self.heading_share > 0:
            self._steer(np.flatnonzero(running))


TERMS = {"velocity": VelocityCommand}
