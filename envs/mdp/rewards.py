"""Reward terms: (state, **params) -> (n,). Penalties return positive magnitudes; weights live in config."""

from __future__ import annotations

import functools

import numpy as np

from envs.mdp.state import State, norm


def track_lin_vel_xy_exp(s: State, sigma: float = 0.25) -> np.ndarray:
    """exp(-|v_xy - command_xy|^2 / sigma): 1 when the planar velocity matches the command."""
    error = np.sum(np.square(s.command[:, :2] - s.base_lin_vel[:, :2]), axis=1)
    return np.exp(-error / sigma)


def track_ang_vel_z_exp(s: State, sigma: float = 0.25) -> np.ndarray:
    """exp(-(w_z - command_yaw)^2 / sigma)."""
    return np.exp(-np.square(s.command[:, 2] - s.base_ang_vel[:, 2]) / sigma)


def lin_vel_z_l2(s: State) -> np.ndarray:
    """Vertical base velocity squared."""
    return np.square(s.base_lin_vel[:, 2])


def ang_vel_xy_l2(s: State) -> np.ndarray:
    """Roll and pitch rates squared."""
    return np.sum(np.square(s.base_ang_vel[:, :2]), axis=1)


def flat_orientation_l2(s: State) -> np.ndarray:
    """Tilt: the planar part of projected gravity, squared."""
    return np.sum(np.square(s.projected_gravity[:, :2]), axis=1)


def base_height_l2(s: State, target: float | None = None) -> np.ndarray:
    """Squared deviation of the base height from a target (m); the robot's nominal height by default."""
    return np.square(s.base_height - (s.nominal_height if target is None else target))


def torques_l2(s: State) -> np.ndarray:
    """Sum of squared motor torques, as on the task's reference robot (env.reference_robot): a robot with twice
    its torque limits that uses twice the torque pays the same."""
    return np.sum(np.square(s.torque), axis=1) * s.torque_scale


def joint_acc_l2(s: State) -> np.ndarray:
    """Sum of squared joint accelerations."""
    return np.sum(np.square(s.joint_acc), axis=1)


def action_rate_l2(s: State) -> np.ndarray:
    """Change of action between steps, squared: smoothness."""
    return np.sum(np.square(s.action - s.action_before), axis=1)


def joint_pos_limits(s: State, soft_ratio: float = 0.95) -> np.ndarray:
    """How far joints go past a soft share of their range (rad)."""
    center = s.joint_range.mean(axis=1)
    half = 0.5 * (s.joint_range[:, 1] - s.joint_range[:, 0]) * soft_ratio
    below = np.maximum((center - half) - s.joint_pos, 0.0)
    above = np.maximum(s.joint_pos - (center + half), 0.0)
    return np.sum(below + above, axis=1)


def torque_saturation(s: State, ratio: float = 0.95) -> np.ndarray:
    """Number of motors at more than ratio of their torque limit."""
    return np.sum(np.abs(s.torque) > ratio * s.torque_limit, axis=1).astype(np.float64)


class FeetAirTime:
    """Reward steps: at each touchdown, the air time beyond a threshold (s); only while commanded to move.

    Stateful: it keeps each foot's time in the air since its last contact (reset with the episode).
    """

    def __init__(self, probe: State, threshold: float = 0.3, command_min: float = 0.1) -> None:
        self.threshold, self.command_min = threshold, command_min
        self.air_time = np.zeros(probe.feet_contact.shape)
        self.last_contact = np.zeros(probe.feet_contact.shape, dtype=bool)

    def reset(self, ids: np.ndarray) -> None:
        self.air_time[ids] = 0.0
        self.last_contact[ids] = False

    def __call__(self, s: State) -> np.ndarray:
        # a contact seen at this step or the last one counts: a single contact step can be missed at 50 Hz
        touching = s.feet_contact | self.last_contact
        self.last_contact = s.feet_contact.copy()
        first_contact = (self.air_time > 0) & touching
        self.air_time += s.dt
        gain = np.sum((self.air_time - self.threshold) * first_contact, axis=1)
        self.air_time *= ~touching
        return gain * _moving(s, self.command_min)


def _moving(s: State, command_min: float) -> np.ndarray:
    """Whether each environment is commanded to move; kept on the state, as several terms ask it each step."""
    cache = s.__dict__.setdefault("_moving", {})
    moving = cache.get(command_min)
    if moving is None:
        c = s.command
        moving = cache[command_min] = norm(c[:, :2], 1) + np.abs(c[:, 2]) > command_min
    return moving


@functools.cache
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n, k=1)


def _need_feet(s: State, at_least: int = 1) -> None:
    if s.feet_pos.shape[1] < at_least:
        raise ValueError(f"needs at least {at_least} feet in robot.feet; the robot has {s.feet_pos.shape[1]}")


class SingleStanceAirTime:
    """Bipeds: while exactly one foot is on the ground, the shortest current air or contact time of the feet,
    capped at `threshold` (s); rewards alternating steps of a useful length. Only while commanded to move."""

    def __init__(self, probe: State, threshold: float = 0.4, command_min: float = 0.1) -> None:
        _need_feet(probe, 2)
        self.threshold, self.command_min = threshold, command_min
        self.air = np.zeros(probe.feet_contact.shape)
        self.contact = np.zeros(probe.feet_contact.shape)

    def reset(self, ids: np.ndarray) -> None:
        self.air[ids] = 0.0
        self.contact[ids] = 0.0

    def __call__(self, s: State) -> np.ndarray:
        touching = s.feet_contact
        self.contact = np.where(touching, self.contact + s.dt, 0.0)
        self.air = np.where(touching, 0.0, self.air + s.dt)
        single = touching.sum(axis=1) == 1
        time = np.where(touching, self.contact, self.air).min(axis=1)
        return np.minimum(time, self.threshold) * single * _moving(s, self.command_min)


def feet_slip(s: State) -> np.ndarray:
    """Planar speed squared of the feet on the ground (m^2/s^2): a planted foot should not slide."""
    return np.sum(np.sum(np.square(s.feet_vel[:, :, :2]), axis=2) * s.feet_contact, axis=1)


def feet_clearance(s: State, height: float = 0.08, command_min: float = 0.1) -> np.ndarray:
    """Swing feet below `height` (m) above the ground, weighted by their planar speed: lift the feet while
    stepping (legged_gym's swing-height term). Only while commanded to move."""
    _need_feet(s)
    below = np.square(np.maximum(height - s.feet_height, 0.0))
    speed = norm(s.feet_vel[:, :, :2], 2)
    return np.sum(below * speed * ~s.feet_contact, axis=1) * _moving(s, command_min)


def feet_distance(s: State, minimum: float = 0.15) -> np.ndarray:
    """How much closer than `minimum` (m) any two feet come in the ground plane: no crossed legs."""
    _need_feet(s, 2)
    xy = s.feet_pos[:, :, :2]
    i, j = _pairs(xy.shape[1])
    gap = norm(xy[:, i] - xy[:, j], 2)
    return np.sum(np.maximum(minimum - gap, 0.0), axis=1)


def feet_flat(s: State) -> np.ndarray:
    """Tilt of the feet on the ground: the planar part of each planted foot's z axis, squared."""
    return np.sum(np.sum(np.square(s.feet_zaxis[:, :, :2]), axis=2) * s.feet_contact, axis=1)


class JointDeviationL1:
    """Distance of the joints whose names contain a match of `joints` (a regular expression, searched, so one
    pattern serves `left_hip_yaw` and `left_hip_yaw_joint`) from their default pose (rad): keeps hip yaw and
    roll, or ankles, near home while the other joints walk."""

    def __init__(self, probe: State, joints: str = ".*") -> None:
        import re

        pattern = re.compile(joints)
        self.mask = np.array([bool(pattern.search(n)) for n in probe.joint_names])
        if not self.mask.any():
            raise ValueError(f"joints: '{joints}' matches none of {', '.join(probe.joint_names)}")

    def reset(self, ids: np.ndarray) -> None:
        pass

    def __call__(self, s: State) -> np.ndarray:
        return np.sum(np.abs(s.joint_pos - s.default_joint_pos)[:, self.mask], axis=1)


class GaitContact:
    """Feet whose contact agrees with the gait clock (env.gait): on the ground in the first stance_share of
    their phase, in the air after it; both feet down when commanded to stand. Counts agreeing feet."""

    def __init__(self, probe: State, stance_share: float = 0.55, command_min: float = 0.1) -> None:
        if probe.gait_phase is None:
            raise ValueError("needs a gait clock: set env.gait (period_s, offsets)")
        if not 0.0 < stance_share < 1.0:
            raise ValueError(f"stance_share: must be in (0, 1), got {stance_share}")
        self.stance_share, self.command_min = stance_share, command_min

    def reset(self, ids: np.ndarray) -> None:
        pass

    def __call__(self, s: State) -> np.ndarray:
        stance = (s.gait_phase < self.stance_share) | ~_moving(s, self.command_min)[:, None]
        return np.sum(stance == s.feet_contact, axis=1).astype(np.float64)


def feet_swing_height(s: State, height: float = 0.08, stance_share: float = 0.55, sigma: float = 0.01,
                      command_min: float = 0.1) -> np.ndarray:  # fmt: skip
    """exp(-sum of squared foot height errors / sigma) against the gait clock's swing arc: 0 in the first
    stance_share of each foot's phase, a half sine of `height` (m) after it; all feet down when commanded to
    stand. A dense signal to step, also in place (turning, side steps), where contact terms are sparse."""
    if s.gait_phase is None:
        raise ValueError("needs a gait clock: set env.gait (period_s, offsets)")
    if not 0.0 < stance_share < 1.0 or height <= 0 or sigma <= 0:
        raise ValueError(f"stance_share in (0, 1), height > 0 and sigma > 0 required, got {stance_share}, {height}, "
                         f"{sigma}")  # fmt: skip
    swing = np.clip((s.gait_phase - stance_share) / (1.0 - stance_share), 0.0, 1.0)
    target = height * np.sin(np.pi * swing) * _moving(s, command_min)[:, None]
    return np.exp(-np.sum(np.square(s.feet_height - target), axis=1) / sigma)


def stand_still(s: State, command_min: float = 0.1) -> np.ndarray:
    """Joint deviation from the default pose while commanded to stand still (rad)."""
    standing = norm(s.command, 1) < command_min
    return np.sum(np.abs(s.joint_pos - s.default_joint_pos), axis=1) * standing


def base_contact(s: State) -> np.ndarray:
    """1 while the base touches anything."""
    return s.base_contact.astype(np.float64)


def termination(s: State) -> np.ndarray:
    """1 on a step that ends the episode by failure (not by the time limit)."""
    return s.terminated.astype(np.float64)


def alive(s: State) -> np.ndarray:
    """1 for each step survived."""
    return np.ones(s.num_envs)
