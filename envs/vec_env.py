"""An SB3 VecEnv over the batched task: one object, all environments, no subprocesses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn

from envs.task import LocomotionTask


def spaces_of(task: LocomotionTask) -> tuple[gym.Space, gym.spaces.Box]:
    """Observation and action spaces of a task (a Dict of policy/critic when the critic is privileged)."""
    policy = gym.spaces.Box(-np.inf, np.inf, shape=(task.obs_manager.dim,), dtype=np.float32)
    if task.critic_manager is None:
        obs_space: gym.Space = policy
    else:
        critic = gym.spaces.Box(-np.inf, np.inf, shape=(task.critic_manager.dim,), dtype=np.float32)
        obs_space = gym.spaces.Dict({"policy": policy, "critic": critic})
    clip = task.cfg.action_clip
    action_space = gym.spaces.Box(-clip, clip, shape=(task.scene.num_joints,), dtype=np.float32)
    return obs_space, action_space


class BatchedVecEnv(VecEnv):
    """Steps every environment through one mujoco.batch call; resets automatically as SB3 expects."""

    def __init__(self, task: LocomotionTask) -> None:
        self.task = task
        obs_space, action_space = spaces_of(task)
        super().__init__(task.num_envs, obs_space, action_space)
        self._actions: np.ndarray | None = None

    def reset(self) -> Any:
        seed = self._seeds[0] if self._seeds and self._seeds[0] is not None else None
        if seed is not None:
            self.task.seed(seed)
        self._reset_seeds()
        return self.task.reset()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        result = self.task.step(self._actions)
        dones = result.terminated | result.truncated
        if dones.any():
            for row, i in enumerate(np.flatnonzero(dones)):
                info = result.infos[i]
                info["TimeLimit.truncated"] = bool(result.truncated[i] and not result.terminated[i])
                info["terminal_observation"] = (
                    {k: v[row] for k, v in result.terminal_obs.items()}
                    if isinstance(result.terminal_obs, dict)
                    else result.terminal_obs[row]
                )
        return result.obs, result.reward.astype(np.float32), dones, result.infos

    def close(self) -> None:
        pass

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        value = getattr(self.task, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.task, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        result = getattr(self.task, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None for _ in range(self.num_envs)]
