"""Metric functions over recorded trajectories: arrays shaped (T, n, ...) with a (T, n) `alive` mask
that is True while the environment's first episode is running."""

from __future__ import annotations

import numpy as np

GRAVITY = 9.81


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> float:
    return float(values[mask].mean()) if mask.any() else float("nan")


def fall_rate(fell: np.ndarray) -> float:
    """Share of episodes that ended by a failure termination; fell: (n,) bool."""
    return float(np.mean(fell))


def mean_episode_length(alive: np.ndarray, dt: float) -> float:
    """Mean episode length (s)."""
    return float(alive.sum(axis=0).mean() * dt)


def tracking_rmse(command: np.ndarray, measured: np.ndarray, mask: np.ndarray) -> float:
    """Root-mean-square error between a commanded and a measured quantity, (T, n), over mask."""
    return float(np.sqrt(_masked_mean(np.square(command - measured), mask)))


def speed_ratio(command: np.ndarray, measured: np.ndarray, mask: np.ndarray, min_speed: float = 0.1) -> float:
    """Planar velocity along the commanded direction summed over mask ÷ the commanded speed summed there, (T, n, 2)
    arrays, counting only steps that command a motion (>= min_speed m/s): 1 on speed, 0 standing, above 1
    overshooting, which an RMSE alone does not tell apart. NaN without such steps."""
    speed = np.linalg.norm(command, axis=-1)
    moving = mask & (speed >= min_speed)
    if not moving.any():
        return float("nan")
    along = np.sum(measured[moving] * command[moving], axis=-1) / speed[moving]
    return float(along.sum() / speed[moving].sum())


def episode_return(reward: np.ndarray, alive: np.ndarray) -> float:
    """Mean over episodes of the summed reward."""
    return float((reward * alive).sum(axis=0).mean())


def cost_of_transport(torque: np.ndarray, joint_vel: np.ndarray, distance: np.ndarray, mass: float | np.ndarray,
                      dt: float, alive: np.ndarray, min_distance: float = 0.5) -> float:  # fmt: skip
    """Mechanical energy / (m g distance), per episode (mass: one value or each episode's own), averaged over
    episodes that moved at least min_distance (m); NaN when none did (standing still has no cost of transport)."""
    power = np.abs(torque * joint_vel).sum(axis=2) * alive
    energy = power.sum(axis=0) * dt
    moved = distance >= min_distance
    if not moved.any():
        return float("nan")
    mass = np.broadcast_to(np.asarray(mass, dtype=np.float64), distance.shape)
    return float(np.mean(energy[moved] / (mass[moved] * GRAVITY * distance[moved])))


def torque_saturation(torque: np.ndarray, limit: np.ndarray, alive: np.ndarray, ratio: float = 0.99) -> float:
    """Share of motor-steps at or above ratio of the torque limit."""
    saturated = np.abs(torque) >= ratio * limit
    return _masked_mean(saturated.mean(axis=2), alive)


def joint_limit_hits(joint_pos: np.ndarray, joint_range: np.ndarray, alive: np.ndarray, margin: float = 0.02) -> float:
    """Steps per episode with some joint within margin (rad) of its range's end."""
    near = (joint_pos <= joint_range[:, 0] + margin) | (joint_pos >= joint_range[:, 1] - margin)
    return float((near.any(axis=2) & alive).sum(axis=0).mean())


def action_rate(actions: np.ndarray, alive: np.ndarray) -> float:
    """Mean squared change of the action between consecutive steps (smoothness)."""
    change = np.square(np.diff(actions, axis=0)).sum(axis=2)
    return _masked_mean(change, alive[1:] & alive[:-1])


def foot_slip(feet_xy: np.ndarray, contact: np.ndarray, alive: np.ndarray, dt: float) -> float:
    """Mean planar speed (m/s) of feet that are in contact at two consecutive steps."""
    speed = np.linalg.norm(np.diff(feet_xy, axis=0), axis=3) / dt
    planted = contact[1:] & contact[:-1] & (alive[1:] & alive[:-1])[:, :, None]
    return float(speed[planted].mean()) if planted.any() else 0.0
