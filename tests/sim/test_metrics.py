"""Metric functions and gates against hand-computed values on synthetic trajectories."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim import metrics as M
from sim.gates import parse

ALIVE = np.ones((4, 2), dtype=bool)


def test_tracking_rmse_and_fall_rate():
    command = np.full((4, 2), 1.0)
    measured = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    assert M.tracking_rmse(command, measured, ALIVE) == pytest.approx(math.sqrt(0.5))
    mask = ALIVE.copy()
    mask[:, 1] = False
    assert M.tracking_rmse(command, measured, mask) == 0.0
    assert M.fall_rate(np.array([True, False, False, False])) == 0.25


def test_speed_ratio_tells_standing_from_overshooting():
    command = np.zeros((4, 3, 2))
    command[:, 0] = [0.5, 0.0]  # forward: walks at 0.6, overshooting
    command[:, 1] = [0.0, -0.4]  # right: stands still for two steps, then walks at 0.4
    command[:, 2] = [0.05, 0.0]  # below min_speed: a standing command, not counted
    measured = np.zeros((4, 3, 2))
    measured[:, 0] = [0.6, 0.1]  # sideways drift does not count as progress
    measured[2:, 1] = [0.0, -0.4]
    measured[:, 2] = [5.0, 0.0]
    alive = np.ones((4, 3), dtype=bool)
    assert M.speed_ratio(command, measured, alive) == pytest.approx((4 * 0.6 + 2 * 0.4) / (4 * 0.5 + 4 * 0.4))
    assert M.speed_ratio(command[:, 1:2], measured[:, 1:2], alive[:, 1:2]) == pytest.approx(0.5)
    assert M.speed_ratio(-command[:, 1:2], measured[:, 1:2], alive[:, 1:2]) == pytest.approx(-0.5)  # the wrong way
    assert math.isnan(M.speed_ratio(command[:, 2:], measured[:, 2:], alive[:, 2:]))
    early = alive.copy()
    early[2:] = False  # the masked steps are the walking ones: column 1 only stood
    assert M.speed_ratio(command[:, 1:2], measured[:, 1:2], early[:, 1:2]) == 0.0


def test_episode_length_and_return():
    alive = np.array([[1, 1], [1, 1], [1, 0], [0, 0]], dtype=bool)
    assert M.mean_episode_length(alive, dt=0.02) == pytest.approx(2.5 * 0.02)
    reward = np.ones((4, 2))
    assert M.episode_return(reward, alive) == pytest.approx(2.5)


def test_cost_of_transport():
    torque = np.full((10, 1, 2), 2.0)
    joint_vel = np.full((10, 1, 2), -3.0)  # |2 * -3| * 2 joints = 12 W
    alive = np.ones((10, 1), dtype=bool)
    # 12 W * 10 steps * 0.1 s = 12 J over 10 kg * 9.81 * 2 m
    assert M.cost_of_transport(torque, joint_vel, np.array([2.0]), 10.0, 0.1, alive) == pytest.approx(
        12.0 / (10 * 9.81 * 2)
    )
    assert math.isnan(M.cost_of_transport(torque, joint_vel, np.array([0.1]), 10.0, 0.1, alive))
    # each episode's own mass (a payload scenario), only over the episodes that moved
    three = (np.repeat(torque, 3, axis=1), np.repeat(joint_vel, 3, axis=1), np.ones((10, 3), dtype=bool))
    cot = M.cost_of_transport(
        three[0], three[1], np.array([2.0, 0.1, 4.0]), np.array([10.0, 99.0, 12.0]), 0.1, three[2]
    )
    assert cot == pytest.approx((12.0 / (10 * 9.81 * 2) + 12.0 / (12 * 9.81 * 4)) / 2)


def test_saturation_limits_smoothness_and_slip():
    torque = np.array([[[10.0, 1.0]], [[-10.0, 1.0]]])
    assert M.torque_saturation(torque, np.array([[10.0, 10.0]]), np.ones((2, 1), dtype=bool)) == 0.5
    qpos = np.array([[[0.99, 0.0]], [[0.0, 0.0]], [[-0.995, 0.0]]])
    rng = np.array([[-1.0, 1.0], [-1.0, 1.0]])
    assert M.joint_limit_hits(qpos, rng, np.ones((3, 1), dtype=bool)) == 2.0
    actions = np.array([[[0.0, 0.0]], [[1.0, 1.0]], [[1.0, 1.0]]])
    assert M.action_rate(actions, np.ones((3, 1), dtype=bool)) == pytest.approx(1.0)
    feet = np.zeros((3, 1, 2, 2))
    feet[1, 0, 0] = [0.01, 0.0]  # foot 0 slides 1 cm in 0.02 s while planted
    feet[2, 0, 0] = [0.01, 0.0]
    contact = np.ones((3, 1, 2), dtype=bool)
    assert M.foot_slip(feet, contact, np.ones((3, 1), dtype=bool), 0.02) == pytest.approx((0.5 + 0 + 0 + 0) / 4)


def test_gates_parse_and_check():
    metrics, scenarios = ["fall_rate", "vx_rmse"], ["nominal", "payload"]
    gate = parse("fall_rate<=0.05", metrics, scenarios)
    assert gate.check(0.05) and not gate.check(0.06) and not gate.check(float("nan"))
    scoped = parse("payload.vx_rmse < 0.3", metrics, scenarios)
    assert scoped.scenario == "payload" and scoped.op == "<" and str(scoped) == "payload.vx_rmse<0.3"
    for bad, message in [("fall_rate=<0.05", "is not a gate"), ("speed<=1", "unknown metric 'speed'"),
                         ("moon.fall_rate<=1", "unknown scenario 'moon'"), ("fall_rate<=abc", "'abc' in 'fall_rate<=abc' is not a number")]:  # fmt: skip
        with pytest.raises(ValueError, match=message):
            parse(bad, metrics, scenarios)
