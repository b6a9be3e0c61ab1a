"""Event terms: resets, domain randomization, pushes and delays, each a class built once as `cls(task, **params)`
and called with the environments it acts on. Model-parameter terms (phase 0) run before state resets (phase 1):
MuJoCo's set_const, which follows a mass change, puts the simulation back at its reference pose."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from envs.mdp.ranges import check_range

PARAMS = "env.events"


def _draw(rng: np.random.Generator, bounds: list | None, n: int, default: float, shape: tuple = ()) -> np.ndarray:
    if bounds is None:
        return np.full((n, *shape), default)
    return rng.uniform(bounds[0], bounds[1], size=(n, *shape))


class Physics:
    """Per-environment friction, base mass and CoM, motor strength and PD gains, written through mujoco.batch's
    expanded model fields. Each range is a multiplier ([1, 1] or None: off) or, for mass and CoM, an offset."""

    phase = 0

    def __init__(self, task: Any, friction: list[float] | None = None, added_mass: list[float] | None = None,
                 com_offset: list[float] | None = None, motor_strength: list[float] | None = None,
                 kp_scale: list[float] | None = None, kd_scale: list[float] | None = None,
                 added_mass_share: list[float] | None = None) -> None:  # fmt: skip
        """Args:
        friction: multiplier on every geom's sliding friction. added_mass: kg added to the base body, scaled by
            the robot's mass over the reference robot's (env.reference_robot) when the task has one.
        added_mass_share: added to the base as a share of the whole robot's mass (a payload that scales with the
            robot: 0.25 is 3.0 kg on the quadruped, 3.8 kg on the biped); adds to added_mass.
        com_offset: uniform offset of the base's centre of mass on each axis (m).
        motor_strength: multiplier on motor torque and its limit. kp_scale, kd_scale: multipliers on the PD gains.
        """
        for name, value in (("friction", friction), ("motor_strength", motor_strength), ("kp_scale", kp_scale),
                            ("kd_scale", kd_scale)):  # fmt: skip
            check_range(f"{PARAMS}.physics.params.{name}", value, non_negative=True)
        for name, value in (
            ("added_mass", added_mass),
            ("com_offset", com_offset),
            ("added_mass_share", added_mass_share),
        ):
            check_range(f"{PARAMS}.physics.params.{name}", value, non_negative=False)
        self.task, batch, sc = task, task.batch, task.scene
        self.ranges = {"friction": friction, "added_mass": added_mass, "com_offset": com_offset,
                       "motor_strength": motor_strength, "kp_scale": kp_scale, "kd_scale": kd_scale,
                       "added_mass_share": added_mass_share}  # fmt: skip
        self.robot_mass = task.robot_mass
        self.base = sc.base_body
        self.nominal_friction = task.model.geom_friction[:, 0].copy()
        self.nominal_mass = float(task.model.body_mass[self.base])
        self.nominal_ipos = task.model.body_ipos[self.base].copy()
        self.friction = batch.expand("geom_friction")
        self.mass = batch.expand("body_mass")
        self.ipos = batch.expand("body_ipos")
        self.gain = batch.expand("actuator_gainprm")
        self.bias = batch.expand("actuator_biasprm")
        self.forcerange = batch.expand("actuator_forcerange")

    def __call__(self, ids: np.ndarray) -> None:
        r, rng, n, sc = self.ranges, self.task.rng, len(ids), self.task.scene
        self.friction[ids, :, 0] = self.nominal_friction * _draw(rng, r["friction"], n, 1.0)[:, None]
        self.mass[ids, self.base] = self.nominal_mass + _draw(rng, r["added_mass"], n, 0.0) * self.task.mass_scale
        if r["added_mass_share"] is not None:
            self.mass[ids, self.base] += self.robot_mass * _draw(rng, r["added_mass_share"], n, 0.0)
        self.ipos[ids, self.base] = self.nominal_ipos + _draw(rng, r["com_offset"], n, 0.0, (3,))
        strength = _draw(rng, r["motor_strength"], n, 1.0)[:, None]
        kp = sc.kp * strength * _draw(rng, r["kp_scale"], n, 1.0)[:, None]
        kd = sc.kd * strength * _draw(rng, r["kd_scale"], n, 1.0)[:, None]
        nj = sc.num_joints  # the policy's motors; held joints keep their gains
        self.gain[ids, :nj, 0] = kp
        self.bias[ids, :nj, 1] = -kp
        self.bias[ids, :nj, 2] = -kd
        self.forcerange[ids, :nj, 0] = -sc.torque_limit * strength
        self.forcerange[ids, :nj, 1] = sc.torque_limit * strength
        if r["added_mass"] is not None or r["com_offset"] is not None or r["added_mass_share"] is not None:
            self.task.batch.set_const(ids)


class ResetPose:
    """Every episode starts here: the base at its spawn point (jittered on terrain) with a random heading, joints
    at the default pose plus uniform noise, at rest, the PD targets at the default pose."""

    phase = 1

    def __init__(self, task: Any, joint_noise: float = 0.1) -> None:
        """Args: joint_noise: half-width of uniform noise on joint positions (rad)."""
        if joint_noise < 0:
            raise ValueError(f"{PARAMS}.reset_pose.params.joint_noise: must be >= 0, got {joint_noise}")
        self.task, self.joint_noise = task, joint_noise

    def __call__(self, ids: np.ndarray) -> None:
        import mujoco

        task, sc, rng, n = self.task, self.task.scene, self.task.rng, len(ids)
        task.batch.reset(ids, stage=mujoco.mjtStage.mjSTAGE_NONE)
        r, terrain = sc.root_qpos, task.terrain
        xy = task.origins[ids] + (0.0 if terrain.is_plane else rng.uniform(-1.0, 1.0, size=(n, 2)))
        yaw = rng.uniform(-np.pi, np.pi, size=n)
        qpos = task.qpos[ids]
        qpos[:, r : r + 2] = xy
        qpos[:, r + 2] = terrain.height_at(xy) + sc.robot.spawn_height
        qpos[:, r + 3] = np.cos(yaw / 2)
        qpos[:, r + 4 : r + 6] = 0.0
        qpos[:, r + 6] = np.sin(yaw / 2)
        joints = sc.default_joint_pos + rng.uniform(-self.joint_noise, self.joint_noise, size=(n, sc.num_joints))
        qpos[:, sc.qpos_adr] = np.clip(joints, sc.joint_range[:, 0], sc.joint_range[:, 1])
        task.qpos[ids] = qpos
        task.qvel[ids] = 0.0
        task.ctrl[ids, : sc.num_joints] = sc.default_joint_pos
        task.ctrl[ids, sc.num_joints :] = sc.held_default


def delay_steps(bounds_ms: list | None, physics_dt: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw delays in physics steps from a range in milliseconds."""
    if bounds_ms is None:
        return np.zeros(n, dtype=int)
    ms = rng.uniform(bounds_ms[0], bounds_ms[1], size=n)
    return np.rint(ms / 1000.0 / physics_dt).astype(int)


def delay_from_latency_report(path: str, policy_dt: float) -> list[float]:
    """An action delay range (ms) from export.py's latency.json: the recommended artifact's estimated device
    p50 to p99.9, capped at one policy step (the most the task models)."""
    where = f"{PARAMS}.action_delay.params.from_latency_report"
    try:
        report = json.loads(Path(path).read_text())
        estimate = report["artifacts"][report["recommended"]]["device_estimate"]
        low, high = estimate["p50_us"] / 1000.0, estimate["p999_us"] / 1000.0
    except FileNotFoundError:
        raise ValueError(f"{where}: '{path}' not found; give a latency.json from export.py") from None
    except (KeyError, ValueError, TypeError) as err:
        raise ValueError(
            f"{where}: '{path}' is not a latency.json from export.py ({type(err).__name__}: {err})"
        ) from None
    cap = policy_dt * 1000.0
    return [min(low, cap), min(high, cap)]


class _Delay:
    """A per-environment delay in physics steps, drawn at reset from a range in ms (at most one policy step)."""

    phase = 1
    name = ""

    def __init__(self, task: Any, range_ms: list[float] | None = None) -> None:
        where = f"{PARAMS}.{self.name}.params.range_ms"
        check_range(where, range_ms, non_negative=True)
        step_ms = task.dt * 1000.0
        if range_ms is not None and range_ms[1] > step_ms + 1e-9:
            raise ValueError(f"{where}: {range_ms[1]} ms exceeds one policy step ({step_ms:g} ms)")
        self.task, self.range_ms = task, None if range_ms is None else [float(v) for v in range_ms]


class ActionDelay(_Delay):
    """Time between the policy's action and the motors: the previous target holds for that many physics steps."""

    name = "action_delay"

    def __init__(self, task: Any, range_ms: list[float] | None = None, from_latency_report: str | None = None) -> None:
        """Args: range_ms: [low, high] (ms); from_latency_report: an export.py latency.json whose estimated device
        latency sets the range instead."""
        if from_latency_report:
            range_ms = delay_from_latency_report(from_latency_report, task.dt)
        super().__init__(task, range_ms)

    def __call__(self, ids: np.ndarray) -> None:
        self.task.action_delay[ids] = delay_steps(self.range_ms, self.task.cfg.sim.physics_dt, len(ids), self.task.rng)


class ObservationDelay(_Delay):
    """Age of the observation the policy sees, in physics steps (the critic always sees the current state)."""

    name = "obs_delay"

    def __call__(self, ids: np.ndarray) -> None:
        self.task.obs_delay[ids] = delay_steps(self.range_ms, self.task.cfg.sim.physics_dt, len(ids), self.task.rng)


class Push:
    """A planar velocity kick of the base, uniform in [-velocity, velocity] on x and y (m/s); interval mode."""

    phase = 1

    def __init__(self, task: Any, velocity: float = 0.5, spare_descents: bool = False) -> None:
        """Args: spare_descents: no kicks for robots on the terrain's hills of slopes and stairs (spawned on top,
        they walk down), so that a kick on a stair edge going down does not teach a policy to stand there."""
        if velocity < 0:
            raise ValueError(f"{PARAMS}.push.params.velocity: must be >= 0, got {velocity}")
        if not isinstance(spare_descents, bool):
            raise ValueError(f"{PARAMS}.push.params.spare_descents: {spare_descents!r}; accepted: true or false")
        self.task, self.velocity = task, velocity
        self.spared = task.terrain.descent if spare_descents else None
        """Per terrain column: robots there are never kicked (None: every robot is)."""

    def __call__(self, ids: np.ndarray) -> None:
        if self.spared is not None:
            ids = ids[~self.spared[self.task.cols[ids]]]
        rd, v = self.task.scene.root_dof, self.velocity
        self.task.qvel[ids, rd : rd + 2] += self.task.rng.uniform(-v, v, size=(len(ids), 2))


TERMS = {"physics": Physics, "reset_pose": ResetPose, "action_delay": ActionDelay, "obs_delay": ObservationDelay,
         "push": Push}  # fmt: skip
