"""The schema of `configs/validate.yaml` and `configs/suite/*.yaml`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore

COMMANDS = {
    "forward": [0.8, 0.0, 0.0],
    "lateral": [0.0, 0.5, 0.0],
    "turning": [0.0, 0.0, 0.8],
    "standing": [0.0, 0.0, 0.0],
    "mixed": [0.5, -0.3, 0.5],
}


@dataclass
class DeployConfig:
    """A deploy scenario: the bundle's robot_loop.py drives the stand-in robot (sim.robot_server) in real time."""

    faults: dict[str, Any] = field(default_factory=dict)
    """sim.robot_server.Faults fields: latency, jitter, drop, sensor noise and bias, joint order and sign, a
    state stream that stops."""
    loop: dict[str, Any] = field(default_factory=dict)
    """onboard.robot_loop.LoopConfig fields (soft start, stale and miss limits, joint names and signs)."""
    settle_s: float = 3.0
    """Standing first, while the loop ramps to the default pose."""
    segment_s: float = 6.0
    """Each command of the walking check's fixed commands held this long, one after the other."""
    measure_s: float = 3.0
    """Tracking is measured over the last seconds of each segment."""
    commands: list[str] | None = None
    """Names of envs.tracking.FIXED_COMMANDS to fly (None: all)."""
    duration_s: float | None = None
    """Stop the robot earlier than the script's end."""


@dataclass
class ScenarioConfig:
    """Changes from nominal conditions: event terms, observation noise, terrain and sim fields."""

    description: str = ""
    events: dict[str, Any] = field(default_factory=dict)
    """env.events terms set over the `none` randomization preset (nominal: no randomization, no noise)."""
    obs_noise_scale: float | None = None
    """Multiplier on the observation noise; None: nominal (none)."""
    terrain: dict[str, Any] = field(default_factory=dict)
    """Set over the policy's training terrain."""
    sim: dict[str, Any] = field(default_factory=dict)
    """Set over the policy's env.sim (physics_dt, decimation, integrator, solver, cone, contact_solref...)."""
    gates: list[str] = field(default_factory=list)
    """Gates of this scenario only, e.g. 'fall_rate<=0.1'."""
    deploy: DeployConfig | None = None
    """Fly the bundle through robot_loop.py against the stand-in robot instead of in the batched task."""
    levels: bool = False
    """Terrain only: spread the episodes over every difficulty level, up and down, and report each (sim/levels.py)."""
    episodes: int | None = None
    """Episodes of this scenario (None: the run's `episodes`); a level sweep needs several per level."""
    commands: dict[str, list[float]] | None = None
    """This scenario's command sweep (None: the run's `commands`), e.g. forward only across terrain."""


@dataclass
class SuiteConfig:
    name: str = "nominal"
    scenarios: dict[str, ScenarioConfig] = field(default_factory=dict)
    gates: list[str] = field(default_factory=list)
    """Gates every scenario must pass: '[scenario.]metric OP value', OP one of <=, >=, <, >."""


@dataclass
class ValidateConfig:
    """`python validate.py policy=<run_dir or bundle> suite=<name>`."""

    policy: str | None = None
    suite: SuiteConfig = field(default_factory=SuiteConfig)
    scenarios: list[str] | None = None
    """Run only these scenarios of the suite."""
    episodes: int = 32
    """Episodes per scenario, spread over the command sweep."""
    episode_s: float = 10.0
    warmup_s: float = 1.0
    """Tracking errors are measured after this time into each episode."""
    commands: dict[str, list[float]] = field(default_factory=lambda: {k: list(v) for k, v in COMMANDS.items()})
    """The command sweep: name -> (vx, vy, yaw rate)."""
    clip_commands: bool = True
    """Clip each swept command to the ranges the policy trained on (a biped trained for vy within ±0.3 m/s is asked
    0.3, not the sweep's 0.5); false flies the sweep as written, to probe commands beyond training."""
    gates: list[str] = field(default_factory=list)
    """Extra gates for every scenario."""
    seed: int = 0
    video: bool = True
    video_s: float = 5.0
    """Length of the nominal video (s)."""
    nthread: int = 0
    extra_action_delay_ms: float = 0.0
    """Action delay added to every scenario, e.g. a device's estimated inference latency."""


@dataclass
class PlayConfig:
    """`python play.py policy=<run_dir or bundle_dir> [viewer=window|browser|headless]`."""

    policy: str | None = None
    viewer: str = "browser"
    """window: MuJoCo's viewer (needs a display); browser: a page served on host:port; headless: run `script`."""
    terrain: Any = None
    """A terrain preset name or fields set over the policy's own ground (None: the ground it trained on)."""
    robot: Any = None
    """A robot preset name or YAML file to fly the policy on (None: the robot it trained on); its joints and
    observation must fit the policy."""
    host: str = "127.0.0.1"
    port: int = 8080
    script: list[Any] = field(
        default_factory=lambda: [[3.0, 0.0, 0.0, 0.0], [5.0, 0.5, 0.0, 0.0], [5.0, 0.0, 0.3, 0.0], [5.0, 0.0, 0.0, 0.8]]
    )
    """viewer=headless: [[seconds, vx, vy, yaw_rate], ...] flown one after the other."""
    seed: int = 0


def register() -> None:
    ConfigStore.instance().store(name="validate_schema", node=ValidateConfig)
    ConfigStore.instance().store(name="play_schema", node=PlayConfig)


def load_suite(name: str) -> SuiteConfig:
    """A suite preset of `configs/suite/`, composed by Hydra as validate.py composes it."""
    from omegaconf import OmegaConf

    from common.configs import available, compose

    if name not in available("suite"):
        raise ValueError(f"suite: unknown '{name}'; accepted: {', '.join(available('suite'))}")
    register()
    return OmegaConf.to_object(compose("validate", [f"suite={name}"])).suite
