"""The one policy loader and what validation writes: normalizer as trained, report files readable by all."""

from __future__ import annotations

import stat

import numpy as np
import pytest

from sim.policy import SB3Policy, load_policy
from tests.conftest import TINY_QUAD, train_in_process


def test_statistics_kept_with_norm_obs_off_are_never_applied(tmp_path):
    run = train_in_process(tmp_path / "run", *TINY_QUAD, "algo.normalize_kwargs.norm_obs=false")
    policy = SB3Policy(run)
    assert policy.vecnormalize is not None and not policy.vecnormalize.norm_obs
    obs = np.random.default_rng(0).normal(0, 3, (16, 45)).astype(np.float32)
    critic = np.zeros((16, 53), dtype=np.float32)
    expected, _ = policy.model.predict({"policy": obs, "critic": critic}, deterministic=True)
    np.testing.assert_array_equal(policy(obs), expected)
    from onboard.extract import from_model

    mlp = from_model(policy.model, run / "vecnormalize.pkl")
    np.testing.assert_array_equal(mlp.obs_mean, 0.0)
    np.testing.assert_array_equal(mlp.inv_std, 1.0)


def test_report_files_are_readable_by_everyone(tmp_path):
    from sim.config import ValidateConfig, load_suite
    from sim.validate import evaluate

    run = train_in_process(tmp_path / "run", *TINY_QUAD)
    vcfg = ValidateConfig(policy=str(run), suite=load_suite("nominal"), episodes=2, episode_s=0.5, warmup_s=0.1,
                          video=False)  # fmt: skip
    evaluate(vcfg, tmp_path / "out")
    for name in ("report.json", "report.md", "report.html"):
        mode = stat.S_IMODE((tmp_path / "out" / name).stat().st_mode)
        assert mode & 0o044 == 0o044, f"{name} is {oct(mode)}"
    assert load_policy(run).source["kind"] == "run"


def test_a_checkpoint_flies_as_its_own_policy_and_a_corrupt_one_is_refused(tmp_path):
    run = train_in_process(tmp_path / "run", *TINY_QUAD, "total_timesteps=3072", "checkpoint_every=1536",
                           "keep_checkpoints=0")  # fmt: skip
    first, last = sorted((run / "checkpoints").glob("step_*"))
    early, final = load_policy(first), load_policy(run)
    assert early.source["model"] == str(first / "model.zip") and early.cfg == final.cfg
    obs = np.random.default_rng(0).normal(0, 1, (8, 45)).astype(np.float32)
    np.testing.assert_array_equal(load_policy(last)(obs), SB3Policy(run, last)(obs))
    assert not np.array_equal(early(obs), final(obs))  # an earlier policy, not the final one
    (first / "model.zip").write_bytes(b"torn")
    from agents.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match="model.zip is corrupt"):
        load_policy(first)
