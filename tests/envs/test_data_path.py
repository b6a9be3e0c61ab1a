"""The task's data path: faults on the first step, what actor and critic observe, terminal observations,
terrain heights against MuJoCo's own ray casts, config sources, and headless rendering."""

from __future__ import annotations

import os
import subprocess
import sys

import mujoco
import numpy as np
import pytest
from mujoco.batch import SimulationError

from envs import task_config


def test_simulation_error_on_the_very_first_step_resets_that_env_only(quiet_task):
    task = quiet_task(n=4)
    task.reset()
    real = task.batch.rollout

    def failing(nstep, control, control_spec, record, out):
        keep = np.array([0, 2, 3])
        part = real(nstep, control=control[keep], control_spec=control_spec, record=record, ids=keep)
        for key in record:
            out[key][keep] = part[key]
        raise SimulationError(np.array([1]), "mj_step: simulated failure")

    task.batch.rollout = failing
    result = task.step(np.zeros((4, 12)))
    assert task.physics_resets == 1 and result.truncated[1] and result.infos[1]["physics_reset"]
    assert np.isfinite(result.obs["policy"]).all() and not result.truncated[[0, 2, 3]].any()


def test_critic_sees_the_current_state_while_the_actor_sees_the_delayed_one(quiet_task):
    task = quiet_task(n=1, events={"obs_delay": {"params": {"range_ms": [20.0, 20.0]}},
                                   "reset_pose": {"params": {"joint_noise": 0.0}}})  # fmt: skip
    task.reset()
    obs = task.step(np.full((1, 12), 0.8)).obs
    now = task.qpos[:, task.scene.qpos_adr] - task.scene.default_joint_pos
    # actor: base_ang_vel, projected_gravity, velocity_command, joint_pos_rel...; critic: base_lin_vel first
    np.testing.assert_allclose(obs["policy"][:, 9:21], 0.0, atol=1e-6)
    np.testing.assert_allclose(obs["critic"][:, 12:24], now, atol=1e-5)
    assert np.abs(now).max() > 0.05


def test_a_finished_episode_keeps_its_command_in_the_terminal_observation(quiet_task):
    task = quiet_task(n=8, commands={"velocity": {"params": {"resample_s": [0.1, 0.1], "standing_share": 0.0}}},
                      sim={"episode_length_s": 0.1})  # fmt: skip
    task.reset()
    for _ in range(4):
        task.step(np.zeros((8, 12)))
    in_force = task.command.copy()
    result = task.step(np.zeros((8, 12)))  # the 5th step: time limit and command timer together
    assert result.truncated.all()
    np.testing.assert_allclose(result.terminal_obs["policy"][:, 6:9], in_force, atol=1e-6)
    assert not np.allclose(task.command, in_force), "the next episodes draw new commands"


@pytest.mark.parametrize("kind", ["rough", "slopes", "stairs", "obstacles", "mixed"])
def test_terrain_heights_match_mujocos_ray_casts(kind):
    from envs.terrain import Terrain

    cfg = task_config(terrain=kind).terrain
    cfg.n_levels, cfg.n_cols, cfg.tile_size = 2, (4 if kind == "mixed" else 2), 3.0
    terrain = Terrain(cfg, seed=0)
    spec = mujoco.MjSpec()
    terrain.add_to_spec(spec)
    model = spec.compile()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    fx, fy = terrain.field_xy
    points = np.random.default_rng(1).uniform([-1.0, -1.0], [fx + 1.0, fy + 1.0], size=(1500, 2))
    hit = np.zeros(1, np.int32)
    down = np.array([0.0, 0.0, -1.0])
    truth = np.array(
        [5.0 - mujoco.mj_ray(model, data, np.array([x, y, 5.0]), down, None, 1, -1, hit) for x, y in points]
    )
    np.testing.assert_allclose(terrain.height_at(points), truth, atol=1e-6)
    if kind != "rough":  # pits and sunk blocks: their floor is below 0 and the robot can reach it
        assert truth.min() < -0.1


def test_task_config_from_every_source_is_the_same(tmp_path):
    from omegaconf import OmegaConf

    from tests.conftest import compose_train

    composed = compose_train("robot=quadruped_large", "env.sim.decimation=5")
    from_train = task_config(composed)
    (tmp_path / "config.yaml").write_text(OmegaConf.to_yaml(composed, resolve=True))
    from_saved = task_config(OmegaConf.load(tmp_path / "config.yaml"))
    assert (
        from_train == from_saved and from_train.robot.name == "quadruped_large" and from_train.env.sim.decimation == 5
    )
    robot_file = tmp_path / "my_robot.yaml"
    robot_file.write_text(OmegaConf.to_yaml(OmegaConf.structured(from_train.robot)))
    assert task_config(robot=str(robot_file)).robot == from_train.robot
    with pytest.raises(ValueError, match="robot: unknown preset 'spot'; accepted: biped, quadruped, quadruped_large"):
        task_config(robot="spot")
    with pytest.raises(ValueError, match=r"task config: unknown override\(s\) \['robott'\]; accepted: env, robot"):
        task_config(robott="quadruped")
    with pytest.raises(ValueError, match="^env: Key 'decimatoin' not in 'SimConfig'$"):
        task_config(sim={"decimatoin": 3})  # a misspelt field inside a dict override: one line too
    with pytest.raises(ValueError, match="^robot: Key 'kpp' not in 'RobotConfig'$"):
        task_config(robot={"kpp": {".*": 1.0}})


def test_rendering_picks_a_headless_backend_by_itself():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MUJOCO_GL", "PYOPENGL_PLATFORM")}
    code = ("import os, gymnasium as gym, envs; from gymnasium.utils.env_checker import check_env; "
            "e = gym.make('LocoForge/QuadrupedFlat-v0', render_mode='rgb_array').unwrapped; check_env(e); "
            "e.reset(seed=0); print(os.environ['MUJOCO_GL'], e.render().shape)")  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-4:] == [os.environ.get("LF_EXPECT_GL", "egl"), "(360,", "480,", "3)"]


def test_robot_mass_follows_the_randomized_payload(quiet_task):
    from sim.runner import robot_mass

    nominal = quiet_task(n=2)
    loaded = quiet_task(n=2, events={"physics": {"params": {"added_mass": [3.0, 3.0]}}})
    loaded.reset()
    np.testing.assert_allclose(robot_mass(loaded), robot_mass(nominal) + 3.0)
    assert robot_mass(nominal)[0] == pytest.approx(nominal.model.body_subtreemass[nominal.scene.base_body])
