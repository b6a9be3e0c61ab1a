"""The training log's environment statistics: per-term episode rewards and curriculum state from the env's infos."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from stable_baselines3.common.logger import Logger

from agents.callbacks import EnvStatsCallback


def test_env_stats_log_terrain_levels_and_each_curriculum_value():
    callback = EnvStatsCallback()
    callback.model = SimpleNamespace(logger=Logger(folder=None, output_formats=[]), num_timesteps=0)
    ended = [{"episode_terms": {"track": 1.0}, "terrain_level": 2, "curriculum": {"push_velocity": 0.5}},
             {"episode_terms": {"track": 3.0}, "terrain_level": 4, "curriculum": {"push_velocity": 0.6}},
             {}]  # fmt: skip
    callback.locals = {"infos": ended}
    callback.on_step()
    callback.on_rollout_end()
    logged = callback.logger.name_to_value
    assert logged["reward/track"] == pytest.approx(2.0)
    assert logged["curriculum/terrain_level"] == pytest.approx(3.0)
    assert logged["curriculum/push_velocity"] == pytest.approx(0.6)  # the latest finished episode's speed


def test_env_stats_tell_the_task_how_far_training_has_come_through_the_normalizer():
    from stable_baselines3.common.vec_env import VecNormalize

    import envs

    venv = VecNormalize(envs.make_vec("LocoForge/QuadrupedFlat-v0", num_envs=2, seed=0))
    callback = EnvStatsCallback()
    model = SimpleNamespace(logger=Logger(folder=None, output_formats=[]), num_timesteps=123_456, get_env=lambda: venv)
    callback.init_callback(model)
    assert venv.venv.task.training_steps == 0
    callback.on_rollout_start()
    assert venv.venv.task.training_steps == 123_456  # a resumed run's restored count reaches the task too
