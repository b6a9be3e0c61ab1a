"""Warm start (init_from): a new run begins from another run's policy and normalizer, matched term by term."""

from __future__ import annotations

import json

import numpy as np
from omegaconf import OmegaConf

from tests.conftest import TINY_QUAD, compose_train, start_training, train_in_process

WITH_VELOCITY = "+env.observations={base_lin_vel:{scale:2.0}}"  # the actor also reads what only the critic had


def test_terms_match_by_name_size_params_scale_and_clip_wherever_they_sit():
    from agents.warm_start import match

    def term(name, size, scale=1.0, params=None):
        return {"name": name, "size": size, "scale": scale, "clip": None, **({"params": params} if params else {})}

    old = [term("gravity", 3), term("joints", 12), term("scan", 4, params={"size": [1.0, 1.0]})]
    new = [term("scan", 4, params={"size": [1.0, 1.0]}), term("velocity", 3), term("gravity", 3),
           term("joints", 12, scale=0.5)]  # fmt: skip
    new_cols, old_cols = match(new, old)
    assert new_cols.tolist() == [0, 1, 2, 3, 7, 8, 9]  # scan and gravity; the rescaled joints are another input
    assert old_cols.tolist() == [15, 16, 17, 18, 0, 1, 2]


def test_warm_started_policy_acts_as_its_source_and_takes_new_statistics_from_the_critic(tmp_path):
    from agents import algos
    from agents.policy import SB3Policy
    from agents.trainer import _normalize, make_env
    from agents.warm_start import warm_start

    source = train_in_process(tmp_path / "source", *TINY_QUAD)
    cfg = compose_train(*TINY_QUAD, WITH_VELOCITY)
    env = _normalize(cfg, make_env(cfg, 16, 7), training=True)
    model = algos.make_model(OmegaConf.to_object(cfg.algo), env, 7, "cpu", None)
    done = warm_start(model, env, source)
    assert done["new_inputs"] == {"policy": ["base_lin_vel"], "critic": []}
    assert done["fresh_statistics"] == [] and done["layers_with_new_inputs"] == ["mlp_extractor.policy_net.0.weight"]

    old = SB3Policy(source)
    raw = env.venv.reset()
    for _ in range(5):  # states away from the reset pose
        raw, *_ = env.venv.step(np.random.default_rng(0).uniform(-1, 1, size=(16, 12)).astype(np.float32))
    actions, _ = model.predict(env.normalize_obs(raw), deterministic=True)
    np.testing.assert_allclose(actions, old(raw["policy"][:, :45]), atol=1e-5)  # the new columns weigh zero
    first = model.policy.state_dict()["mlp_extractor.policy_net.0.weight"]
    assert first[:, 45:].abs().max() == 0 and first[:, :45].abs().max() > 0
    source_critic = old.vecnormalize.obs_rms["critic"]  # base_lin_vel is the critic's first term
    np.testing.assert_allclose(env.obs_rms["policy"].mean[45:], source_critic.mean[:3])
    np.testing.assert_allclose(env.obs_rms["policy"].var[45:], source_critic.var[:3])


def test_train_records_the_warm_start_and_refuses_what_cannot_start_from_a_source(tmp_path):
    source = train_in_process(tmp_path / "source", *TINY_QUAD)
    run = train_in_process(tmp_path / "warm", *TINY_QUAD, WITH_VELOCITY, f"init_from={source}")
    record = json.loads((run / "run.json").read_text())["init_from"]
    assert record["source"] == str(source / "model.zip") and record["new_inputs"]["policy"] == ["base_lin_vel"]
    missing = start_training(tmp_path / "a", *TINY_QUAD, f"init_from={tmp_path / 'nowhere'}")
    assert missing.startswith("error: init_from:") and "neither a run directory" in missing
    wider = start_training(tmp_path / "b", *TINY_QUAD, f"init_from={source}", "algo.policy_kwargs.net_arch.pi=[32]")
    assert wider.startswith("error: init_from: parameter") and "same network sizes" in wider
    assert not (tmp_path / "b" / "run.json").exists()  # refused before anything was written


def test_a_stacked_term_matches_its_newest_steps():
    from agents.warm_start import match

    def term(name, size, history=1):
        return {"name": name, "size": size * history, "scale": 1.0, "clip": None,
                **({"history": history} if history > 1 else {})}  # fmt: skip

    old = [term("gravity", 3), term("joints", 2, history=2)]
    new = [term("joints", 2, history=3), term("gravity", 3, history=2)]
    new_cols, old_cols = match(new, old)
    assert new_cols.tolist() == [2, 3, 4, 5, 9, 10, 11]  # the 2 newest joint steps, the newest gravity step
    assert old_cols.tolist() == [3, 4, 5, 6, 0, 1, 2]


def test_a_blind_policy_warm_starts_a_stacked_one_that_first_acts_as_it_did(tmp_path):
    from agents import algos
    from agents.policy import SB3Policy
    from agents.trainer import _normalize, make_env
    from agents.warm_start import warm_start

    source = train_in_process(tmp_path / "source", *TINY_QUAD)
    cfg = compose_train(*TINY_QUAD, "env.observations.joint_vel.history=3")
    env = _normalize(cfg, make_env(cfg, 16, 7), training=True)
    model = algos.make_model(OmegaConf.to_object(cfg.algo), env, 7, "cpu", None)
    done = warm_start(model, env, source)
    assert done["fresh_statistics"] == [] and done["layers_with_new_inputs"] == ["mlp_extractor.policy_net.0.weight"]
    schema = env.get_attr("obs_manager", [0])[0].schema()
    start = sum(t["size"] for t in schema[: [t["name"] for t in schema].index("joint_vel")])
    older, newest = np.arange(start, start + 24), np.arange(start + 24, start + 36)
    old = SB3Policy(source)
    raw = env.venv.reset()
    for _ in range(5):
        raw, *_ = env.venv.step(np.random.default_rng(0).uniform(-1, 1, size=(16, 12)).astype(np.float32))
    blind = np.delete(raw["policy"], older, axis=1)  # the source's observation: the newest step only
    actions, _ = model.predict(env.normalize_obs(raw), deterministic=True)
    np.testing.assert_allclose(actions, old(blind), atol=1e-5)
    first = model.policy.state_dict()["mlp_extractor.policy_net.0.weight"]
    assert first[:, older].abs().max() == 0 and first[:, newest].abs().max() > 0
    rms = env.obs_rms["policy"]
    np.testing.assert_allclose(rms.var[older].reshape(2, 12), np.tile(rms.var[newest], (2, 1)))
    assert not np.allclose(rms.var[newest], 1.0)  # the source's statistics, not fresh ones
