"""Single-environment Gymnasium view of the task (the same task code with one simulation)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from envs.config import TaskConfig
from envs.task import LocomotionTask
from envs.vec_env import spaces_of


class LocomotionEnv(gym.Env):
    """`LocoForge/Quadruped*-v0`: one quadruped, velocity commands, Gymnasium API."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, cfg: TaskConfig, render_mode: str | None = None, width: int = 480, height: int = 360) -> None:
        self.task = LocomotionTask(cfg, num_envs=1, autoreset=False, nthread=1)
        self.observation_space, self.action_space = spaces_of(self.task)
        self.metadata = {**self.metadata, "render_fps": int(round(1.0 / self.task.dt))}
        self.render_mode = render_mode
        self._size = (height, width)
        self._renderer = None

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        if seed is not None:
            self.task.seed(seed)
        obs = self.task.reset()
        return self._row(obs), {}

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict]:
        result = self.task.step(np.asarray(action)[None])
        return (self._row(result.obs), float(result.reward[0]), bool(result.terminated[0]),
                bool(result.truncated[0]), result.infos[0])  # fmt: skip

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        from envs.render import TaskRenderer

        if self._renderer is None:
            self._renderer = TaskRenderer(self.task, *self._size)
        return self._renderer.render(0)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    @staticmethod
    def _row(obs: Any) -> Any:
        if isinstance(obs, dict):
            return {k: v[0] for k, v in obs.items()}
        return obs[0]
