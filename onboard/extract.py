"""The actor of a trained SB3 policy as plain arrays: normalizer, layers, activations, output mapping."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from common.activations import TORCH_CLASSES

ACTIVATION_NAMES = {getattr(nn, cls): name for name, cls in TORCH_CLASSES.items()}


@dataclass
class MLP:
    """What `model.predict(obs, deterministic=True)` computes, as data."""

    weights: list[np.ndarray]  # (in, out), float32
    biases: list[np.ndarray]
    activations: list[str]  # one per layer; the last is "identity"
    output: str  # "clip": clip to [low, high] (PPO); "tanh": squash then unscale (SAC, TD3, TQC)
    action_low: np.ndarray
    action_high: np.ndarray
    obs_mean: np.ndarray
    obs_var: np.ndarray
    obs_epsilon: float
    obs_clip: float

    @property
    def obs_dim(self) -> int:
        return int(self.weights[0].shape[0])

    @property
    def action_dim(self) -> int:
        return int(self.weights[-1].shape[1])

    @property
    def inv_std(self) -> np.ndarray:
        """float32 1 / sqrt(var + eps): the value every artifact stores, from the runtime's one definition."""
        from onboard.runtime import inverse_std

        return inverse_std(self.obs_var, self.obs_epsilon)

    def flops(self) -> int:
        """Multiply-adds x 2 of the layers: the floor any runtime must compute."""
        return int(sum(2 * w.shape[0] * w.shape[1] for w in self.weights))


def _sequential(modules: list[nn.Module]) -> tuple[list[nn.Linear], list[str]]:
    linears, acts = [], []
    for m in modules:
        if isinstance(m, nn.Linear):
            linears.append(m)
            acts.append("identity")
        elif type(m) in ACTIVATION_NAMES:
            if not acts or acts[-1] != "identity":
                raise ValueError(f"export: unsupported layer order at {m}")
            acts[-1] = ACTIVATION_NAMES[type(m)]
        elif isinstance(m, (nn.Flatten, nn.Identity)):
            continue
        elif isinstance(m, nn.Sequential):
            sub_l, sub_a = _sequential(list(m))
            linears += sub_l
            acts += sub_a
        else:
            raise ValueError(
                f"export: unsupported layer {type(m).__name__}; supported: Linear, {', '.join(ACTIVATION_NAMES.values())}"
            )
    return linears, acts


def from_model(model, vecnormalize_path: Path | None) -> MLP:
    """Extract the deterministic actor of a PPO, SAC, TD3 or TQC model (MLP policies)."""
    policy = model.policy
    if hasattr(policy, "mlp_extractor"):  # PPO / A2C
        modules, output = [policy.mlp_extractor.policy_net, policy.action_net], "clip"
    elif hasattr(policy, "actor") and hasattr(policy.actor, "latent_pi"):  # SAC / TQC
        modules, output = [policy.actor.latent_pi, policy.actor.mu], "tanh"
    elif hasattr(policy, "actor") and hasattr(policy.actor, "mu"):  # TD3 / DDPG: mu ends with Tanh
        layers = list(policy.actor.mu)
        if not isinstance(layers[-1], nn.Tanh):
            raise ValueError("export: TD3 actor must end with Tanh")
        modules, output = layers[:-1], "tanh"
    else:
        raise ValueError(f"export: unsupported policy {type(policy).__name__}")
    linears, acts = _sequential(modules)
    space = model.action_space
    obs_space = model.observation_space
    obs_dim = int((obs_space["policy"] if hasattr(obs_space, "spaces") else obs_space).shape[0])
    mean, var, eps, clip = np.zeros(obs_dim), np.ones(obs_dim), 0.0, np.float32(np.finfo(np.float32).max)
    if vecnormalize_path is not None and vecnormalize_path.is_file():
        with open(vecnormalize_path, "rb") as f:
            norm = pickle.load(f)
        # norm_obs=false: statistics may be kept but are never applied (and obs_rms may not exist)
        applied = norm.norm_obs and (not isinstance(norm.obs_rms, dict) or "policy" in norm.norm_obs_keys)
        if applied:
            rms = norm.obs_rms["policy"] if isinstance(norm.obs_rms, dict) else norm.obs_rms
            mean, var, eps, clip = rms.mean, rms.var, float(norm.epsilon), float(norm.clip_obs)
    return MLP(
        weights=[lin.weight.detach().cpu().numpy().T.astype(np.float32).copy() for lin in linears],
        biases=[lin.bias.detach().cpu().numpy().astype(np.float32).copy() for lin in linears],
        activations=acts,
        output=output,
        action_low=np.asarray(space.low, dtype=np.float32),
        action_high=np.asarray(space.high, dtype=np.float32),
        obs_mean=np.asarray(mean, dtype=np.float64),
        obs_var=np.asarray(var, dtype=np.float64),
        obs_epsilon=eps,
        obs_clip=float(clip),
    )
