"""PPO for batched CPU training: SB3's PPO with an adaptive learning rate, a symmetry loss and a thread hand-off.

Three changes to SB3's class, each measured (issues 9 and 12, bench/profile_train.py):
- `desired_kl`: the learning rate follows the policy's measured KL divergence per minibatch, as rsl_rl
  does for legged robots (÷1.5 above 2×desired, ×1.5 below desired/2); it replaces the schedule.
  `desired_kl_schedule` ([[step, kl], ...]) changes that target from a training step on: the terrain fine-tune
  turns gentler once it has learned to go down (issue 13).
- `symmetry_coef`: adds coef × the squared distance between the policy's mean action in the left-right mirror
  of each state and the mirror of its mean action there (the mirror loss of Yu et al. 2018, as rsl_rl's
  symmetry option does), so a biped turns and steps to both sides alike. The maps come from the task
  (`LocomotionTask.mirror`, robot.mirror); the trainer hands them over.
- Torch runs one thread while collecting rollouts (its inference batches are small, and its OpenMP workers
  spinning between steps took the cores mujoco.batch steps on: physics ran at 0.7× its speed alone) and all
  threads for the update. With neither option set the update is SB3's own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from stable_baselines3 import PPO as SB3PPO
from stable_baselines3.common.utils import explained_variance
from torch.nn import functional as F

LR_BOUNDS = (1e-5, 1e-2)


def kl_schedule(desired_kl: float | None, schedule: Any) -> list[tuple[int, float]]:
    """[[step, kl], ...] checked and as (int, float) pairs: steps ascending and >= 0, each kl > 0, and desired_kl set
    (the target before the first step)."""
    if not schedule:
        return []
    where = "desired_kl_schedule"
    if desired_kl is None:
        raise ValueError(f"{where} needs desired_kl (the target before its first step)")
    pairs = []
    for entry in schedule:
        if not isinstance(entry, (list, tuple)) or len(entry) != 2:
            raise ValueError(f"{where}: each entry is [step, kl], got {entry!r}")
        step, value = entry
        try:
            valid = float(step) >= 0 and float(step).is_integer() and float(value) > 0
        except (TypeError, ValueError):  # a string or a list where a number belongs
            valid = False
        if not valid:
            raise ValueError(f"{where}: need an integer step >= 0 and kl > 0, got [{step}, {value}]")
        pairs.append((int(step), float(value)))
    if any(b[0] <= a[0] for a, b in zip(pairs, pairs[1:])):
        raise ValueError(f"{where}: steps must ascend, got {[p[0] for p in pairs]}")
    return pairs


class PPO(SB3PPO):
    """SB3 PPO; `desired_kl` (e.g. 0.01) turns on the KL-adaptive learning rate, `symmetry_coef` (with the
    task's `mirror`) the mirror loss."""

    def __init__(self, *args: Any, desired_kl: float | None = None, symmetry_coef: float = 0.0, mirror: Any = None,
                 desired_kl_schedule: list[list[float]] | None = None, **kwargs: Any) -> None:  # fmt: skip
        if desired_kl is not None and not desired_kl > 0:
            raise ValueError(f"desired_kl must be > 0 (or null for SB3's schedule), got {desired_kl}")
        self.desired_kl_schedule = kl_schedule(desired_kl, desired_kl_schedule)
        if not symmetry_coef >= 0:
            raise ValueError(f"symmetry_coef must be >= 0 (0: no symmetry loss), got {symmetry_coef}")
        self.desired_kl, self.symmetry_coef, self.mirror = desired_kl, float(symmetry_coef), mirror
        self.adaptive_lr: float | None = None
        super().__init__(*args, **kwargs)

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "mirror"]  # the task hands it over again on resume

    def collect_rollouts(self, *args: Any, **kwargs: Any) -> bool:
        threads = th.get_num_threads()
        th.set_num_threads(1)
        try:
            return super().collect_rollouts(*args, **kwargs)
        finally:
            th.set_num_threads(threads)

    def train(self) -> None:
        if self.desired_kl is None and not self.symmetry_coef:
            return super().train()
        self._train_own()

    def current_desired_kl(self) -> float | None:
        """The KL target at this training step: desired_kl, or the last scheduled value whose step is reached."""
        target = self.desired_kl
        for step, value in self.desired_kl_schedule:
            if self.num_timesteps >= step:
                target = value
        return target

    def _set_lr(self, lr: float) -> None:
        self.adaptive_lr = float(np.clip(lr, *LR_BOUNDS))
        for group in self.policy.optimizer.param_groups:
            group["lr"] = self.adaptive_lr

    def _mirror_fns(self) -> tuple[Any, th.Tensor]:
        """The mirror of a minibatch's normalized observations (through VecNormalize's current statistics: the
        maps act on raw observations) and the action mirror matrix, as torch."""
        if self.mirror is None:
            raise ValueError("symmetry_coef > 0 needs the task's mirror (LocomotionTask.mirror); none was given")
        norm = self.get_vec_normalize_env()
        stats = norm.obs_rms if norm is not None and norm.norm_obs else None
        # the loss reads only the actor: an asymmetric policy's critic input (a height scan) is left unmirrored
        actor_key = getattr(self.policy.pi_features_extractor, "key", None)
        maps = {}
        for key, m in self.mirror.obs.items():
            if actor_key is not None and key != actor_key:
                continue
            rms = stats[key] if isinstance(stats, dict) else stats
            std = np.sqrt(rms.var + norm.epsilon) if rms is not None else np.ones(len(m))
            mean = rms.mean if rms is not None else np.zeros(len(m))
            # normalized x = (raw - mean) / std: mirrored normalized = x @ W + b
            w = (std[:, None] * m.T) / std[None, :]
            b = (mean @ m.T - mean) / std
            maps[key] = (th.as_tensor(w, dtype=th.float32), th.as_tensor(b, dtype=th.float32))
        clip = norm.clip_obs if stats is not None else np.inf

        def mirror_obs(obs: Any) -> Any:
            if isinstance(obs, dict):
                return {k: th.clamp(obs[k] @ w + b, -clip, clip) for k, (w, b) in maps.items()}
            return th.clamp(obs @ maps[""][0] + maps[""][1], -clip, clip)

        return mirror_obs, th.as_tensor(self.mirror.action.T, dtype=th.float32)

    def _train_own(self) -> None:
        """The clipped-surrogate update with the learning rate adapted after each minibatch's KL (desired_kl)
        or from SB3's schedule, and the mirror loss (symmetry_coef)."""
        self.policy.set_training_mode(True)
        desired_kl = self.current_desired_kl()
        if desired_kl is not None:
            self._set_lr(self.adaptive_lr if self.adaptive_lr is not None else self.lr_schedule(1.0))
        else:
            self._update_learning_rate(self.policy.optimizer)
        mirror_obs, action_mirror = self._mirror_fns() if self.symmetry_coef else (None, None)
        clip = self.clip_range(self._current_progress_remaining)
        clip_vf = self.clip_range_vf(self._current_progress_remaining) if self.clip_range_vf is not None else None
        stats: dict[str, list[float]] = {"policy_gradient_loss": [], "value_loss": [], "entropy_loss": [],
                                          "approx_kl": [], "clip_fraction": [], "symmetry_loss": []}  # fmt: skip
        stop = False
        for _ in range(self.n_epochs):
            for batch in self.rollout_buffer.get(self.batch_size):
                # SB3's evaluate_actions in two calls, so that the mirror loss reuses the actor's pass
                dist = self.policy.get_distribution(batch.observations)
                values = self.policy.predict_values(batch.observations)
                log_prob, entropy = dist.log_prob(batch.actions), dist.entropy()
                advantages = batch.advantages
                if self.normalize_advantage and len(advantages) > 1:
                    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
                log_ratio = log_prob - batch.old_log_prob
                ratio = th.exp(log_ratio)
                with th.no_grad():
                    kl = float(th.mean((ratio - 1) - log_ratio))
                if self.target_kl is not None and kl > 1.5 * self.target_kl:  # SB3's early stop
                    stop = True
                    break
                policy_loss = -th.min(advantages * ratio, advantages * th.clamp(ratio, 1 - clip, 1 + clip)).mean()
                values = values.flatten()
                if clip_vf is not None:
                    values = batch.old_values + th.clamp(values - batch.old_values, -clip_vf, clip_vf)
                value_loss = F.mse_loss(batch.returns, values)
                entropy_loss = -th.mean(entropy) if entropy is not None else th.mean(log_prob)
                loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss
                if mirror_obs is not None:
                    target = dist.distribution.mean.detach() @ action_mirror  # the mirror of the action in the state
                    mirrored = self.policy.get_distribution(mirror_obs(batch.observations)).distribution.mean
                    symmetry_loss = ((mirrored - target) ** 2).sum(dim=1).mean()
                    loss = loss + self.symmetry_coef * symmetry_loss
                    stats["symmetry_loss"].append(symmetry_loss.item())
                self.policy.optimizer.zero_grad()
                loss.backward()
                th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                self.policy.optimizer.step()
                with th.no_grad():
                    stats["clip_fraction"].append(float(th.mean((th.abs(ratio - 1) > clip).float())))
                stats["policy_gradient_loss"].append(policy_loss.item())
                stats["value_loss"].append(value_loss.item())
                stats["entropy_loss"].append(entropy_loss.item())
                stats["approx_kl"].append(kl)
                if desired_kl is not None:
                    if kl > 2.0 * desired_kl:
                        self._set_lr(self.adaptive_lr / 1.5)
                    elif 0.0 < kl < 0.5 * desired_kl:
                        self._set_lr(self.adaptive_lr * 1.5)
            self._n_updates += 1
            if stop:
                break
        for name, values in stats.items():
            if values:
                self.logger.record(f"train/{name}", float(np.mean(values)))
        buffer = self.rollout_buffer
        self.logger.record(
            "train/explained_variance", explained_variance(buffer.values.flatten(), buffer.returns.flatten())
        )
        self.logger.record("train/learning_rate", self.policy.optimizer.param_groups[0]["lr"])
        if desired_kl is not None:
            self.logger.record("train/desired_kl", desired_kl)
        self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
