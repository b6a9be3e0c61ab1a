"""Gymnasium ids, both env checkers, make_vec, and the one-line errors of bad robot/task configs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from envs import task_config
from envs.task import LocomotionTask


@pytest.mark.parametrize("env_id,obs_dim", [("LocoForge/QuadrupedFlat-v0", 45), ("LocoForge/QuadrupedRough-v0", 45),
                                            ("LocoForge/QuadrupedRoughScan-v0", 45 + 17 * 11), ("LocoForge/BipedFlat-v0", 47)])  # fmt: skip
def test_gym_ids_pass_both_checkers(env_id, obs_dim):
    assert set(envs.TASKS) == {"LocoForge/QuadrupedFlat-v0", "LocoForge/QuadrupedRough-v0",
                               "LocoForge/QuadrupedRoughScan-v0", "LocoForge/BipedFlat-v0"}  # fmt: skip
    env = gym.make(env_id)
    gym_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(gym.make(env_id).unwrapped, warn=True)
    obs, _ = env.reset(seed=1)
    assert set(obs) == {"policy", "critic"} and obs["policy"].shape == (obs_dim,)


def test_make_vec_returns_a_batched_vecenv():
    from stable_baselines3.common.vec_env import VecEnv

    venv = envs.make_vec("LocoForge/QuadrupedFlat-v0", num_envs=3, seed=0, randomization="none")
    assert isinstance(venv, VecEnv) and venv.num_envs == 3
    obs = venv.reset()
    obs, reward, done, infos = venv.step(np.zeros((3, 12)))
    assert obs["policy"].shape == (3, 45) and reward.shape == (3,) and len(infos) == 3


def _task(**robot_changes):
    cfgs = task_config("quadruped_flat", randomization="none")
    for key, value in robot_changes.items():
        setattr(cfgs.robot, key, value)
    return LocomotionTask(cfgs, num_envs=1, nthread=1)


@pytest.mark.parametrize("change,message", [
    ({"joints": ["FR_hip_joint", "NO_SUCH_joint"]}, "robot.joints: 'NO_SUCH_joint' is not a joint of quadruped.xml"),
    ({"base_body": "torso"}, "robot.base_body: 'torso' is not a body of quadruped.xml"),
    ({"feet": ["FR_foot", "paw"]}, "robot.feet: 'paw' is neither a geom, a site nor a body of quadruped.xml"),
    ({"mjcf": "missing_robot.xml"}, "robot.mjcf: 'missing_robot.xml' not found"),
    ({"kp": {".*_hip_joint": 30.0}}, "robot.kp: joint 'FR_thigh_joint' matches no pattern"),
])  # fmt: skip
def test_bad_robot_config_fails_at_start_with_one_line(change, message):
    with pytest.raises((ValueError, FileNotFoundError)) as err:
        _task(**change)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_negative_range_and_unknown_reward_term_fail_at_start():
    with pytest.raises(ValueError, match=r"env.events.physics.params.friction: \[1.2, 0.4\] is not a range"):
        LocomotionTask(
            task_config("quadruped_flat", events={"physics": {"params": {"friction": [1.2, 0.4]}}}), num_envs=1
        )
    with pytest.raises(ValueError, match=r"env.events.physics.params.motor_strength: \[-0.5, 1.0\] is not a range"):
        LocomotionTask(task_config("quadruped_flat", events={"physics": {"params": {"motor_strength": [-0.5, 1.0]}}}),
                       num_envs=1)  # fmt: skip
    cfgs = task_config("quadruped_flat")
    from envs.config import RewardTermConfig

    cfgs.env.rewards["track_lin_vel_xyz"] = RewardTermConfig(weight=1.0)
    with pytest.raises(
        ValueError, match="env.rewards: unknown term 'track_lin_vel_xyz'; accepted: .*track_lin_vel_xy_exp"
    ):
        LocomotionTask(cfgs, num_envs=1)
    cfgs = task_config("quadruped_flat")
    cfgs.env.rewards["track_lin_vel_xy_exp"].params = {"sigmaa": 0.2}
    with pytest.raises(ValueError, match="track_lin_vel_xy_exp.params: .*accepted: \\['sigma'\\]"):
        LocomotionTask(cfgs, num_envs=1)
