"""Reward terms: (state, **params) -> (n,). Penalties return positive magnitudes; weights live in config."""

from __future__ import annotations

import numpy as np

from envs.mdp.state import State


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
    """Sum of squared motor torques."""
    return np.sum(np.square(s.torque), axis=1)


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
    below = np.clip((center - half) - s.joint_pos, 0.0, None)
    above = np.clip(s.joint_pos - (center + half), 0.0, None)
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
        moving = np.linalg.norm(s.command[:, :2], axis=1) + np.abs(s.command[:, 2]) > self.command_min
        return gain * moving


def stand_still(s: State, command_min: float = 0.1) -> np.ndarray:
    """Joint deviation from the default pose while commanded to stand still (rad)."""
    standing = np.linalg.norm(s.command, axis=1) < command_min
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
