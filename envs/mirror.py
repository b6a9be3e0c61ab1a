"""Left-right mirror of a task's observations and actions, for a symmetry loss: the policy's answer to the
mirrored state should be the mirror of its answer (a robot that turns left as well as it turns right).

The mirror reflects the world in the base's sagittal (x-z) plane. Joints and feet swap sides by the name pairs
of `robot.mirror` ({"left_": "right_"}); a joint's sign comes from its axis in the model at the default pose
(roll and yaw axes flip, pitch axes do not), so no sign is ever typed by hand. Each observation term has its
own linear map; a term without one refuses the mirror by name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import mujoco
import numpy as np

from envs.mdp.observations import scan_points


@dataclass
class Sides:
    """How a robot's joints and feet map onto their mirror images."""

    joint_perm: np.ndarray
    """joint_perm[i]: the policy joint that joint i becomes in the mirror."""
    joint_sign: np.ndarray
    """+1 where the partner's axis is the mirror image of the joint's axis, -1 where it is reversed."""
    foot_perm: np.ndarray
    gait_offsets: np.ndarray | None


def partner(name: str, pairs: dict[str, str]) -> str:
    """The name with each side's substring of `pairs` replaced by the other side's (itself when it has none)."""
    swap = {**pairs, **{b: a for a, b in pairs.items()}}
    pattern = re.compile("|".join(re.escape(k) for k in sorted(swap, key=len, reverse=True)))
    return pattern.sub(lambda m: swap[m.group(0)], name)


def _permutation(names: list[str], pairs: dict[str, str], what: str) -> np.ndarray:
    perm = []
    for name in names:
        other = partner(name, pairs)
        if other not in names:
            raise ValueError(f"robot.mirror: the mirror of {what} '{name}' would be '{other}', which is not in "
                             f"robot.{what}s ({', '.join(names)})")  # fmt: skip
        perm.append(names.index(other))
    return np.asarray(perm)


def robot_sides(model: mujoco.MjModel, base_body: int, joint_names: list[str], default_joint_pos: np.ndarray,
                feet: list[str], pairs: dict[str, str], gait_offsets: list[float] | None) -> Sides:  # fmt: skip
    """Joint and foot permutations and joint signs, the signs from the joint axes in the base frame at the
    default pose."""
    if not pairs:
        raise ValueError("robot.mirror: empty; give the substrings naming the two sides, e.g. {left_: right_}")
    perm = _permutation(joint_names, pairs, "joint")
    data = mujoco.MjData(model)
    jids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in joint_names]
    for jid, q in zip(jids, default_joint_pos):
        data.qpos[model.jnt_qposadr[jid]] = q
    mujoco.mj_kinematics(model, data)
    axes = data.xaxis[jids] @ data.xmat[base_body].reshape(3, 3)  # world -> base frame
    mirrored = axes * np.array([-1.0, 1.0, -1.0])  # an axial vector reflected in the x-z plane
    sign = np.einsum("ij,ij->i", mirrored, axes[perm])
    if not np.allclose(np.abs(sign), 1.0, atol=1e-3):
        bad = [
            f"{joint_names[i]}/{joint_names[perm[i]]}" for i in np.flatnonzero(~np.isclose(np.abs(sign), 1, atol=1e-3))
        ]
        raise ValueError(f"robot.mirror: joint axes are not mirror images at the default pose: {', '.join(bad)}")
    foot_perm = _permutation(list(feet), pairs, "foot") if feet else np.zeros(0, dtype=int)
    offsets = None if gait_offsets is None else np.asarray(gait_offsets, dtype=float)
    return Sides(perm, np.sign(sign), foot_perm, offsets)


def _signed_perm(perm: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """The matrix M with (x @ M.T)[perm[i]] = sign[i] * x[i]."""
    m = np.zeros((len(perm), len(perm)))
    m[perm, np.arange(len(perm))] = sign
    return m


def _gait_clock(sides: Sides, params: dict) -> np.ndarray:
    if sides.gait_offsets is None:
        raise ValueError("needs env.gait")
    # the mirrored first foot is its partner, whose phase leads by the offset difference: a rotation
    shift = 2.0 * np.pi * (sides.gait_offsets[sides.foot_perm[0]] - sides.gait_offsets[0])
    c, s = np.cos(shift), np.sin(shift)
    return np.array([[c, s], [-s, c]])  # [sin, cos] of angle a -> [sin, cos] of a + shift


def _height_scan(sides: Sides, params: dict) -> np.ndarray:
    points = scan_points(list(params.get("size", (1.6, 1.0))), params.get("resolution", 0.1))
    reflected = points * np.array([1.0, -1.0])
    perm = np.argmin(np.linalg.norm(points[None, :, :] - reflected[:, None, :], axis=2), axis=1)
    return _signed_perm(perm, np.ones(len(points)))


def _diag(*signs: float) -> Callable[[Sides, dict], np.ndarray]:
    return lambda sides, params: np.diag(signs)


def _joints(sides: Sides, params: dict) -> np.ndarray:
    return _signed_perm(sides.joint_perm, sides.joint_sign)


TERMS: dict[str, Callable[[Sides, dict], np.ndarray]] = {
    "base_lin_vel": _diag(1.0, -1.0, 1.0),
    "base_ang_vel": _diag(-1.0, 1.0, -1.0),
    "projected_gravity": _diag(1.0, -1.0, 1.0),
    "velocity_command": _diag(1.0, -1.0, -1.0),  # vy and the yaw rate change sign
    "joint_pos_rel": _joints,
    "joint_vel": _joints,
    "previous_action": _joints,
    "base_height": _diag(1.0),
    "feet_contact": lambda sides, params: _signed_perm(sides.foot_perm, np.ones(len(sides.foot_perm))),
    "gait_clock": _gait_clock,
    "height_scan": _height_scan,
}
"""Observation term -> its mirror map (k, k): mirrored = value @ map.T."""


def observation_map(terms: list[tuple], sides: Sides, where: str) -> np.ndarray:
    """Block-diagonal mirror map of a concatenated observation, terms given as (name, size, params) or
    (name, size, params, history): a stacked term mirrors each of its `history` steps alike."""
    blocks = []
    for name, size, params, *history in terms:
        if name not in TERMS:
            raise ValueError(f"{where}.{name}: has no mirror; terms that do: {', '.join(TERMS)}")
        try:
            block = TERMS[name](sides, params)
        except ValueError as err:
            raise ValueError(f"{where}.{name}: {err}") from None
        if block.shape != (size, size):
            raise ValueError(f"{where}.{name}: mirror map is {block.shape}, the term has size {size}")
        blocks.append(np.kron(np.eye(history[0] if history else 1), block))
    dim = sum(len(b) for b in blocks)
    out, start = np.zeros((dim, dim)), 0
    for block in blocks:
        out[start : start + len(block), start : start + len(block)] = block
        start += len(block)
    return out


@dataclass
class Mirror:
    """Linear maps (mirrored = x @ M.T) of the action and of each observation key ('policy', 'critic' or '')."""

    action: np.ndarray
    obs: dict[str, np.ndarray]
