"""agents/ppo.py: the KL-adaptive learning rate follows rsl_rl's rule, and torch hands its cores to the
physics while rollouts are collected."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.vec_env import VecNormalize

import envs
from agents.algos import task_mirror
from agents.ppo import LR_BOUNDS, PPO
from tests.conftest import REPO, TINY_QUAD, start_training

HUMANOID_YAML = REPO / "tests" / "fixtures" / "menagerie_humanoid" / "robot.yaml"


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


def test_the_kl_target_changes_at_its_scheduled_step():
    # desired 1e3 for the first rollout (64 steps: the rate grows), 1e-12 from step 128 on (it shrinks)
    m = model(desired_kl=1e3, lr=1e-4, desired_kl_schedule=[[128, 1e-12]])
    m.learn(64)
    grown = m.adaptive_lr
    assert grown > 1e-4 and m.logger.name_to_value["train/desired_kl"] == 1e3
    m.learn(64, reset_num_timesteps=False)  # this rollout ends at step 128
    assert m.adaptive_lr < grown / 1.5**6 and m.logger.name_to_value["train/desired_kl"] == 1e-12
    targets = []
    for step in (0, 127, 128, 10**9):
        m.num_timesteps = step
        targets.append(m.current_desired_kl())
    assert targets == [1e3, 1e3, 1e-12, 1e-12]


@pytest.mark.parametrize(("schedule", "error"), [
    ("[[100,0.01]]", "desired_kl_schedule needs desired_kl (the target before its first step)"),
    ("[[100,0.01],[50,0.02]]", "desired_kl_schedule: steps must ascend, got [100, 50]"),
    ("[[100,-0.01]]", "desired_kl_schedule: need an integer step >= 0 and kl > 0, got [100, -0.01]"),
    ("[100,0.01]", "desired_kl_schedule: each entry is [step, kl], got 100"),
    ("[[inf,0.01]]", "desired_kl_schedule: need an integer step >= 0 and kl > 0, got [inf, 0.01]"),
    ("[[100,abc]]", "desired_kl_schedule: need an integer step >= 0 and kl > 0, got [100, abc]"),
])  # fmt: skip
def test_a_bad_kl_schedule_is_refused_in_one_line(tmp_path, schedule, error):
    kl = () if "needs" in error else ("+algo.hyperparams.desired_kl=0.02",)
    answer = start_training(tmp_path / "run", *TINY_QUAD, *kl, f"+algo.hyperparams.desired_kl_schedule={schedule}")
    assert answer == f"error: algo.hyperparams: {error}"
    assert not (tmp_path / "run").exists()


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


def symmetric_model(coef: float) -> PPO:
    venv = VecNormalize(envs.make_vec("LocoForge/BipedFlat-v0", num_envs=8, seed=0, nthread=2, randomization="none"))
    return PPO("MultiInputPolicy", venv, n_steps=16, batch_size=64, n_epochs=4, learning_rate=1e-3, seed=0,
               symmetry_coef=coef, mirror=task_mirror(venv), policy_kwargs={"net_arch": [32]})  # fmt: skip


def asymmetry(m: PPO, obs: dict[str, th.Tensor]) -> float:
    """Mean squared distance between the action in the mirrored state and the mirrored action."""
    mirror_obs, action_mirror = m._mirror_fns()
    with th.no_grad():
        mean = m.policy.get_distribution(obs).distribution.mean
        return float(((m.policy.get_distribution(mirror_obs(obs)).distribution.mean - mean @ action_mirror) ** 2)
                     .sum(dim=1).mean())  # fmt: skip


def test_the_mirror_of_normalized_observations_is_the_normalized_mirror():
    m = symmetric_model(1.0)
    m.learn(128)  # the normalizer has statistics now
    norm = m.get_vec_normalize_env()
    norm.clip_obs = 1e6  # a clipped source cannot be mirrored exactly; here the affine map alone is checked
    raw = m.env.venv.task.reset()
    raw = {k: v + np.random.default_rng(0).normal(0, 0.5, v.shape).astype(np.float32) for k, v in raw.items()}
    mirror_obs, _ = m._mirror_fns()
    got = mirror_obs({k: th.as_tensor(v) for k, v in norm.normalize_obs(raw).items()})
    want = norm.normalize_obs({k: v @ m.mirror.obs[k].T for k, v in raw.items()})
    for key in raw:
        np.testing.assert_allclose(got[key].numpy(), want[key], atol=1e-4, err_msg=key)


def test_an_asymmetric_policy_mirrors_only_what_its_actor_reads():
    from agents.policies import AsymmetricActorCriticPolicy

    venv = VecNormalize(envs.make_vec("LocoForge/BipedFlat-v0", num_envs=8, seed=0, nthread=2, randomization="none"))
    m = PPO(AsymmetricActorCriticPolicy, venv, n_steps=16, batch_size=64, symmetry_coef=1.0, mirror=task_mirror(venv),
            policy_kwargs={"net_arch": [32]})  # fmt: skip
    mirror_obs, _ = m._mirror_fns()
    got = mirror_obs({k: th.ones(3, space.shape[0]) for k, space in venv.observation_space.spaces.items()})
    assert set(got) == {"policy"} and got["policy"].shape == (3, venv.observation_space["policy"].shape[0])
    m.learn(128)  # the loss runs on the actor's key alone
    assert np.isfinite(m.logger.name_to_value["train/symmetry_loss"])


def test_the_symmetry_loss_makes_the_policy_answer_mirrored_states_with_mirrored_actions():
    plain, symmetric = symmetric_model(0.0), symmetric_model(20.0)
    plain.learn(512)
    symmetric.learn(512)
    assert "train/symmetry_loss" in symmetric.logger.name_to_value
    obs = {
        k: th.as_tensor(v) for k, v in plain.get_vec_normalize_env().normalize_obs(plain.env.venv.task.reset()).items()
    }
    a_plain, a_sym = asymmetry(plain, obs), asymmetry(symmetric, obs)
    assert a_sym < 0.2 * a_plain, (a_sym, a_plain)


def test_symmetry_without_a_mirror_is_refused_in_one_line(tmp_path):
    answer = start_training(tmp_path / "run", "env=hopper", "total_timesteps=64", "num_envs=2", "eval_every=0",
                            "+algo.hyperparams.symmetry_coef=1.0")  # fmt: skip
    assert (
        answer
        == "error: algo.hyperparams: symmetry_coef: needs a LocoForge task (its robot.mirror); a Gymnasium env has none"
    )
    answer = start_training(tmp_path / "run", *TINY_QUAD, "+algo.hyperparams.symmetry_coef=-1")
    assert answer == "error: algo.hyperparams: symmetry_coef must be >= 0 (0: no symmetry loss), got -1"
    # a user's biped without robot.mirror under the biped preset (whose algo has the mirror loss)
    (tmp_path / "conf" / "robot").mkdir(parents=True)
    lines = HUMANOID_YAML.read_text().splitlines(keepends=True)
    (tmp_path / "conf" / "robot" / "sideless.yaml").write_text("".join(x for x in lines if not x.startswith("mirror:")))
    answer = start_training(tmp_path / "run", *TINY_QUAD, f"hydra.searchpath=[file://{tmp_path / 'conf'}]",
                            "robot=sideless", "env=biped_flat")  # fmt: skip
    assert answer == ("error: algo.hyperparams: symmetry_coef: robot.mirror: empty; give the substrings naming the two "
                      "sides, e.g. {left_: right_}; or train without the mirror loss (algo=ppo)")  # fmt: skip
    assert not (tmp_path / "run").exists()
