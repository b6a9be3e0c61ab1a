"""Observation terms: (state, **params) -> (n, k). Scales, noise and clips are applied by the manager."""

from __future__ import annotations

import numpy as np

from envs.mdp.state import State


def base_lin_vel(s: State) -> np.ndarray:
    """Base linear velocity in the base frame (m/s); privileged: most robots cannot measure it."""
    return s.base_lin_vel


def base_ang_vel(s: State) -> np.ndarray:
    """Base angular velocity in the base frame (rad/s), as the IMU's gyro reads it."""
    return s.base_ang_vel


def projected_gravity(s: State) -> np.ndarray:
    """Unit gravity vector in the base frame: (0, 0, -1) when level."""
    return s.projected_gravity


def velocity_command(s: State) -> np.ndarray:
    """Commanded vx, vy (m/s) and yaw rate (rad/s)."""
    return s.command


def joint_pos_rel(s: State) -> np.ndarray:
    """Joint positions minus the default standing pose (rad), policy order."""
    return s.joint_pos - s.default_joint_pos


def joint_vel(s: State) -> np.ndarray:
    """Joint velocities (rad/s), policy order."""
    return s.joint_vel


def previous_action(s: State) -> np.ndarray:
    """The policy's previous output: the action applied during the step just simulated (0 after a reset)."""
    return s.action


def base_height(s: State) -> np.ndarray:
    """Base height above the ground beneath it (m); privileged."""
    return s.base_height[:, None]


def feet_contact(s: State) -> np.ndarray:
    """1 for each foot on the ground; privileged."""
    return s.feet_contact.astype(np.float64)


UNITS = {
    "base_lin_vel": "m/s",
    "base_ang_vel": "rad/s",
    "projected_gravity": "1",
    "velocity_command": "m/s, m/s, rad/s",
    "joint_pos_rel": "rad",
    "joint_vel": "rad/s",
    "previous_action": "1",
    "base_height": "m",
    "feet_contact": "1",
}
