"""Structured configs for the locomotion task: robot, task terms, randomization, terrain.

These dataclasses are the schema Hydra validates `configs/` against, so a misspelt key or a wrong type
fails at start-up. `TaskConfig` groups the four sections a task is built from (`configs/task.yaml`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RobotConfig:
    """Everything the task needs to know about a robot; term code never hard-codes robot facts."""

    name: str = "quadruped"
    mjcf: str = "quadruped.xml"
    """MJCF path: absolute, relative to the working directory, or a file in `envs/assets/`."""
    base_body: str = "trunk"
    imu_site: str | None = None
    """Site of the IMU (gyro, velocimeter); None puts one at the base body's origin."""
    joints: list[str] = field(default_factory=list)
    """Actuated joints in policy order: the order of joint observations and of actions."""
    feet: list[str] = field(default_factory=list)
    """Foot geoms, in the order foot terms report them."""
    default_joint_pos: dict[str, float] = field(default_factory=dict)
    """Regex over joint names -> standing position (rad); every joint must match exactly one."""
    kp: dict[str, float] = field(default_factory=dict)
    """Regex over joint names -> PD stiffness (N·m/rad)."""
    kd: dict[str, float] = field(default_factory=dict)
    """Regex over joint names -> PD damping (N·m·s/rad)."""
    torque_limit: dict[str, float] = field(default_factory=dict)
    """Regex over joint names -> motor torque limit (N·m), enforced by clipping."""
    action_scale: float = 0.25
    """Joint target = default_joint_pos + action_scale * action."""
    spawn_height: float = 0.3
    """Base height above the ground at reset (m)."""
    nominal_height: float = 0.28
    """Base height when standing (m): the height reward's default target."""
    min_base_height: float = 0.12
    """A base lower than this above the ground (m) has fallen: the height termination's default."""


@dataclass
class ObsTermConfig:
    """One observation term: scale applied to the value, noise added during training."""

    scale: float = 1.0
    noise: float = 0.0
    """Half-width of uniform noise, in the term's units, added before scaling (0: none)."""
    clip: float | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class RewardTermConfig:
    """One reward term: its weight (penalties take negative weights) and its parameters."""

    weight: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class TerminationConfig:
    """One termination term and its parameters."""

    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class CommandConfig:
    """Velocity command ranges, in the base's heading frame."""

    vx: list[float] = field(default_factory=lambda: [-1.0, 1.0])
    vy: list[float] = field(default_factory=lambda: [-1.0, 1.0])
    yaw_rate: list[float] = field(default_factory=lambda: [-1.0, 1.0])
    resample_s: list[float] = field(default_factory=lambda: [5.0, 10.0])
    """Each environment draws its next resampling time from this range (s)."""
    standing_share: float = 0.1
    """Share of commands that are exactly zero (stand still)."""
    fixed: list[list[float]] | None = None
    """Fixed commands for evaluation: environment i always gets fixed[i % len(fixed)], never resampled."""


@dataclass
class SimConfig:
    """Timing of the simulation and the policy."""

    physics_dt: float = 0.005
    decimation: int = 4
    """Physics steps per policy step: policy dt = physics_dt * decimation."""
    episode_length_s: float = 20.0
    nthread: int = 0
    """Threads of the batched simulation (0: all cores)."""
    integrator: str | None = None
    """Euler, RK4, implicit or implicitfast; None keeps the MJCF's."""
    solver: str | None = None
    """PGS, CG or Newton; None keeps the MJCF's."""
    cone: str | None = None
    """Friction cone: pyramidal or elliptic; None keeps the MJCF's."""
    impratio: float | None = None
    contact_solref: list[float] | None = None
    """Contact stiffness/damping (timeconst, dampratio) for every geom; None keeps the MJCF's."""
    max_base_speed: float = 50.0
    """A simulation whose base moves faster than this (m/s or rad/s) counts as diverged and is reset."""


@dataclass
class RandomizationConfig:
    """Domain randomization, resampled for each environment at each reset. None or [1, 1]: off."""

    name: str = "none"
    friction: list[float] | None = None
    """Multiplier on every geom's sliding friction."""
    added_mass: list[float] | None = None
    """Mass added to the base body (kg)."""
    com_offset: list[float] | None = None
    """Uniform offset of the base's centre of mass on each axis (m)."""
    motor_strength: list[float] | None = None
    """Multiplier on motor torque (and on its limit)."""
    kp_scale: list[float] | None = None
    kd_scale: list[float] | None = None
    push_interval_s: list[float] | None = None
    """Time between pushes (s); None: no pushes."""
    push_velocity: float = 0.0
    """Largest planar velocity kick of a push (m/s)."""
    action_delay_ms: list[float] | None = None
    """Delay between the policy's action and the motors (ms), rounded to physics steps."""
    action_delay_from: str | None = None
    """A latency.json from export.py; its estimated device p99 sets the action delay range."""
    obs_delay_ms: list[float] | None = None
    """Age of the observation the policy sees (ms), rounded to physics steps."""
    obs_noise_scale: float = 1.0
    """Multiplier on every observation term's noise (0: noise off)."""
    init_joint_noise: float = 0.1
    """Half-width of uniform noise on joint positions at reset (rad)."""


@dataclass
class TerrainConfig:
    """Ground: a plane, or a heightfield of tiles (rows are difficulty levels) with a curriculum."""

    name: str = "flat"
    kind: str = "plane"
    """plane, rough, slopes, stairs or mixed."""
    tile_size: float = 8.0
    """Side of one tile (m)."""
    n_levels: int = 10
    n_cols: int = 4
    horizontal_scale: float = 0.1
    """Heightfield cell size (m)."""
    rough_height: list[float] = field(default_factory=lambda: [0.01, 0.08])
    """Noise amplitude (m) from the easiest to the hardest level."""
    slope: list[float] = field(default_factory=lambda: [0.0, 0.4])
    """Slope (rad) from the easiest to the hardest level."""
    step_height: list[float] = field(default_factory=lambda: [0.02, 0.16])
    """Stair height (m) from the easiest to the hardest level."""
    step_width: float = 0.35
    curriculum: bool = True
    start_level: int = 0
    """Level new robots start on; the curriculum moves them from there."""
    friction: float = 1.0


@dataclass
class EnvConfig:
    """An environment: a Gymnasium id (kind=gym) or a LocoForge task (kind=locoforge) and its terms."""

    id: str = "LocoForge/QuadrupedFlat-v0"
    kind: str = "locoforge"
    """gym: any registered Gymnasium id, made with kwargs; locoforge: the batched locomotion task."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    sim: SimConfig = field(default_factory=SimConfig)
    commands: CommandConfig = field(default_factory=CommandConfig)
    action_clip: float = 1.0
    """Actions live in [-action_clip, action_clip]."""
    observations: dict[str, ObsTermConfig] = field(default_factory=dict)
    """The policy's (actor's) observation terms, in order."""
    critic_observations: dict[str, ObsTermConfig] = field(default_factory=dict)
    """Privileged terms for the critic; empty: the critic sees the policy's observation."""
    rewards: dict[str, RewardTermConfig] = field(default_factory=dict)
    terminations: dict[str, TerminationConfig] = field(default_factory=dict)


@dataclass
class TaskConfig:
    """Everything a locomotion task is built from: train.py's config and a run's config.yaml hold these four."""

    env: EnvConfig = field(default_factory=EnvConfig)
    robot: RobotConfig = field(default_factory=RobotConfig)
    randomization: RandomizationConfig = field(default_factory=RandomizationConfig)
    terrain: TerrainConfig = field(default_factory=TerrainConfig)
