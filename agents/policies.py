"""Asymmetric actor-critic for PPO: the actor reads obs['policy'], the critic obs['critic'] (privileged).

SB3's ActorCriticPolicy builds one features extractor per network when they are not shared and one MLP
extractor over a single input width; these two overrides give each network its own key and width.
"""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, create_mlp
from torch import nn


class KeyExtractor(BaseFeaturesExtractor):
    """Passes one key of a Dict observation through unchanged."""

    def __init__(self, observation_space: spaces.Dict, key: str) -> None:
        super().__init__(observation_space, features_dim=int(observation_space[key].shape[0]))
        self.key = key

    def forward(self, observations: dict[str, th.Tensor]) -> th.Tensor:
        return observations[self.key]


class AsymmetricMlpExtractor(nn.Module):
    """Separate actor and critic MLPs over inputs of different widths (SB3's MlpExtractor interface)."""

    def __init__(
        self, pi_dim: int, vf_dim: int, net_arch: dict[str, list[int]], activation_fn: type[nn.Module]
    ) -> None:
        super().__init__()
        pi_arch, vf_arch = net_arch["pi"], net_arch["vf"]
        self.policy_net = nn.Sequential(*create_mlp(pi_dim, -1, pi_arch, activation_fn))
        self.value_net = nn.Sequential(*create_mlp(vf_dim, -1, vf_arch, activation_fn))
        self.latent_dim_pi = pi_arch[-1] if pi_arch else pi_dim
        self.latent_dim_vf = vf_arch[-1] if vf_arch else vf_dim

    def forward(self, features: tuple[th.Tensor, th.Tensor]) -> tuple[th.Tensor, th.Tensor]:
        return self.forward_actor(features[0]), self.forward_critic(features[1])

    def forward_actor(self, features: th.Tensor) -> th.Tensor:
        return self.policy_net(features)

    def forward_critic(self, features: th.Tensor) -> th.Tensor:
        return self.value_net(features)


class AsymmetricActorCriticPolicy(ActorCriticPolicy):
    """PPO/A2C policy over Dict(policy=..., critic=...) observations."""

    def __init__(
        self, observation_space: spaces.Dict, action_space: spaces.Space, lr_schedule: Any, **kwargs: Any
    ) -> None:
        if not isinstance(observation_space, spaces.Dict) or set(observation_space.spaces) != {"policy", "critic"}:
            raise ValueError("AsymmetricActorCriticPolicy needs Dict observations with keys 'policy' and 'critic'")
        self._keys = iter(("policy", "critic"))
        kwargs["share_features_extractor"] = False
        net_arch = kwargs.get("net_arch") or {"pi": [64, 64], "vf": [64, 64]}
        if isinstance(net_arch, list):
            net_arch = {"pi": list(net_arch), "vf": list(net_arch)}
        kwargs["net_arch"] = net_arch
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def make_features_extractor(self) -> BaseFeaturesExtractor:
        # called once for the actor, then once for the critic
        return KeyExtractor(self.observation_space, next(self._keys))

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = AsymmetricMlpExtractor(
            self.pi_features_extractor.features_dim,
            self.vf_features_extractor.features_dim,
            self.net_arch,
            self.activation_fn,
        ).to(self.device)
