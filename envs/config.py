"""Structured configs for the locomotion task: robot, task terms (observations, rewards, commands, events, ...), terrain.

These dataclasses are the schema Hydra validates `configs/` against, so a misspelt key or a wrong type
fails at start-up. `TaskConfig` groups the three sections a task is built from (`configs/task.yaml`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PREFIX = "locoforge/"
"""Prefix of every name the scene builder adds (ground, camera, light, sensors, sites): none can clash with a robot file's."""


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
    mirror: dict[str, str] = field(default_factory=dict)
    """Substrings naming the two sides ({"left_": "right_"}): a joint or foot's mirror image is its name with them
    swapped. Needed only by the symmetry loss (algo.hyperparams.symmetry_coef)."""
    hold_other_joints: bool = True
    """The file's joints outside `joints` (a humanoid's arms and waist) are held at their default_joint_pos by PD
    with their own kp/kd/torque_limit patterns, outside the action; false leaves them limp."""


@dataclass
class ObsTermConfig:
    """One observation term: scale applied to the value, noise added during training."""

    scale: float = 1.0
    noise: float = 0.0
    """Half-width of uniform noise, in the term's units, added before scaling (0: none)."""
    clip: float | None = None
    history: int = 1
    """Policy steps stacked, oldest first (1: the current value only); an episode starts with all slots equal."""
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
class CommandTermConfig:
    """One command term (a class in envs/mdp/commands.py named by the config key) and its parameters."""

    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class EventTermConfig:
    """One event term (envs/mdp/events.py, named by the config key): when it fires and its parameters."""

    mode: str = "reset"
    """reset: at every episode start; interval: every interval_s, drawn per environment."""
    interval_s: list[float] | None = None
    """Interval mode: each environment draws the time to its next firing from this range (s)."""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class CurriculumTermConfig:
    """One curriculum term (envs/mdp/curriculum.py, named by the config key) and its parameters."""

    params: dict[str, Any] = field(default_factory=dict)


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
class RoughTiles:
    """Random bumps about a foot wide."""

    share: float = 1.0
    """Share of a mixed terrain's columns."""
    height: list[float] = field(default_factory=lambda: [0.01, 0.08])
    """Bump amplitude (m) from the easiest to the hardest level."""


@dataclass
class SlopeTiles:
    """Pyramid slopes: hills (spawn on top, walk down) and pits (spawn at the bottom, walk up) alternate."""

    share: float = 1.0
    slope: list[float] = field(default_factory=lambda: [0.0, 0.4])
    """Slope (rad) from the easiest to the hardest level."""


@dataclass
class StairTiles:
    """Pyramid stairs, up (pits) and down (hills) alternating like the slopes."""

    share: float = 1.0
    step_height: list[float] = field(default_factory=lambda: [0.02, 0.16])
    """Step height (m) from the easiest to the hardest level."""
    step_width: float = 0.35
    """Tread depth (m)."""


@dataclass
class ObstacleTiles:
    """Discrete rectangular blocks, raised and sunk, scattered around a flat spawn platform."""

    share: float = 1.0
    height: list[float] = field(default_factory=lambda: [0.02, 0.12])
    """Largest block height or depth (m) from the easiest to the hardest level."""
    size: list[float] = field(default_factory=lambda: [0.3, 1.0])
    """Block sides (m) are drawn from this range."""
    count: int = 40
    """Blocks per tile."""


@dataclass
class TerrainConfig:
    """Ground: a plane, or a heightfield of tiles (rows are difficulty levels, columns tile types) with a
    curriculum. Each tile type has its own section; `kind: mixed` gives every type its share of the columns."""

    name: str = "flat"
    kind: str = "plane"
    """plane, rough, slopes, stairs, obstacles or mixed."""
    tile_size: float = 8.0
    """Side of one tile (m)."""
    n_levels: int = 10
    n_cols: int = 4
    horizontal_scale: float = 0.1
    """Heightfield cell size (m)."""
    rough: RoughTiles = field(default_factory=RoughTiles)
    slopes: SlopeTiles = field(default_factory=SlopeTiles)
    stairs: StairTiles = field(default_factory=StairTiles)
    obstacles: ObstacleTiles = field(default_factory=ObstacleTiles)
    start_level: int = 0
    """Level new robots start on; a terrain_levels curriculum term moves them from there."""
    friction: float = 1.0


LEGACY_TERRAIN_KEYS = {"rough_height": ("rough", "height"), "slope": ("slopes", "slope"),
                       "step_height": ("stairs", "step_height"), "step_width": ("stairs", "step_width")}  # fmt: skip
"""Terrain fields of run configs written before tile sections (release 1), and where they live now."""


@dataclass
class GaitConfig:
    """A gait clock: each foot's phase runs from 0 to 1 once per period, offset per foot (a biped: [0, 0.5])."""

    period_s: float = 0.7
    offsets: list[float] = field(default_factory=lambda: [0.0, 0.5])
    """One phase offset per foot of robot.feet, in [0, 1)."""


@dataclass
class ReferenceRobotConfig:
    """The robot a task's weights and kilograms were tuned on. Another robot's torque penalty is counted in units
    of its own RMS torque limit and its payload scaled by its mass, so the same preset serves it unchanged."""

    mass: float = 12.14
    """kg, the whole floating body (configs/robot/quadruped.yaml: 12.14)."""
    torque_limit_rms: float = 28.208642
    """N·m, the root mean square of the policy joints' torque limits (quadruped: 23.7 and 35.55 -> 28.208642)."""


@dataclass
class EnvConfig:
    """An environment: a Gymnasium id (kind=gym) or a LocoForge task (kind=locoforge) and its terms."""

    id: str = "LocoForge/QuadrupedFlat-v0"
    kind: str = "locoforge"
    """gym: any registered Gymnasium id, made with kwargs; locoforge: the batched locomotion task."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    sim: SimConfig = field(default_factory=SimConfig)
    commands: dict[str, CommandTermConfig] = field(default_factory=dict)
    """Command terms; the tracking terms read the one named `velocity`."""
    action_clip: float = 1.0
    """Actions live in [-action_clip, action_clip]."""
    observations: dict[str, ObsTermConfig] = field(default_factory=dict)
    """The policy's (actor's) observation terms, in order."""
    critic_observations: dict[str, ObsTermConfig] = field(default_factory=dict)
    """Privileged terms for the critic; empty: the critic sees the policy's observation."""
    obs_noise_scale: float = 1.0
    """Multiplier on every observation term's noise (0: noise off); set by the randomization presets."""
    rewards: dict[str, RewardTermConfig] = field(default_factory=dict)
    reward_floor: float | None = None
    """Clip each step's total reward from below at this value before the `termination` term is added (legged_gym's
    only_positive_rewards with 0.0): early on, penalties then cannot make ending the episode attractive."""
    terminations: dict[str, TerminationConfig] = field(default_factory=dict)
    events: dict[str, EventTermConfig] = field(default_factory=dict)
    """Resets, domain randomization, pushes and delays, in config order (model parameters before state)."""
    curriculum: dict[str, CurriculumTermConfig] = field(default_factory=dict)
    gait: GaitConfig | None = None
    """A gait clock for the terms that read it (gait_clock, gait_contact); None: no clock."""
    reference_robot: ReferenceRobotConfig | None = None
    """Scale-free task terms: torques_l2 and the payload (physics event's added_mass) are as tuned on this robot;
    None: as written (N·m², kg) for any robot."""


@dataclass
class TaskConfig:
    """Everything a locomotion task is built from: train.py's config and a run's config.yaml hold these three."""

    env: EnvConfig = field(default_factory=EnvConfig)
    robot: RobotConfig = field(default_factory=RobotConfig)
    terrain: TerrainConfig = field(default_factory=TerrainConfig)
    algo: Any = None
    """The training algorithm's section, only so that an env preset may pick one (biped_flat: ppo_symmetric);
    the task never reads it."""
