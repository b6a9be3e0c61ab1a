"""Observation terms: (state, **params) -> (n, k). Scales, noise and clips are applied by the manager."""

from __future__ import annotations

import functools

import numpy as np

from envs.mdp.state import State, quat_yaw


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


def gait_clock(s: State) -> np.ndarray:
    """sin and cos of the first foot's gait phase (env.gait); the other feet keep their offsets to it."""
    if s.gait_phase is None:
        raise ValueError("needs a gait clock: set env.gait (period_s, offsets)")
    angle = 2.0 * np.pi * s.gait_phase[:, 0]
    return np.stack([np.sin(angle), np.cos(angle)], axis=1)


def scan_points(size: list[float], resolution: float) -> np.ndarray:
    """The scan grid in the base's heading frame, (k, 2): x (forward) outer, y (left) inner, both ascending,
    centred on the base. Read-only: built once per layout (height_scan asks for it every step)."""
    return _scan_points(tuple(float(v) for v in size), float(resolution))


@functools.lru_cache(maxsize=16)
def _scan_points(size: tuple[float, ...], resolution: float) -> np.ndarray:
    xs = np.arange(-size[0] / 2, size[0] / 2 + 1e-9, resolution)
    ys = np.arange(-size[1] / 2, size[1] / 2 + 1e-9, resolution)
    points = np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1).reshape(-1, 2)
    points.setflags(write=False)
    return points


def height_scan(s: State, size: list[float] = (1.6, 1.0), resolution: float = 0.1) -> np.ndarray:
    """Base height above the ground at a grid of points around it, (n, k) in m: the ground exactly as MuJoCo
    collides with it (the terrain's heightfield lookup), the grid turning with the base's heading only. The
    critic's privileged view of the terrain; with noise, a perceptive actor's (the robot feeds its own map)."""
    if s.ground is None:
        raise ValueError("needs the terrain's height lookup (State.ground)")
    points = scan_points(size, resolution)
    yaw = quat_yaw(s.base_quat)
    c, si = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    x = s.base_pos[:, :1] + c * points[:, 0] - si * points[:, 1]
    y = s.base_pos[:, 1:2] + si * points[:, 0] + c * points[:, 1]
    heights = s.ground(np.stack([x.ravel(), y.ravel()], axis=1)).reshape(x.shape)
    return s.base_pos[:, 2:3] - heights


CONVENTIONS = {
    "base_lin_vel": "IMU velocimeter: base linear velocity in the IMU frame (x forward, y left, z up), read one "
    "physics step before the joint readings",
    "base_ang_vel": "IMU gyro: base angular velocity in the IMU frame (x forward, y left, z up), right-handed; read "
    "one physics step (physics_dt) before the joint readings, as MuJoCo's sensors are",
    "projected_gravity": "unit gravity vector in the base frame: (0, 0, -1) when level, x > 0 when pitched nose-down",
    "velocity_command": "vx forward and vy left in the base's heading frame (m/s); yaw rate about world z, "
    "counter-clockwise positive (rad/s)",
    "joint_pos_rel": "joint angle minus default_joint_pos (rad), robot.joint_names order, MJCF joint axis signs",
    "joint_vel": "joint velocity (rad/s), robot.joint_names order, MJCF joint axis signs",
    "previous_action": "the policy's own previous output (before scaling); zeros at the first step of an episode",
    "base_height": "base height above the ground under it (m)",
    "feet_contact": "1 for each foot in contact, robot.feet order",
    "height_scan": "base z minus ground z (m) at grid points around the base in its heading frame (yaw only): x "
    "forward from -size[0]/2 to size[0]/2 outer, y left from -size[1]/2 to size[1]/2 inner, every resolution m "
    "(params); the robot's own elevation map sampled there",
    "gait_clock": "[sin 2 pi phase, cos 2 pi phase] with phase = (t / gait.period_s + gait.offsets[0]) mod 1 and t "
    "the policy's own time: policy steps since it started (0 at its first step) x policy_dt; see manifest.gait",
}
"""How a robot computes each term: frames, signs and start values (the manifest states these)."""

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
    "gait_clock": "1",
    "height_scan": "m",
}
