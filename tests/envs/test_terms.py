"""Reward and termination terms on small synthetic states: signs and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from envs.config import ReferenceRobotConfig
from envs.mdp import rewards, terminations
from envs.mdp.state import State
from envs.task import robot_scales


def make_state(n: int = 2, **fields) -> State:
    nj, nf = 12, 4
    base = dict(
        base_pos=np.zeros((n, 3)), base_quat=np.tile([1.0, 0, 0, 0], (n, 1)), base_lin_vel=np.zeros((n, 3)),
        base_ang_vel=np.zeros((n, 3)), projected_gravity=np.tile([0, 0, -1.0], (n, 1)), base_height=np.full(n, 0.28),
        joint_pos=np.zeros((n, nj)), joint_vel=np.zeros((n, nj)), joint_acc=np.zeros((n, nj)), torque=np.zeros((n, nj)),
        default_joint_pos=np.zeros(nj), nominal_height=0.28, min_base_height=0.12, joint_range=np.tile([-1.0, 1.0], (nj, 1)), torque_limit=np.full((n, nj), 20.0),
        command=np.zeros((n, 3)), action=np.zeros((n, nj)), action_before=np.zeros((n, nj)),
        feet_contact=np.ones((n, nf), dtype=bool), base_contact=np.zeros(n, dtype=bool),
        feet_pos=np.zeros((n, nf, 3)), feet_vel=np.zeros((n, nf, 3)), feet_zaxis=np.tile([0, 0, 1.0], (n, nf, 1)),
        feet_height=np.zeros((n, nf)), terminated=np.zeros(n, dtype=bool), dt=0.02,
        joint_names=[f"j{i}" for i in range(nj)], gait_phase=None,
    )  # fmt: skip
    base.update(fields)
    return State(**base)


def test_tracking_is_one_on_target_and_decays_with_error():
    s = make_state(command=np.array([[1.0, 0, 0], [1.0, 0, 0]]), base_lin_vel=np.array([[1.0, 0, 0], [0.5, 0, 0]]))
    r = rewards.track_lin_vel_xy_exp(s, sigma=0.25)
    assert r[0] == pytest.approx(1.0) and r[1] == pytest.approx(np.exp(-0.25 / 0.25))
    s = make_state(command=np.array([[0, 0, 1.0], [0, 0, 1.0]]), base_ang_vel=np.array([[0, 0, 1.0], [0, 0, 0.0]]))
    r = rewards.track_ang_vel_z_exp(s)
    assert r[0] == pytest.approx(1.0) and r[1] == pytest.approx(np.exp(-4.0))


@pytest.mark.parametrize("term,field,value", [
    ("lin_vel_z_l2", "base_lin_vel", [0, 0, 0.5]),
    ("ang_vel_xy_l2", "base_ang_vel", [0.3, 0.4, 0]),
    ("flat_orientation_l2", "projected_gravity", [0.6, 0, -0.8]),
])  # fmt: skip
def test_penalties_are_zero_at_rest_and_positive_otherwise(term, field, value):
    fn = getattr(rewards, term)
    assert fn(make_state(n=1))[0] == 0.0
    assert fn(make_state(n=1, **{field: np.array([value])}))[0] > 0.0


def test_magnitude_penalties_match_hand_computed_values():
    s = make_state(n=1, torque=np.full((1, 12), 2.0), action=np.full((1, 12), 0.5), action_before=np.zeros((1, 12)),
                   joint_acc=np.full((1, 12), 10.0))  # fmt: skip
    assert rewards.torques_l2(s)[0] == pytest.approx(48.0)
    assert rewards.action_rate_l2(s)[0] == pytest.approx(3.0)
    assert rewards.joint_acc_l2(s)[0] == pytest.approx(1200.0)
    limits = make_state(n=1, joint_pos=np.array([[1.0] + [0.0] * 11]))
    assert rewards.joint_pos_limits(limits, soft_ratio=0.9)[0] == pytest.approx(0.1)


def test_torque_penalty_is_counted_as_on_the_reference_robot():
    """A robot with twice the reference's torque limits that uses twice the torque pays the same (scale 1/4, from
    robot_scales); the reference robot itself gets exactly 1, so its training is unchanged bit for bit."""
    ref = ReferenceRobotConfig(mass=12.0, torque_limit_rms=float(np.sqrt(1250.0)))
    limits = np.array([30.0, 40.0] * 6)
    assert robot_scales(ref, 12.0, limits) == (1.0, 1.0)
    assert robot_scales(ref, 24.0, 2.0 * limits) == (2.0, 0.25)
    assert robot_scales(None, 24.0, 2.0 * limits) == (1.0, 1.0)
    tau = np.array([np.linspace(-10.0, 10.0, 12)])
    small = make_state(n=1, torque=tau)
    large = make_state(n=1, torque=2.0 * tau, torque_scale=robot_scales(ref, 24.0, 2.0 * limits)[1])
    assert rewards.torques_l2(large)[0] == pytest.approx(rewards.torques_l2(small)[0])
    assert rewards.torques_l2(small)[0] == pytest.approx(float(np.sum(tau**2)))


def test_feet_air_time_rewards_long_steps_only_when_moving():
    term = rewards.FeetAirTime(make_state(), threshold=0.3)
    command = np.array([[1.0, 0, 0], [0, 0, 0]])  # env 0 walks, env 1 stands
    feet = np.zeros((2, 4), dtype=bool)
    feet[:, 1:] = True
    values = []
    # foot 0: down at step 0, up from step 1, down again at step 26: 0.5 s counted in the air at 50 Hz
    for step in range(27):
        feet[:, 0] = step in (0, 26)
        values.append(term(make_state(feet_contact=feet.copy(), command=command)))
    values = np.array(values)
    assert values[-1, 0] == pytest.approx(0.5 - 0.3) and values[-1, 1] == 0.0
    assert np.all(values[:-1] == 0.0), "only a touchdown earns reward"
    term.reset(np.array([0]))
    assert term.air_time[0].sum() == 0.0 and not term.last_contact[0].any()


def test_stand_still_only_penalizes_without_command():
    s = make_state(joint_pos=np.full((2, 12), 0.1), command=np.array([[0, 0, 0], [0.5, 0, 0]]))
    r = rewards.stand_still(s)
    assert r[0] == pytest.approx(1.2) and r[1] == 0.0


def test_terminations():
    tilted = make_state(n=2, projected_gravity=np.array([[0, 0, -1.0], [np.sin(1.2), 0, -np.cos(1.2)]]))
    assert terminations.bad_orientation(tilted, limit_angle=1.0).tolist() == [False, True]
    low = make_state(n=2, base_height=np.array([0.3, 0.05]))
    assert terminations.base_height_below(low, minimum=0.12).tolist() == [False, True]
    hit = make_state(n=2, base_contact=np.array([False, True]))
    assert terminations.base_contact(hit).tolist() == [False, True]


def quat_rotate_inverse(quat: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """Reference: world vectors (n, 3) rotated into the frames of unit quaternions (n, 4) [w, x, y, z]."""
    w, u = quat[:, :1], quat[:, 1:]
    t = 2.0 * np.cross(u, vec)
    return vec - w * t + np.cross(u, t)


def test_the_reference_rotation_is_right():
    # a world x-axis vector seen from a frame yawed by +90 degrees points along -y
    q90 = np.array([[np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)]])
    np.testing.assert_allclose(quat_rotate_inverse(q90, np.array([[1.0, 0, 0]])), [[0, -1, 0]], atol=1e-12)


def test_reward_manager_applies_weight_and_dt_once():
    from envs.config import RewardTermConfig
    from envs.managers import RewardManager

    manager = RewardManager(
        {"alive": RewardTermConfig(weight=2.0), "termination": RewardTermConfig(weight=-5.0)},
        "env.rewards",
        make_state(),
    )
    total, parts = manager.compute(make_state(n=2, terminated=np.array([False, True])))
    assert total.tolist() == pytest.approx([2.0 * 0.02, 2.0 * 0.02 - 5.0 * 0.02])
    assert set(parts) == {"alive", "termination"}


def test_closed_form_projected_gravity_matches_the_rotation():
    from envs.mdp.state import projected_gravity

    quat = np.random.default_rng(0).normal(size=(50, 4))
    quat /= np.linalg.norm(quat, axis=1, keepdims=True)
    np.testing.assert_allclose(
        projected_gravity(quat), quat_rotate_inverse(quat, np.tile([0, 0, -1.0], (50, 1))), atol=1e-12
    )


def test_reward_floor_clips_the_penalties_but_not_the_termination():
    from envs.config import RewardTermConfig
    from envs.managers import RewardManager

    s = make_state(action=np.ones((2, 12)), terminated=np.array([False, True]))
    cfg = {"action_rate_l2": RewardTermConfig(weight=-1.0), "alive": RewardTermConfig(weight=2.0),
           "termination": RewardTermConfig(weight=-10.0)}  # fmt: skip
    plain, parts = RewardManager(cfg, "env.rewards", s).compute(s)
    # 12 x 1^2 action change x -1 + 2 alive, x dt; termination -10 x dt on the second
    assert plain == pytest.approx([(-12 + 2) * 0.02, (-12 + 2 - 10) * 0.02])
    floored, same = RewardManager(cfg, "env.rewards", s, floor=0.0).compute(s)
    assert floored == pytest.approx([0.0, -10 * 0.02])  # penalties clipped at 0, then the termination
    assert all(np.array_equal(parts[k], same[k]) for k in parts)  # the logged terms are the unclipped ones
