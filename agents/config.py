"""The structured schema of `configs/train.yaml`: Hydra checks every key and type against it at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.config_store import ConfigStore

from envs.config import EnvConfig, RobotConfig, TerrainConfig

if TYPE_CHECKING:
    from omegaconf import DictConfig

DEVICES = ("cpu", "cuda", "auto")


@dataclass
class AlgoConfig:
    """An SB3 algorithm and its hyperparameters (names as in SB3's constructor)."""

    name: str = "ppo"
    """ppo, sac, td3 or tqc."""
    policy: str = "MlpPolicy"
    hyperparams: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the SB3 constructor (learning_rate, n_steps, batch_size, ...)."""
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    """net_arch, activation_fn (tanh, relu, elu, ...), log_std_init, ortho_init, ..."""
    action_noise: dict[str, Any] | None = None
    """Off-policy exploration noise: {type: normal|ornstein_uhlenbeck, sigma: 0.1}."""
    normalize: bool = False
    """Wrap the env in VecNormalize (observation and reward statistics)."""
    normalize_kwargs: dict[str, Any] = field(default_factory=dict)
    """VecNormalize keyword arguments (norm_obs, norm_reward, clip_obs, gamma, ...)."""


@dataclass
class SweepConfig:
    """A hyperparameter search (`+sweep=<preset>`): Optuna's TPE over `params`, each trial a short training whose
    walking checks feed Optuna's median pruner. Workers sharing `storage` share the study (multirun, SLURM)."""

    study: str = "locoforge"
    storage: str | None = None
    """Optuna journal file shared by the workers; None: outputs/sweeps/<study>.log."""
    n_trials: int = 20
    """Trials this worker runs."""
    budget: int = 3_000_000
    """Environment steps per trial."""
    report_every: int = 500_000
    """Steps between the walking checks that score a trial and let the pruner stop it."""
    check_episodes: int = 32
    check_episode_s: float = 5.0
    objective: str = "tracking"
    """tracking: vx + vy RMSE + 2 x fall share at the end; time_to_walk: steps until the check first walks."""
    params: dict[str, Any] = field(default_factory=dict)
    """Dotted config key -> {type: float|int|categorical, low, high, log, choices}."""
    startup_trials: int = 3
    """Trials the median pruner lets finish before it prunes."""
    seed: int = 0


@dataclass
class TrainConfig:
    """`python train.py` — every field is a CLI override (`seed=1`, `algo=sac`, `env.sim.decimation=10`)."""

    env: EnvConfig = field(default_factory=EnvConfig)
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    robot: RobotConfig = field(default_factory=RobotConfig)
    terrain: TerrainConfig = field(default_factory=TerrainConfig)
    seed: int = 0
    total_timesteps: int = 1_000_000
    num_envs: int = 1
    checkpoint_every: int = 100_000
    """Environment steps between checkpoints (0: only the final model)."""
    keep_checkpoints: int = 3
    """Newest checkpoints kept on disk (0: all)."""
    eval_every: int = 50_000
    """Environment steps between deterministic evaluations (0: none)."""
    eval_episodes: int = 10
    eval_envs: int = 0
    """Environments of the evaluation env (0: min(eval_episodes, num_envs))."""
    device: str = "auto"
    """Torch device: cpu, cuda or auto."""
    torch_threads: int = 0
    """Torch intra-op threads (0: all cores)."""
    resume: str | None = None
    """A run directory to continue from its newest complete checkpoint."""
    init_from: str | None = None
    """A run directory or checkpoint whose policy and normalizer a new run starts from (agents/warm_start.py)."""
    save_replay_buffer: bool = False
    """Off-policy algos: put the replay buffer into checkpoints, so a resume keeps it."""
    vec_env: str = "dummy"
    """Gymnasium envs only: dummy or subproc."""
    walk_check_episodes: int = 0
    """Velocity-command tasks: 10-s episodes of the final walking check (tracking RMSE, falls); 0 skips it."""
    progress: bool = True
    """Show a progress bar with steps/s and ETA."""
    sweep: SweepConfig | None = None
    """A hyperparameter search instead of one training (`+sweep=quadruped_ppo`; agents/tune.py)."""
    requires: dict[str, str] = field(default_factory=dict)
    """Keys a preset needs the user to give, each with a hint (a second stage needs init_from); a start without one
    is refused."""


def register() -> None:
    """Make the schema available to Hydra as `train_schema`."""
    ConfigStore.instance().store(name="train_schema", node=TrainConfig)


def load_saved(path: str | Path) -> DictConfig:
    """A run's saved config.yaml, typed by the schema again (so its sections become dataclasses)."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.merge(OmegaConf.structured(TrainConfig), OmegaConf.load(path))
    OmegaConf.set_struct(cfg, True)
    return cfg
