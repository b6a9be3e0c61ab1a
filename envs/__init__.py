"""LocoForge environments: the batched quadruped task, its Gymnasium ids, and `make_vec`.

Importing `envs` registers `LocoForge/QuadrupedFlat-v0` and `LocoForge/QuadrupedRough-v0`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from omegaconf import OmegaConf

from envs import presets
from envs.config import EnvConfig, RandomizationConfig, RobotConfig, TerrainConfig

# gym id -> (env preset, terrain preset)
TASKS = {
    "LocoForge/QuadrupedFlat-v0": ("quadruped_flat", "flat"),
    "LocoForge/QuadrupedRough-v0": ("quadruped_rough", "rough"),
}


def task_configs(name: str, **overrides: Any) -> dict[str, Any]:
    """The env, robot, randomization and terrain configs of a task id, with overrides applied.

    Overrides: `robot`, `randomization`, `terrain` (a dataclass, preset name or dict) and any EnvConfig
    field (`sim`, `commands`, `rewards`, ...).
    """
    if name not in TASKS:
        raise ValueError(f"env: unknown LocoForge task '{name}'; accepted: {', '.join(TASKS)}")
    env_preset, terrain_preset = TASKS[name]
    env = overrides.pop("env", None) or presets.load("env", env_preset)
    env = presets.coerce(env, EnvConfig, "env")
    robot = presets.coerce(overrides.pop("robot", "quadruped"), RobotConfig, "robot")
    randomization = presets.coerce(overrides.pop("randomization", "standard"), RandomizationConfig, "randomization")
    terrain = presets.coerce(overrides.pop("terrain", terrain_preset), TerrainConfig, "terrain")
    for key in overrides:
        if key not in EnvConfig.__dataclass_fields__:
            raise ValueError(f"make_vec: unknown override '{key}'; accepted: robot, randomization, terrain, "
                             f"{', '.join(EnvConfig.__dataclass_fields__)}")  # fmt: skip
    if overrides:
        # merged through the schema: a partial dict (sim={"decimation": 10}) keeps the other fields
        env = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(env), OmegaConf.create(overrides)))
    return {"env": env, "robot": robot, "randomization": randomization, "terrain": terrain}


def make_vec(name: str, n_envs: int, seed: int = 0, **overrides: Any):
    """The batched SB3 VecEnv of a LocoForge task: all environments stepped by one mujoco.batch."""
    from envs.task import LocomotionTask
    from envs.vec_env import BatchedVecEnv

    nthread = overrides.pop("nthread", None)
    cfgs = task_configs(name, **overrides)
    return BatchedVecEnv(LocomotionTask(**cfgs, num_envs=n_envs, seed=seed, nthread=nthread))


def _make_gym(name: str):
    def factory(render_mode: str | None = None, **overrides: Any):
        from envs.gym_env import LocomotionEnv

        return LocomotionEnv(**task_configs(name, **overrides), render_mode=render_mode)

    return factory


for _id in TASKS:
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_make_gym(_id), max_episode_steps=None)

__all__ = ["EnvConfig", "RandomizationConfig", "RobotConfig", "TerrainConfig", "TASKS", "make_vec", "task_configs"]
