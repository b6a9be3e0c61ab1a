"""The height scan: exact ground heights (as MuJoCo's own ray casts find them) at a grid that turns with the
base's heading, for the critic and, with noise, a perceptive actor whose manifest states the grid."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from envs import task_config
from envs.mdp.observations import height_scan, scan_points
from envs.task import LocomotionTask


@pytest.fixture(scope="module")
def rough() -> LocomotionTask:
    task = LocomotionTask(task_config("quadruped_rough", randomization="none", terrain={"start_level": 6}),
                          num_envs=6, seed=0, nthread=1)  # fmt: skip
    task.reset()
    for _ in range(5):
        task.step(np.zeros((6, 12)))
    return task


def test_the_scan_is_the_ground_mujoco_ray_casts_find(rough):
    s, model = rough.last_state, rough.model
    scan = height_scan(s, size=[1.6, 1.0], resolution=0.1)
    points = scan_points([1.6, 1.0], 0.1)
    assert scan.shape == (6, 17 * 11) and points.shape == (187, 2) and np.ptp(scan) > 0.02  # not flat ground
    data = mujoco.MjData(model)
    data.qpos[2] = -10.0  # the robot out of the rays' way
    mujoco.mj_forward(model, data)
    for i in range(6):
        w, x, y, z = s.base_quat[i]
        yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
        rot = np.array([[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]])
        for k in range(0, 187, 11):
            xy = s.base_pos[i, :2] + rot @ points[k]
            dist = mujoco.mj_ray(model, data, np.array([*xy, 5.0]), np.array([0, 0, -1.0]), None, 1, -1,
                                 np.zeros(1, np.int32))  # fmt: skip
            assert scan[i, k] == pytest.approx(s.base_pos[i, 2] - (5.0 - dist), abs=1e-6)


def test_on_flat_ground_the_scan_is_the_base_height_and_the_grid_is_x_major():
    task = LocomotionTask(task_config("quadruped_flat", randomization="none"), num_envs=2, nthread=1)
    task.reset()
    s = task._state(*task.sim.rows(), terminated=np.zeros(2, dtype=bool))
    np.testing.assert_allclose(height_scan(s), np.repeat(s.base_pos[:, 2:3], 187, axis=1))
    points = scan_points([0.4, 0.2], 0.2)
    np.testing.assert_allclose(points, [[-0.2, -0.1], [-0.2, 0.1], [0.0, -0.1], [0.0, 0.1], [0.2, -0.1], [0.2, 0.1]])


def test_a_perceptive_actor_states_its_scan_in_the_contract():
    scan = {"noise": 0.05, "clip": 1.0, "params": {"size": [0.8, 0.4], "resolution": 0.2}}
    cfg = task_config("quadruped_rough", randomization="none", observations={"height_scan": scan})
    task = LocomotionTask(cfg, num_envs=1, nthread=1)
    term = next(t for t in task.observation_schema() if t["name"] == "height_scan")
    assert term["size"] == 5 * 3 and term["params"] == {"size": [0.8, 0.4], "resolution": 0.2}
    assert "heading frame" in term["convention"] and term["units"] == "m"
    critic = [t for t in task.critic_manager.schema() if t["name"] == "height_scan"]
    assert critic and critic[0]["size"] == 187  # the rough preset's privileged critic scan
