"""The batched state every term reads: one row per environment, all arrays NumPy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class State:
    """A snapshot of all environments; observation terms get a delayed one, rewards the current one."""

    base_pos: np.ndarray  # (n, 3) world
    base_quat: np.ndarray  # (n, 4) w, x, y, z
    base_lin_vel: np.ndarray  # (n, 3) base frame (velocimeter)
    base_ang_vel: np.ndarray  # (n, 3) base frame (gyro)
    projected_gravity: np.ndarray  # (n, 3) unit gravity in the base frame
    base_height: np.ndarray  # (n,) above the ground under the base
    joint_pos: np.ndarray  # (n, nj) policy order
    joint_vel: np.ndarray  # (n, nj)
    joint_acc: np.ndarray  # (n, nj) finite difference over one policy step
    torque: np.ndarray  # (n, nj) motor torque after clipping
    default_joint_pos: np.ndarray  # (nj,)
    nominal_height: float  # robot config: base height when standing (m)
    min_base_height: float  # robot config: a base lower than this has fallen (m)
    joint_range: np.ndarray  # (nj, 2)
    torque_limit: np.ndarray  # (n, nj) limits in force for each environment
    command: np.ndarray  # (n, 3) vx, vy, yaw rate
    action: np.ndarray  # (n, nj) the policy's latest action
    action_before: np.ndarray  # (n, nj) the action of the step before
    feet_contact: np.ndarray  # (n, nf) bool
    feet_pos: np.ndarray  # (n, nf, 3) world position of each foot's element (geom, site or body)
    feet_vel: np.ndarray  # (n, nf, 3) world linear velocity of each foot's element
    feet_zaxis: np.ndarray  # (n, nf, 3) each foot element's z axis in the world: (0, 0, 1) when flat
    feet_height: np.ndarray  # (n, nf) foot element above the ground under it (m)
    base_contact: np.ndarray  # (n,) bool: the base touches something
    terminated: np.ndarray  # (n,) bool, set before rewards are computed
    dt: float  # policy dt (s)
    joint_names: list[str]  # policy order: terms select joints by name pattern
    gait_phase: np.ndarray | None  # (n, nf) each foot's gait clock phase in [0, 1); None without env.gait
    ground: Callable[[np.ndarray], np.ndarray] | None = None  # world xy (m, 2) -> ground height (m,), exact
    torque_scale: float = 1.0  # torque penalties' factor: (reference robot's RMS torque limit / this robot's)^2

    @property
    def num_envs(self) -> int:
        return self.base_pos.shape[0]


class LazyState(State):
    """A State whose derived fields are computed the first time a term reads them, then kept: the delayed
    observation and a reset's rows pay only for the fields their terms read (the rewards read most of them).

    `given` are the fields known up front; `derive(state, name)` computes any other field from what the
    caller captured when it built the state, so a later read gives what an eager one would have."""

    def __init__(self, derive: Callable[[LazyState, str], Any], **given: Any) -> None:
        self.__dict__.update(given)
        self.__dict__["_derive"] = derive

    def __getattr__(self, name: str) -> Any:
        # only reached for attributes not yet in the instance: compute, keep, return
        derive = self.__dict__.get("_derive")
        if derive is None or name.startswith("__"):
            raise AttributeError(name)
        value = derive(self, name)
        self.__dict__[name] = value
        return value


def norm(x: np.ndarray, axis: int) -> np.ndarray:
    """Euclidean norm along `axis`: np.linalg.norm's arithmetic without its checks (terms call it every step)."""
    return np.sqrt(np.add.reduce(x * x, axis=axis))


def unit_quat(quat: np.ndarray) -> np.ndarray:
    """(n, 4) quaternions scaled to unit length."""
    return quat / norm(quat, 1)[:, None]


def projected_gravity(quat: np.ndarray) -> np.ndarray:
    """Unit gravity (0, 0, -1) seen in the frames of unit quaternions (n, 4) [w, x, y, z]: minus the last
    row of each rotation matrix (closed form, no cross products: this runs every step)."""
    w, x, y, z = quat[:, 0], quat[:, 1], quat[:, 2], quat[:, 3]
    out = np.empty((len(quat), 3))
    out[:, 0] = 2.0 * (w * y - x * z)
    out[:, 1] = -2.0 * (y * z + w * x)
    out[:, 2] = 2.0 * (x * x + y * y) - 1.0
    return out


def quat_yaw(quat: np.ndarray) -> np.ndarray:
    """Heading (rad) of (n, 4) [w, x, y, z] orientations: the rotation about world z."""
    w, x, y, z = quat.T
    return np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
