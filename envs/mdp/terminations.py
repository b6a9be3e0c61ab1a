"""Termination terms: (state, **params) -> (n,) bool. The time limit is handled by the task as truncation."""

from __future__ import annotations

import numpy as np

from envs.mdp.state import State


def base_contact(s: State) -> np.ndarray:
    """The base (trunk) touches the ground or anything else."""
    return s.base_contact


def bad_orientation(s: State, limit_angle: float = 1.0) -> np.ndarray:
    """The base tilts more than limit_angle (rad) from upright."""
    return s.projected_gravity[:, 2] > -np.cos(limit_angle)


def base_height_below(s: State, minimum: float | None = None) -> np.ndarray:
    """The base is lower than minimum (m) above the ground; the robot config's min_base_height by default."""
    return s.base_height < (s.min_base_height if minimum is None else minimum)
