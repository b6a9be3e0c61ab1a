"""PPO for batched CPU training: SB3's PPO with an adaptive learning rate and a thread hand-off.

Two changes to SB3's class, both measured (issue 9, bench/profile_train.py):
- `desired_kl`: the learning rate follows the policy's measured KL divergence per minibatch, as rsl_rl
  does for legged robots (÷1.5 above 2×desired, ×1.5 below desired/2); it replaces the schedule.
- Torch runs one thread while collecting rollouts (its inference batches are small, and its OpenMP workers
  spinning between steps took the cores mujoco.batch steps on: physics ran at 0.7× its speed alone) and all
  threads for the update. With `desired_kl=None` the update is SB3's own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from stable_baselines3 import PPO as SB3PPO
from stable_baselines3.common.utils import explained_variance
from torch.nn import functional as F

LR_BOUNDS = (1e-5, 1e-2)


class PPO(SB3PPO):
    """SB3 PPO; `desired_kl` (e.g. 0.01) turns on the KL-adaptive learning rate."""

    def __init__(self, *args: Any, desired_kl: float | None = None, **kwargs: Any) -> None:
        if desired_kl is not None and not desired_kl > 0:
            raise ValueError(f"desired_kl must be > 0 (or null for SB3's schedule), got {desired_kl}")
        self.desired_kl = desired_kl
        self.adaptive_lr: float | None = None
        super().__init__(*args, **kwargs)

    def collect_rollouts(self, *args: Any, **kwargs: Any) -> bool:
        threads = th.get_num_threads()
        th.set_num_threads(1)
        try:
            return super().collect_rollouts(*args, **kwargs)
        finally:
            th.set_num_threads(threads)

    def train(self) -> None:
        if self.desired_kl is None:
            return super().train()
        self._train_adaptive()

    def _set_lr(self, lr: float) -> None:
        self.adaptive_lr = float(np.clip(lr, *LR_BOUNDS))
        for group in self.policy.optimizer.param_groups:
            group["lr"] = self.adaptive_lr

    def _train_adaptive(self) -> None:
        """The clipped-surrogate update, with the learning rate adapted after each minibatch's KL."""
        self.policy.set_training_mode(True)
        self._set_lr(self.adaptive_lr if self.adaptive_lr is not None else self.lr_schedule(1.0))
        clip = self.clip_range(self._current_progress_remaining)
        clip_vf = self.clip_range_vf(self._current_progress_remaining) if self.clip_range_vf is not None else None
        stats: dict[str, list[float]] = {"policy_gradient_loss": [], "value_loss": [], "entropy_loss": [],
                                          "approx_kl": [], "clip_fraction": []}  # fmt: skip
        for _ in range(self.n_epochs):
            for batch in self.rollout_buffer.get(self.batch_size):
                values, log_prob, entropy = self.policy.evaluate_actions(batch.observations, batch.actions)
                advantages = batch.advantages
                if self.normalize_advantage and len(advantages) > 1:
                    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
                log_ratio = log_prob - batch.old_log_prob
                ratio = th.exp(log_ratio)
                policy_loss = -th.min(advantages * ratio, advantages * th.clamp(ratio, 1 - clip, 1 + clip)).mean()
                values = values.flatten()
                if clip_vf is not None:
                    values = batch.old_values + th.clamp(values - batch.old_values, -clip_vf, clip_vf)
                value_loss = F.mse_loss(batch.returns, values)
                entropy_loss = -th.mean(entropy) if entropy is not None else th.mean(log_prob)
                loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss
                self.policy.optimizer.zero_grad()
                loss.backward()
                th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                self.policy.optimizer.step()
                with th.no_grad():
                    kl = float(th.mean((ratio - 1) - log_ratio))
                    stats["clip_fraction"].append(float(th.mean((th.abs(ratio - 1) > clip).float())))
                stats["policy_gradient_loss"].append(policy_loss.item())
                stats["value_loss"].append(value_loss.item())
                stats["entropy_loss"].append(entropy_loss.item())
                stats["approx_kl"].append(kl)
                if kl > 2.0 * self.desired_kl:
                    self._set_lr(self.adaptive_lr / 1.5)
                elif 0.0 < kl < 0.5 * self.desired_kl:
                    self._set_lr(self.adaptive_lr * 1.5)
            self._n_updates += 1
        for name, values in stats.items():
            self.logger.record(f"train/{name}", float(np.mean(values)))
        buffer = self.rollout_buffer
        self.logger.record("train/explained_variance", explained_variance(buffer.values.flatten(), buffer.returns.flatten()))
        self.logger.record("train/learning_rate", self.adaptive_lr)
        self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
