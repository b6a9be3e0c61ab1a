"""LocoForge environments: the batched locomotion task, its Gymnasium ids, `task_config` and `make_vec`.

Importing `envs` registers `LocoForge/QuadrupedFlat-v0`, `LocoForge/QuadrupedRough-v0`,
`LocoForge/QuadrupedRoughScan-v0` (a perceptive actor) and `LocoForge/BipedFlat-v0`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from common.gl import headless_default
from envs.config import EnvConfig, RobotConfig, TaskConfig, TerrainConfig
from envs.presets import task_config

headless_default()  # Gymnasium's render checks and our renderers need a GL backend on a machine without a display

# gym id -> env preset (the preset's defaults list picks its terrain)
TASKS = {
    "LocoForge/QuadrupedFlat-v0": "quadruped_flat",
    "LocoForge/QuadrupedRough-v0": "quadruped_rough",
    "LocoForge/QuadrupedRoughScan-v0": "quadruped_rough_scan",
    "LocoForge/BipedFlat-v0": "biped_flat",
}


def _preset(name: str) -> str:
    if name not in TASKS:
        raise ValueError(f"env: unknown LocoForge task '{name}'; accepted: {', '.join(TASKS)}")
    return TASKS[name]


def make_vec(name: str, num_envs: int, seed: int = 0, **overrides: Any):
    """The batched SB3 VecEnv of a LocoForge task id: all environments stepped by one mujoco.batch.

    Overrides as `task_config`'s (`robot="quadruped_large"`, `randomization="none"`, `events={...}`, a YAML
    file's path, `sim={"decimation": 10}`, ...), plus `nthread`.
    """
    from envs.task import LocomotionTask
    from envs.vec_env import BatchedVecEnv

    nthread = overrides.pop("nthread", None)
    cfg = task_config(_preset(name), **overrides)
    return BatchedVecEnv(LocomotionTask(cfg, num_envs=num_envs, seed=seed, nthread=nthread))


def _make_gym(name: str):
    def factory(render_mode: str | None = None, **overrides: Any):
        from envs.gym_env import LocomotionEnv

        return LocomotionEnv(task_config(_preset(name), **overrides), render_mode=render_mode)

    return factory


for _id in TASKS:
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_make_gym(_id), max_episode_steps=None)

__all__ = ["EnvConfig", "RobotConfig", "TaskConfig", "TerrainConfig", "TASKS", "make_vec",
           "task_config"]  # fmt: skip
