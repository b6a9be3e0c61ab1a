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


GYM_EXPERIMENTS = [name for name in presets.available("experiment") if not name.startswith("quadruped_")]


@pytest.mark.parametrize("experiment", GYM_EXPERIMENTS)
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


def test_a_new_term_comes_in_by_its_own_dotted_key():
    """`+env.curriculum.push_schedule.params.at_steps=...` adds a term to a group of typed terms (OmegaConf alone
    refuses a plain dict there): the root scripts rewrite it as a merge into the group, which keeps its terms."""
    from agents.config import TrainConfig
    from common.cli import as_merge, term_groups

    groups = term_groups(TrainConfig)
    assert {"env.rewards", "env.events", "env.curriculum", "env.observations"} <= set(groups)
    argv = ["env=quadruped_rough", "+env.curriculum.push_schedule.params.at_steps=6_000_000",
            "+env.curriculum.push_schedule.params.interval_s=[3.0,6.0]", "+env.rewards.feet_slip={weight:-0.1}",
            "+env.events.push.params.spare_descents=true"]  # fmt: skip
    with pytest.raises(Exception, match="Error merging override .env.curriculum.push_schedule"):
        train_config(*argv[:2])  # what Hydra answers the dotted key without the rewrite
    cfg = train_config(*as_merge(argv, groups))
    validate(cfg)
    assert cfg.env.curriculum.push_schedule.params == {"at_steps": 6_000_000, "interval_s": [3.0, 6.0]}
    assert cfg.env.curriculum.terrain_levels.params.promote_share == 0.5  # the preset's term stays
    assert cfg.env.rewards.feet_slip.weight == -0.1 and cfg.env.rewards.feet_clearance.weight == -20.0
    assert cfg.env.events.push.params == {"velocity": 0.5, "spare_descents": True}
    # a sweep's list, a '++' and a plain override are Hydra's to read as written
    kept = ["+env.rewards.feet_slip.weight=-0.1,-0.2", "+env.rewards.feet_slip.weight=choice(-0.1,-0.2)",
            "++env.rewards.feet_slip.weight=1", "env.rewards.x=1", "seed=3"]
    assert as_merge(kept, groups) == kept


def test_the_terrain_second_stage_is_the_documented_command_and_needs_its_first_stage(tmp_path):
    """+experiment=quadruped_rough_stage2 composes to the command its README figures were measured with, and a
    start without init_from (which would train 8M steps from scratch) is refused before anything is written."""
    from omegaconf import OmegaConf

    from tests.conftest import start_training

    stage2 = train_config("+experiment=quadruped_rough_stage2", "init_from=outputs/rough")
    measured = train_config("env=quadruped_rough", "init_from=outputs/rough", "total_timesteps=8_000_000",
                            "keep_checkpoints=0", "+algo.hyperparams.desired_kl_schedule=[[6000000,0.01]]",
                            "+env.curriculum={push_schedule:{params:{at_steps:6000000,velocity:1.0,interval_s:[3.0,6.0]}}}")  # fmt: skip
    assert OmegaConf.to_container(stage2.env) == OmegaConf.to_container(measured.env)
    assert OmegaConf.to_container(stage2.algo) == OmegaConf.to_container(measured.algo)
    assert (stage2.total_timesteps, stage2.keep_checkpoints, stage2.init_from) == (8_000_000, 0, "outputs/rough")
    answer = start_training(tmp_path / "run", "+experiment=quadruped_rough_stage2", "num_envs=4")
    assert answer == ("error: init_from: this configuration needs it: give the env=quadruped_rough run to continue, "
                      "e.g. init_from=outputs/rough")  # fmt: skip
    assert not (tmp_path / "run").exists()
