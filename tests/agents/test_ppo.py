"""agents/ppo.py: the KL-adaptive learning rate follows rsl_rl's rule, and torch hands its cores to the
physics while rollouts are collected."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th

import envs
from agents.ppo import LR_BOUNDS, PPO
from tests.conftest import TINY_QUAD, start_training


def model(desired_kl: float | None, lr: float = 1e-3, **kwargs) -> PPO:
    venv = envs.make_vec("LocoForge/QuadrupedFlat-v0", num_envs=4, seed=0, nthread=2, randomization="none")
    return PPO("MultiInputPolicy", venv, n_steps=16, batch_size=16, n_epochs=2, learning_rate=lr, seed=0,
               desired_kl=desired_kl, policy_kwargs={"net_arch": [16]}, **kwargs)  # fmt: skip


def test_the_learning_rate_grows_while_kl_is_small_and_shrinks_while_it_is_large():
    # one rollout: 2 epochs x 4 minibatches of 16 (4 envs x 16 steps); the first minibatch's KL may be exactly
    # 0 (the policy has not moved yet), which leaves the rate alone
    calm = model(desired_kl=1e3, lr=1e-4)  # every KL far below desired/2: x1.5 per minibatch
    calm.learn(64)
    assert any(calm.adaptive_lr == pytest.approx(1e-4 * 1.5**k) for k in (7, 8)), calm.adaptive_lr
    assert [g["lr"] for g in calm.policy.optimizer.param_groups] == [calm.adaptive_lr]
    wild = model(desired_kl=1e-12)  # every KL above twice desired: /1.5 per minibatch
    wild.learn(64)
    assert any(wild.adaptive_lr == pytest.approx(1e-3 / 1.5**k) for k in (7, 8)), wild.adaptive_lr
    bounded = model(desired_kl=1e3, lr=5e-3)  # never past the bounds
    bounded.learn(2 * 64)
    assert bounded.adaptive_lr == LR_BOUNDS[1]
    still = model(desired_kl=None)  # SB3's schedule: the constant learning rate
    still.learn(64)
    assert still.adaptive_lr is None and still.policy.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)


def test_the_adaptive_update_learns_and_logs_what_sb3_logs():
    m = model(desired_kl=0.01)
    before = [p.detach().clone() for p in m.policy.parameters()]
    m.learn(64)
    assert any(not th.equal(a, b) for a, b in zip(before, m.policy.parameters(), strict=True))
    logged = m.logger.name_to_value
    for key in ("train/approx_kl", "train/clip_fraction", "train/value_loss", "train/policy_gradient_loss",
                "train/entropy_loss", "train/learning_rate", "train/explained_variance", "train/std"):  # fmt: skip
        assert np.isfinite(logged[key]), key
    assert logged["train/learning_rate"] == m.adaptive_lr and logged["train/approx_kl"] >= 0


def test_torch_runs_one_thread_while_rollouts_are_collected_and_all_for_the_update():
    m = model(desired_kl=None)
    seen: dict[str, list[int]] = {"rollout": [], "update": []}
    step_wait, train = m.env.step_wait, PPO.train

    def recording_step_wait():
        seen["rollout"].append(th.get_num_threads())
        return step_wait()

    def recording_train(self):
        seen["update"].append(th.get_num_threads())
        return train(self)

    th.set_num_threads(2)
    m.env.step_wait = recording_step_wait
    m.train = recording_train.__get__(m)
    m.learn(128)  # two rollouts of 64
    assert set(seen["rollout"]) == {1} and seen["update"] == [2, 2]
    assert th.get_num_threads() == 2


def test_a_non_positive_desired_kl_is_refused_in_one_line(tmp_path):
    answer = start_training(tmp_path / "run", *TINY_QUAD, "+algo.hyperparams.desired_kl=-0.01")
    assert answer == "error: algo.hyperparams: desired_kl must be > 0 (or null for SB3's schedule), got -0.01"
    assert not (tmp_path / "run").exists()
