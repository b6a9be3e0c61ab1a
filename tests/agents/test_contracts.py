"""In-process checks of what the trainer relies on: SB3's VecEnv info contract, VecNormalize over Dict
observations, the asymmetric actor-critic, checkpointed random streams, config checks, the last eval row."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3.common.vec_env import VecNormalize

import envs
from tests.conftest import TINY_QUAD, compose_train, train_in_process


def quiet_vec(n: int = 4, **overrides):
    overrides = {"randomization": "none", **overrides}
    return envs.make_vec("LocoForge/QuadrupedFlat-v0", num_envs=n, seed=0, nthread=2, **overrides)


def test_vecenv_reports_terminal_observation_and_truncation_as_sb3_expects():
    venv = quiet_vec(3, sim={"episode_length_s": 0.06})
    venv.reset()
    venv.task.qpos[2, 2] = -1.0  # env 2's base below the ground: base contact ends its episode as a failure
    obs, reward, dones, infos = venv.step(np.zeros((3, 12)))
    assert dones.tolist() == [False, False, True] and infos[2]["TimeLimit.truncated"] is False
    assert "terminal_observation" not in infos[0]
    for _ in range(2):  # the time limit: 3 steps of 20 ms
        obs, reward, dones, infos = venv.step(np.zeros((3, 12)))
    assert dones.tolist() == [True, True, False] and infos[0]["TimeLimit.truncated"] is True
    for info in infos[:2]:
        assert set(info["terminal_observation"]) == {"policy", "critic"}
        assert info["terminal_observation"]["policy"].shape == (45,)
    assert not np.array_equal(obs["policy"][0], infos[0]["terminal_observation"]["policy"]), "obs is the reset one"


def test_vecnormalize_normalizes_both_keys_of_the_dict_observation():
    venv = VecNormalize(quiet_vec(8, randomization="standard"), norm_obs=True, norm_reward=True)
    venv.reset()
    rng = np.random.default_rng(0)
    for _ in range(20):
        venv.step(rng.uniform(-1, 1, (8, 12)))
    assert set(venv.obs_rms) == {"policy", "critic"}
    assert venv.obs_rms["policy"].mean.shape == (45,) and venv.obs_rms["critic"].mean.shape == (53,)
    raw = venv.get_original_obs()
    normed = venv.normalize_obs(raw)
    assert not np.allclose(normed["critic"], raw["critic"]) and not np.allclose(normed["policy"], raw["policy"])


def test_asymmetric_policy_acts_from_the_policy_key_alone():
    from stable_baselines3 import PPO

    from agents.policies import AsymmetricActorCriticPolicy

    venv = quiet_vec(2)
    model = PPO(AsymmetricActorCriticPolicy, venv, n_steps=8, batch_size=16, seed=0,
                policy_kwargs={"net_arch": {"pi": [16], "vf": [32]}})  # fmt: skip
    assert model.policy.pi_features_extractor.features_dim == 45
    assert model.policy.vf_features_extractor.features_dim == 53
    obs = venv.reset()
    action, _ = model.predict(obs, deterministic=True)
    other = {"policy": obs["policy"], "critic": obs["critic"] + 5.0}
    np.testing.assert_array_equal(model.predict(other, deterministic=True)[0], action)
    import torch as th

    with th.no_grad():
        v1 = model.policy.predict_values(model.policy.obs_to_tensor(obs)[0])
        v2 = model.policy.predict_values(model.policy.obs_to_tensor(other)[0])
    assert not th.allclose(v1, v2), "the critic reads its own key"


def test_task_random_stream_is_checkpointed_and_restored():
    from agents.checkpoint import rng_state, set_rng_state

    venv = quiet_vec(2)
    state = rng_state(venv)
    assert state["env"] is not None
    ahead = venv.task.rng.uniform(size=5)
    set_rng_state(state, venv)
    np.testing.assert_array_equal(venv.task.rng.uniform(size=5), ahead)


@pytest.mark.parametrize("override,message", [
    ("+algo.policy_kwargs.net_arc=[64]", "algo.policy_kwargs: 'net_arc' is not an argument of ActorCriticPolicy; accepted:"),
    ("+algo.normalize_kwargs.clip_ob=5", "algo.normalize_kwargs: 'clip_ob' is not a VecNormalize argument; accepted:"),
    ("algo.policy=CnnPolice", "algo.policy: unknown 'CnnPolice'; accepted: MlpPolicy"),
])  # fmt: skip
def test_bad_policy_and_normalizer_arguments_fail_in_one_line(override, message):
    from agents.trainer import ConfigError, validate

    with pytest.raises(ConfigError) as err:
        validate(compose_train(override))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_run_shorter_than_eval_every_still_ends_with_an_evaluation(tmp_path):
    run = train_in_process(tmp_path / "run", *TINY_QUAD[:-3], "eval_every=1000000", "eval_episodes=2", "eval_envs=2",
                           "checkpoint_every=0", "env.sim.episode_length_s=0.5")  # fmt: skip
    rows = (run / "eval.csv").read_text().splitlines()
    assert rows[0] == "step,mean_return,std_return,mean_length" and len(rows) == 2
    assert int(rows[1].split(",")[0]) == 1536 and float(rows[1].split(",")[3]) > 0


def test_off_policy_run_saves_the_task_it_trained_on(tmp_path):
    from omegaconf import OmegaConf

    run = train_in_process(tmp_path / "sac", "algo=sac", "total_timesteps=64", "num_envs=2", "eval_every=0",
                           "checkpoint_every=0", "+algo.hyperparams.learning_starts=32", "+algo.hyperparams.batch_size=16",
                           "+algo.policy_kwargs.net_arch=[16]")  # fmt: skip
    saved = OmegaConf.load(run / "config.yaml")
    assert dict(saved.env.critic_observations) == {}, "SB3 off-policy policies would read privileged terms"
    from sim.policy import SB3Policy

    assert SB3Policy(run).obs_dim == 45
