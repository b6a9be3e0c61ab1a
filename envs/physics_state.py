"""How the task's State fields are derived from physics rows, on first read (see envs.mdp.state.LazyState)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from envs.mdp.state import State, projected_gravity, unit_quat

if TYPE_CHECKING:  # the task builds these; no import cycle at run time
    from envs.task import LocomotionTask


class PhysicsFields:
    """What a State's derived fields are computed from, captured when the state is built: the physics rows,
    the previous joint velocities and the episode steps of those simulations."""

    __slots__ = ("task", "qpos", "qvel", "sens", "joint_vel_prev", "episode_step", "rows")

    def __init__(self, task: LocomotionTask, qpos: np.ndarray, qvel: np.ndarray, sens: np.ndarray, joint_vel_prev: np.ndarray,
                 episode_step: np.ndarray, rows: np.ndarray | slice) -> None:  # fmt: skip
        self.task, self.qpos, self.qvel, self.sens = task, qpos, qvel, sens
        self.joint_vel_prev, self.episode_step, self.rows = joint_vel_prev, episode_step, rows

    def field(self, s: State, name: str) -> Any:
        """The value of State field `name` for state `s`."""
        task, sc = self.task, self.task.scene
        r = sc.root_qpos
        if name == "base_quat":
            return unit_quat(self.qpos[:, r + 3 : r + 7])
        if name == "projected_gravity":
            return projected_gravity(s.base_quat)
        if name == "base_height":
            return s.base_pos[:, 2] - task.terrain.height_at(s.base_pos[:, :2])
        if name == "joint_pos":
            return self.qpos[:, sc.qpos_adr]
        if name == "joint_vel":
            return self.qvel[:, sc.dof_adr]
        if name == "joint_acc":
            return (s.joint_vel - self.joint_vel_prev) / task.dt
        if name == "torque_limit":
            return task.torque_limits()[self.rows]
        if name == "feet_contact":
            return sc.feet_contact(self.sens)
        if name == "base_contact":
            return self.sens[:, sc.base_contact] > 0
        if name in ("feet_pos", "feet_vel", "feet_zaxis"):
            return self.sens[:, sc.foot_frame[name[5:]]]
        if name == "feet_height":
            pos = s.feet_pos
            return pos[:, :, 2] - task.terrain.height_at(pos[:, :, :2].reshape(-1, 2)).reshape(pos.shape[:2])
        if name == "gait_phase":
            return task._gait_phase(self.episode_step)
        raise AttributeError(name)
