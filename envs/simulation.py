"""The batched physics under a task: one `Batch.rollout` of `decimation` substeps per policy step, on all cores
with the GIL released. Per-substep controls carry each simulation's action delay; the recorded substeps give
each one's delayed observation; a simulation that fails or runs away is reported, never hidden."""

from __future__ import annotations

import mujoco
import numpy as np
from mujoco.batch import Batch, SimulationError

RECORD = ("qpos", "qvel", "sensordata")  # motor torque: read once after the call, not per substep
Rows = tuple[np.ndarray, ...]
"""qpos, qvel, sensordata (and actuator_force) rows of some simulations."""


class Simulation:
    """The mujoco.batch of a task, its recording buffers, and the last substep of the previous policy step."""

    def __init__(self, model: mujoco.MjModel, num_envs: int, nthread: int, decimation: int, root_dof: int,
                 max_base_speed: float, held_ctrl: np.ndarray | None = None) -> None:  # fmt: skip
        try:
            self.batch = Batch(model, num_envs, nthread, persistent=True)
        except (MemoryError, ValueError) as err:  # MuJoCo's allocation failure names neither the field nor the size
            if not isinstance(err, MemoryError) and "alloc" not in str(err):
                raise
            raise ValueError(f"num_envs: {num_envs} simulations do not fit in memory ({err}); lower num_envs") from None
        self.num_envs, self.decimation = num_envs, decimation
        self.root_dof, self.max_base_speed = root_dof, max_base_speed
        held = np.zeros(0) if held_ctrl is None else np.asarray(held_ctrl, dtype=float)
        self.held_ctrl = np.broadcast_to(
            held, (num_envs, decimation, len(held))
        )  # targets of joints outside the action
        self.qpos, self.qvel, self.ctrl = self.batch.bind("qpos"), self.batch.bind("qvel"), self.batch.bind("ctrl")
        # allocated once: a simulation error on the very first step still leaves them readable
        sizes = (model.nq, model.nv, model.nsensordata)
        self.out = {k: np.zeros((num_envs, decimation, size)) for k, size in zip(RECORD, sizes)}
        self.previous: Rows | None = None  # the last substep of the previous policy step, for observation delays

    def rows(self, ids: np.ndarray | None = None) -> Rows:
        """qpos, qvel, sensordata, actuator_force of simulations ids (all by default) as they stand now."""
        rows = slice(None) if ids is None else ids
        arrays = (self.qpos, self.qvel, self.batch.bind("sensordata"), self.batch.bind("actuator_force"))
        return tuple(np.array(a[rows]) for a in arrays)

    def step(self, target: np.ndarray, held_target: np.ndarray, action_delay: np.ndarray) -> tuple[Rows, np.ndarray]:
        """One policy step of physics: each simulation holds `held_target` for its first `action_delay` substeps.
        Returns the recorded substeps and which simulations failed (an error, a warning, a non-finite or runaway
        state)."""
        n, dec = self.num_envs, self.decimation
        held = np.arange(dec)[None, :] < action_delay[:, None]
        control = np.where(held[:, :, None], held_target[:, None, :], target[:, None, :])
        if self.held_ctrl.shape[2]:
            control = np.concatenate([control, self.held_ctrl], axis=2)
        warnings_before = self.batch.warning[:, :, 1].sum(axis=1)
        failed = np.zeros(n, dtype=bool)
        try:
            self.out = self.batch.rollout(dec, control=control, control_spec=mujoco.mjtState.mjSTATE_CTRL,
                                          record=RECORD, out=self.out)  # fmt: skip
        except SimulationError as err:
            failed[err.ids] = True
        failed |= self.batch.warning[:, :, 1].sum(axis=1) > warnings_before
        # a non-finite value stays non-finite to the last substep, and a simulation whose warnings rise stops
        # stepping: checking the final state is enough
        rd = self.root_dof
        # a non-finite entry makes its row's sum non-finite (one reduction instead of a mask and two)
        with np.errstate(invalid="ignore", over="ignore"):
            failed |= ~(np.isfinite(np.add.reduce(self.qpos, axis=1)) & np.isfinite(np.add.reduce(self.qvel, axis=1)))
        with np.errstate(invalid="ignore"):
            failed |= np.abs(self.qvel[:, rd : rd + 6]).max(axis=1) > self.max_base_speed
        return tuple(self.out[k] for k in RECORD), failed

    def last(self, records: Rows) -> Rows:
        """The last substep of a step's records, and the torque the motors applied during it."""
        return (*(x[:, -1] for x in records), np.array(self.batch.bind("actuator_force")))

    def delayed(self, records: Rows, obs_delay: np.ndarray) -> Rows:
        """Each simulation's state `obs_delay` physics steps before the end of the step just taken (from its
        substeps, or the previous step's last one)."""
        dec = self.decimation
        idx = dec - 1 - obs_delay
        rows = np.arange(self.num_envs)
        picked = []
        for now, prev in zip(records, self.previous):
            value = now[rows, np.clip(idx, 0, dec - 1)]
            value[idx < 0] = prev[idx < 0]
            picked.append(value)
        return tuple(picked)

    def remember(self, last: Rows, ids: np.ndarray | None = None) -> None:
        """Keep the state at the end of a step (or of a reset, for ids) for the next step's delayed observations."""
        if self.previous is None:
            self.previous = tuple(np.array(x) for x in last)
            return
        for prev, now in zip(self.previous, last):
            if ids is None:
                prev[...] = now
            else:
                prev[ids] = now
