"""Every shipped config composes and passes the start-up checks; group interplay works as documented."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from agents.config import register
from agents.trainer import validate
from envs import presets
from tests.conftest import REPO


def train_config(*overrides: str):
    register()
    with initialize_config_dir(str(REPO / "configs"), version_base="1.3"):
        return compose("train", overrides=list(overrides))


@pytest.mark.parametrize("experiment", presets.available("experiment"))
def test_every_experiment_preset_composes_and_validates(experiment):
    cfg = train_config(f"+experiment={experiment}")
    validate(cfg)
    env, algo = experiment.rsplit("_", 1)
    assert cfg.env.kind == "gym" and cfg.algo.name == algo and cfg.num_envs == 1
    if algo == "sac":
        assert cfg.algo.hyperparams.learning_starts == 10000


@pytest.mark.parametrize("env", presets.available("env"))
@pytest.mark.parametrize("algo", ["ppo", "ppo_symmetric", "ppo_sb3", "sac", "td3", "tqc"])
def test_every_env_and_algo_composes(env, algo):
    validate(train_config(f"env={env}", f"algo={algo}"))


def test_biped_env_brings_the_symmetric_ppo_and_the_command_line_wins():
    biped = train_config("env=biped_flat")
    assert biped.robot.name == "biped" and biped.algo.name == "ppo"
    assert biped.algo.hyperparams.symmetry_coef == 0.5 and biped.algo.hyperparams.desired_kl == 0.02
    assert biped.algo.hyperparams.n_steps == train_config().algo.hyperparams.n_steps  # the rest is the flagship's
    assert "symmetry_coef" not in train_config("env=biped_flat", "algo=ppo").algo.hyperparams
    assert "symmetry_coef" not in train_config().algo.hyperparams
    assert train_config("env=biped_flat", "algo=sac").algo.name == "sac"


def test_rough_env_brings_rough_terrain_and_the_command_line_wins():
    assert train_config().terrain.kind == "plane"
    rough = train_config("env=quadruped_rough")
    assert rough.terrain.kind == "mixed" and rough.env.id == "LocoForge/QuadrupedRough-v0"
    assert rough.env.rewards.flat_orientation_l2.weight == -0.5
    assert rough.algo.hyperparams.symmetry_coef == 0.5 and rough.algo.hyperparams.desired_kl == 0.02
    assert train_config("env=quadruped_rough_scan").algo.hyperparams.symmetry_coef == 0.5
    assert "symmetry_coef" not in train_config("env=quadruped_rough", "algo=ppo").algo.hyperparams
    assert train_config("env=quadruped_rough", "terrain=stairs").terrain.kind == "stairs"
    # a tile type's range is an override of its own section
    tuned = train_config("env=quadruped_rough", "terrain.stairs.step_height=[0.05,0.18]", "terrain.rough.share=0")
    assert tuned.terrain.stairs.step_height == [0.05, 0.18] and tuned.terrain.rough.share == 0


def test_device_is_torch_device_for_train():
    assert train_config("device=cuda").device == "cuda"
    assert train_config("device=cpu").device == "cpu"


def test_event_command_and_curriculum_terms_are_overrides():
    from envs import task_config

    cfg = train_config("env.events.push.interval_s=[4,8]", "env.events.physics.params.friction=[0.3,1.5]",
                       "env.commands.velocity.params.vx=[-0.5,1.5]", "env.curriculum.terrain_levels.params.promote_share=0.6",
                       "randomization=strong")  # fmt: skip
    task = task_config(cfg)
    assert task.env.events["push"].interval_s == [4, 8] and task.env.events["push"].params["velocity"] == 1.0
    assert task.env.events["physics"].params["friction"] == [0.3, 1.5]
    assert task.env.commands["velocity"].params["vx"] == [-0.5, 1.5]
    assert task.env.curriculum["terrain_levels"].params["promote_share"] == 0.6
    assert list(train_config("randomization=none").env.events) == ["reset_pose"]
    assert train_config("randomization=none").env.obs_noise_scale == 0.0
