"""The task's State derives its fields on first read: the same values as reading them at once, whatever the
task did in between, and no work for fields no term reads."""

from __future__ import annotations

import dataclasses

import numpy as np

import envs
from envs.mdp.state import LazyState

FIELDS = [f.name for f in dataclasses.fields(LazyState)]


def _stepped(env_id: str, n: int = 16, steps: int = 5):
    venv = envs.make_vec(env_id, num_envs=n, seed=3)
    venv.reset()
    rng = np.random.default_rng(0)
    for _ in range(steps):
        venv.step(np.clip(rng.normal(0, 0.5, (n, venv.task.scene.num_joints)), -1, 1))
    return venv, rng


def test_fields_read_late_equal_fields_read_at_once():
    venv, rng = _stepped("LocoForge/BipedFlat-v0")
    task = venv.task
    rows = task.sim.rows()
    task.joint_vel_prev = task.joint_vel_prev - 1.0  # as if the joints had sped up by 1 rad/s over the step
    now = task._state(*rows, terminated=np.zeros(task.num_envs, dtype=bool))
    late = task._state(*rows, terminated=np.zeros(task.num_envs, dtype=bool))
    at_once = {name: np.array(getattr(now, name)) for name in FIELDS if not callable(getattr(now, name))}
    assert not np.all(at_once["joint_acc"] == 0.0) and at_once["gait_phase"].shape == (task.num_envs, 2)
    # the task moves on: episode steps, previous joint velocities, commands, resets of every simulation
    for _ in range(3):
        venv.step(np.clip(rng.normal(0, 0.5, (task.num_envs, task.scene.num_joints)), -1, 1))
    task._reset_envs(np.arange(task.num_envs))
    for name in ("joint_acc", "gait_phase", "joint_pos", "joint_vel", "base_quat", "projected_gravity", "feet_pos",
                 "feet_height", "feet_contact", "base_height"):  # fmt: skip
        np.testing.assert_array_equal(getattr(late, name), at_once[name], err_msg=name)


def test_only_the_fields_read_are_computed():
    venv, _ = _stepped("LocoForge/QuadrupedFlat-v0")
    task = venv.task
    s = task._state(*task.sim.rows(), terminated=np.zeros(task.num_envs, dtype=bool))
    task.obs_manager.compute(s, None, 0.0)  # the blind policy's terms: IMU, command, joints, action
    assert "joint_pos" in vars(s) and "projected_gravity" in vars(s)
    assert not {"feet_height", "feet_contact", "torque_limit", "joint_acc"} & set(vars(s))
    assert s.feet_height.shape == (task.num_envs, 4) and "feet_height" in vars(s)


def test_unknown_field_is_an_attribute_error():
    venv, _ = _stepped("LocoForge/QuadrupedFlat-v0", steps=0)
    s = venv.task._state(*venv.task.sim.rows(), terminated=np.zeros(venv.task.num_envs, dtype=bool))
    assert not hasattr(s, "feet_temperature")
