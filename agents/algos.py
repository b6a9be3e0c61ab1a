"""Algorithm registry: name -> SB3 class, and the checks and conversions of AlgoConfig."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
from gymnasium import spaces
from sb3_contrib import TQC
from stable_baselines3 import SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise
from stable_baselines3.common.vec_env import VecEnv, VecNormalize
from torch import nn

from agents.config import AlgoConfig
from agents.policies import AsymmetricActorCriticPolicy
from agents.ppo import PPO
from common.activations import TORCH_CLASSES

ALGOS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "sac": SAC, "td3": TD3, "tqc": TQC}
OFF_POLICY = ("sac", "td3", "tqc")
ACTIVATIONS = {name: getattr(nn, cls) for name, cls in TORCH_CLASSES.items()}
NOISES = {"normal": NormalActionNoise, "ornstein_uhlenbeck": OrnsteinUhlenbeckActionNoise}
# set by the trainer, not by hyperparams
_RESERVED = {"policy", "env", "seed", "device", "tensorboard_log", "verbose", "policy_kwargs", "action_noise", "mirror"}


def hyperparameters(cls: type[BaseAlgorithm]) -> set[str]:
    """Constructor arguments of an algorithm class and of the SB3 classes it extends, less those the trainer sets."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if issubclass(klass, BaseAlgorithm) and "__init__" in klass.__dict__:
            names |= set(inspect.signature(klass.__init__).parameters)
    return names - {"self", "args", "kwargs"} - _RESERVED


def validate(cfg: AlgoConfig) -> None:
    """Fail at start-up on an unknown algorithm, hyperparameter, activation or noise type."""
    if cfg.name not in ALGOS:
        raise ValueError(f"algo.name: unknown algorithm '{cfg.name}'; accepted: {', '.join(ALGOS)}")
    accepted = hyperparameters(ALGOS[cfg.name])
    for key in cfg.hyperparams:
        if key not in accepted:
            raise ValueError(
                f"algo.hyperparams: '{key}' is not a {cfg.name} hyperparameter; accepted: {', '.join(sorted(accepted))}"
            )
    policy_cls = ALGOS[cfg.name].policy_aliases.get(cfg.policy)
    if policy_cls is None:
        raise ValueError(f"algo.policy: unknown '{cfg.policy}'; accepted: {', '.join(ALGOS[cfg.name].policy_aliases)}")
    policy_params = set(inspect.signature(policy_cls.__init__).parameters)
    accepted = policy_params - {"self", "observation_space", "action_space", "lr_schedule", "args", "kwargs"}
    for key in cfg.policy_kwargs:
        if key not in accepted:
            raise ValueError(f"algo.policy_kwargs: '{key}' is not an argument of {policy_cls.__name__}; "
                             f"accepted: {', '.join(sorted(accepted))}")  # fmt: skip
    accepted = set(inspect.signature(VecNormalize.__init__).parameters) - {"self", "venv"}
    for key in cfg.normalize_kwargs:
        if key not in accepted:
            raise ValueError(f"algo.normalize_kwargs: '{key}' is not a VecNormalize argument; "
                             f"accepted: {', '.join(sorted(accepted))}")  # fmt: skip
    act = cfg.policy_kwargs.get("activation_fn")
    if act is not None and act not in ACTIVATIONS:
        raise ValueError(f"algo.policy_kwargs.activation_fn: unknown '{act}'; accepted: {', '.join(ACTIVATIONS)}")
    if cfg.action_noise is not None:
        if cfg.name not in OFF_POLICY:
            raise ValueError(f"algo.action_noise: only for off-policy algorithms ({', '.join(OFF_POLICY)})")
        if cfg.action_noise.get("type") not in NOISES:
            raise ValueError(
                f"algo.action_noise.type: unknown '{cfg.action_noise.get('type')}'; accepted: {', '.join(NOISES)}"
            )


def policy_kwargs(cfg: AlgoConfig) -> dict[str, Any]:
    """Policy kwargs with the activation's name turned into its torch class."""
    kwargs = dict(cfg.policy_kwargs)
    if "activation_fn" in kwargs:
        kwargs["activation_fn"] = ACTIVATIONS[kwargs["activation_fn"]]
    if isinstance(kwargs.get("net_arch"), dict):
        kwargs["net_arch"] = {k: list(v) for k, v in kwargs["net_arch"].items()}
    return kwargs


def action_noise(cfg: AlgoConfig, action_space: spaces.Box):
    """The configured exploration noise for off-policy algorithms, or None."""
    if cfg.action_noise is None:
        return None
    n = action_space.shape[0]
    sigma = float(cfg.action_noise.get("sigma", 0.1))
    return NOISES[cfg.action_noise["type"]](mean=np.zeros(n), sigma=sigma * np.ones(n))


def task_mirror(env: VecEnv) -> Any:
    """The left-right mirror of the LocoForge task under an env's wrappers, for PPO's symmetry loss."""
    inner = env
    while hasattr(inner, "venv"):
        inner = inner.venv
    task = getattr(inner, "task", None)
    if task is None:
        raise ValueError("symmetry_coef: needs a LocoForge task (its robot.mirror); a Gymnasium env has none")
    try:
        return task.mirror()
    except ValueError as err:  # a robot without sides: say how to train without the mirror loss too
        raise ValueError(f"symmetry_coef: {err}; or train without the mirror loss (algo=ppo)") from None


def make_model(cfg: AlgoConfig, env: VecEnv, seed: int, device: str, tensorboard_log: str | None) -> BaseAlgorithm:
    """Build the SB3 model; Dict(policy, critic) observations get the asymmetric actor-critic."""
    policy: Any = cfg.policy
    if isinstance(env.observation_space, spaces.Dict) and cfg.name == "ppo":
        policy = AsymmetricActorCriticPolicy
    kwargs = dict(cfg.hyperparams)
    if kwargs.get("symmetry_coef"):
        kwargs["mirror"] = task_mirror(env)
    noise = action_noise(cfg, env.action_space)
    if noise is not None:
        kwargs["action_noise"] = noise
    return ALGOS[cfg.name](
        policy,
        env,
        seed=seed,
        device=device,
        tensorboard_log=tensorboard_log,
        policy_kwargs=policy_kwargs(cfg),
        verbose=0,
        **kwargs,
    )
