"""The batched quadruped task: observations, PD law, commands, randomization, determinism, faults."""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np
import pytest

from envs import presets

STILL = {"reset_pose": {"params": {"joint_noise": 0.0}}}  # episodes start exactly at the default pose


def test_observation_at_rest_is_level_gravity_and_zero_joint_error(quiet_task):
    task = quiet_task(n=3, events=STILL)
    obs = task.reset()["policy"]
    names = [t["name"] for t in task.observation_schema()]
    sizes = [t["size"] for t in task.observation_schema()]
    offsets = dict(zip(names, np.cumsum([0] + sizes[:-1])))
    grav = obs[:, offsets["projected_gravity"] : offsets["projected_gravity"] + 3]
    np.testing.assert_allclose(grav, np.tile([0, 0, -1], (3, 1)), atol=1e-6)
    joints = obs[:, offsets["joint_pos_rel"] : offsets["joint_pos_rel"] + 12]
    np.testing.assert_allclose(joints, 0.0, atol=1e-6)
    assert obs.shape == (3, 45)
    assert "base_lin_vel" not in names, "the actor must not see base linear velocity by default"
    assert "base_lin_vel" in [t["name"] for t in task.critic_manager.schema()]


def test_pd_law_and_torque_clipping(quiet_task):
    task = quiet_task(n=2, events=STILL)
    task.reset()
    sc = task.scene
    model = task.batch.get_model(0)
    data = task.batch.get_data(0)
    rng = np.random.default_rng(0)
    for error, saturate in ((0.1, False), (1.2, True)):
        data.qpos[sc.qpos_adr] = sc.default_joint_pos
        data.qvel[sc.dof_adr] = rng.uniform(-2.0, 2.0, 12)
        data.ctrl[:] = sc.default_joint_pos + error * rng.choice([-1.0, 1.0], 12)
        mujoco.mj_forward(model, data)
        q, qd = data.qpos[sc.qpos_adr], data.qvel[sc.dof_adr]
        expected = np.clip(sc.kp * (data.ctrl - q) - sc.kd * qd, -sc.torque_limit, sc.torque_limit)
        np.testing.assert_allclose(data.actuator_force, expected, rtol=1e-9, atol=1e-9)
        assert bool(np.any(np.isclose(np.abs(expected), sc.torque_limit))) == saturate
    # the task drives those actuators with default + action_scale * action
    task.step(np.full((2, 12), 0.3))
    np.testing.assert_allclose(task.ctrl[0], sc.default_joint_pos + sc.robot.action_scale * 0.3)


def test_commands_resample_on_timer_with_standing_share(quiet_task):
    task = quiet_task(n=200, commands={"velocity": {"params": {"vx": [-1.0, 1.0], "vy": [-0.5, 0.5], "yaw_rate": [-1.0, 1.0],
                                       "resample_s": [0.1, 0.1], "standing_share": 0.25}}})  # fmt: skip
    task.reset()
    first = task.command.copy()
    standing = np.all(first == 0, axis=1).mean()
    assert 0.12 < standing < 0.38
    assert np.abs(first[:, 0]).max() <= 1.0 and np.abs(first[:, 1]).max() <= 0.5
    for _ in range(5):  # 0.1 s at 50 Hz
        task.step(np.zeros((200, 12)))
    moved = ~np.isclose(task.command, first).all(axis=1)
    assert moved.mean() > 0.5


def test_heading_commands_steer_towards_a_world_heading(quiet_task):
    task = quiet_task(n=64, commands={"velocity": {"params": {"yaw_rate": [-1.0, 1.0], "standing_share": 0.0,
                                      "heading_share": 1.0, "heading_stiffness": 0.5}}})  # fmt: skip
    task.reset()
    term = task.commands.terms["velocity"]
    assert not np.isnan(term.heading).any()

    def expected() -> np.ndarray:
        w, x, y, z = task.qpos[:, 3:7].T
        yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
        return np.clip(0.5 * (np.mod(term.heading - yaw + np.pi, 2 * np.pi) - np.pi), -1.0, 1.0)

    np.testing.assert_allclose(task.command[:, 2], expected(), atol=1e-9)
    assert (np.abs(task.command[:, 2]) == 1.0).any() and (np.abs(task.command[:, 2]) < 1.0).any()
    for _ in range(3):
        task.step(np.zeros((64, 12)))
        np.testing.assert_allclose(task.command[:, 2], expected(), atol=1e-9)  # re-steered every step
    task.commands.terms["velocity"].hold(np.arange(2), np.array([0.3, 0.0, 0.2]))
    task.step(np.zeros((64, 12)))
    assert task.command[:2, 2] == pytest.approx([0.2, 0.2])  # an operator's yaw rate is not steered


def test_randomization_writes_per_env_values_that_differ(quiet_task):
    task = quiet_task(n=8, randomization="standard")
    task.reset()
    base = task.scene.base_body
    mass = task.batch.expanded("body_mass")[:, base]
    friction = task.batch.expanded("geom_friction")[:, 0, 0]
    kp = task.batch.expanded("actuator_gainprm")[:, 0, 0]
    nominal = presets.load("robot", "quadruped")
    assert len(np.unique(mass)) == 8 and len(np.unique(friction)) == 8 and len(np.unique(kp)) == 8
    assert np.all(np.abs(mass - task.model.body_mass[base]) <= 2.0 + 1e-9)
    assert np.all((kp > 35.0 * 0.9 * 0.9 - 1e-9) & (kp < 35.0 * 1.1 * 1.1 + 1e-9)) and nominal.kp == {".*": 35.0}
    # the derived constants follow the mass change
    assert not np.allclose(task.batch.expanded("body_subtreemass")[:, base], task.model.body_subtreemass[base])
    delays = task.action_delay
    assert delays.min() >= 0 and delays.max() <= 4


def test_same_seed_gives_identical_rollouts(quiet_task):
    def rollout(seed: int) -> np.ndarray:
        task = quiet_task(n=6, seed=seed, randomization="standard")
        obs = [task.reset()["policy"]]
        rng = np.random.default_rng(0)
        for _ in range(60):
            obs.append(task.step(rng.uniform(-1, 1, (6, 12))).obs["policy"])
        return np.stack(obs)

    a, b, c = rollout(3), rollout(3), rollout(4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_forced_divergence_is_reset_alone_and_counted(quiet_task):
    task = quiet_task(n=4)
    task.reset()
    task.qvel[1, :] = 1e9  # blows up env 1 only
    result = task.step(np.zeros((4, 12)))
    assert task.physics_resets == 1
    assert result.truncated[1] and not result.terminated[1] and result.reward[1] == 0.0
    assert result.infos[1].get("physics_reset")
    assert np.isfinite(result.obs["policy"]).all() and np.isfinite(result.terminal_obs["policy"]).all()
    assert not result.truncated[[0, 2, 3]].any()
    assert (task.episode_step[[0, 2, 3]] == 1).all(), "the others go on with their episodes"
    assert np.abs(task.qvel[1]).max() < 1.0, "the diverged simulation starts afresh"


def test_nan_state_never_reaches_the_policy(quiet_task):
    task = quiet_task(n=3)
    task.reset()
    task.qpos[0, 7:] = np.nan
    result = task.step(np.zeros((3, 12)))
    assert task.physics_resets == 1 and np.isfinite(result.obs["policy"]).all()
    assert all(np.isfinite(v) for v in result.infos[0]["episode_terms"].values())


def test_divergence_in_the_single_gym_env_is_truncated_with_finite_obs():
    import gymnasium as gym

    env = gym.make("LocoForge/QuadrupedFlat-v0").unwrapped
    obs, _ = env.reset(seed=0)
    env.task.qvel[0, :] = 1e9
    obs, reward, terminated, truncated, info = env.step(np.zeros(12, dtype=np.float32))
    assert truncated and not terminated and reward == 0.0 and info["physics_reset"]
    assert np.isfinite(obs["policy"]).all() and np.isfinite(obs["critic"]).all()


def test_action_delay_holds_previous_target(quiet_task):
    task = quiet_task(n=2, events={"action_delay": {"params": {"range_ms": [20.0, 20.0]}}})
    task.reset()
    assert (task.action_delay == 4).all()  # 20 ms at 5 ms physics steps: the whole policy step
    q0 = task.qpos[:, task.scene.qpos_adr].copy()
    task.step(np.ones((2, 12)))
    # the first policy step still drives the default pose: joints barely move towards +0.5 rad
    moved = np.abs(task.qpos[:, task.scene.qpos_adr] - q0).max()
    undelayed = quiet_task(n=2)
    undelayed.reset()
    q1 = undelayed.qpos[:, undelayed.scene.qpos_adr].copy()
    undelayed.step(np.ones((2, 12)))
    assert moved < 0.5 * np.abs(undelayed.qpos[:, undelayed.scene.qpos_adr] - q1).max()


def test_observation_delay_shows_older_state(quiet_task):
    delayed = quiet_task(n=1, events={**STILL, "obs_delay": {"params": {"range_ms": [20.0, 20.0]}}})
    fresh = quiet_task(n=1, events=STILL)
    joints = slice(9, 21)  # joint_pos_rel in the policy observation
    np.testing.assert_allclose(delayed.reset()["policy"][:, joints], 0.0, atol=1e-6)
    fresh.reset()
    a = np.full((1, 12), 0.8)
    # 20 ms = one policy step: the delayed observation after step 1 shows the joints as they were at reset
    np.testing.assert_allclose(delayed.step(a).obs["policy"][:, joints], 0.0, atol=1e-6)
    assert np.abs(fresh.step(a).obs["policy"][:, joints]).max() > 0.05
    # and after step 2 it shows the state after step 1
    assert np.abs(delayed.step(a).obs["policy"][:, joints]).max() > 0.05


@pytest.mark.parametrize("terrain", ["flat", "rough", "slopes", "stairs", "obstacles"])
def test_terrains_generate_and_are_walkable_at_spawn(quiet_task, terrain):
    task = quiet_task(n=8, terrain=terrain, events=STILL)
    task.reset()
    if terrain != "flat":
        assert task.terrain.heights.shape == (12 * 80, 6 * 80) and np.ptp(task.terrain.heights) > 0.05
    for _ in range(50):  # 1 s of standing with the default pose
        result = task.step(np.zeros((8, 12)))
        assert not result.terminated.any()
    height = task.qpos[:, 2] - task.terrain.height_at(task.qpos[:, :2])
    assert (height > 0.15).all()


def test_curriculum_promotes_far_walkers_and_demotes_stragglers():
    from envs.mdp.curriculum import update_levels

    rng = np.random.default_rng(0)
    levels = np.array([2, 2, 2, 9])
    new = update_levels(levels, distance=np.array([5.0, 0.1, 2.0, 6.0]), commanded_distance=np.array([5.0, 5.0, 2.0, 5.0]),
                        tile_size=8.0, n_levels=10, rng=rng)  # fmt: skip
    assert new[0] == 3 and new[1] == 1 and new[2] == 2 and 0 <= new[3] <= 9


def test_push_curriculum_grows_kicks_while_robots_stand_and_shrinks_them_when_they_fall(quiet_task):
    push = {"push": {"mode": "interval", "interval_s": [0.1, 0.2], "params": {"velocity": 0.2}}}
    grow = {"push_velocity": {"params": {"end": 0.4, "step": 0.1, "window": 4}}}
    task = quiet_task(n=4, events={**STILL, **push}, curriculum=grow,
                      sim={"physics_dt": 0.005, "decimation": 4, "episode_length_s": 0.1})  # fmt: skip
    task.reset()
    speeds = []
    for _ in range(15):  # three rounds of four 5-step episodes, all standing to their time limit
        result = task.step(np.zeros((4, 12)))
        if result.truncated.any():
            speeds.append(result.infos[0]["curriculum"]["push_velocity"])
    assert not result.terminated.any()
    assert speeds == pytest.approx([0.2, 0.3, 0.4])  # the speed each finished window ran under
    assert task.events.terms["push"].velocity == pytest.approx(0.4)  # capped at end after three raises
    term = task.curriculum.terms["push_velocity"]
    task.last_state.terminated[:] = True  # four episodes that all end in a fall
    for expected in (0.3, 0.2, 0.2):  # down a step per window, never below the push event's own speed
        task.episode_step[:] = 3
        term(np.arange(4))
        assert term.log() == pytest.approx({"push_velocity": expected, "push_fall_share": 1.0})
    with pytest.raises(ValueError, match="env.curriculum.push_velocity: needs an env.events.push term"):
        quiet_task(n=2, curriculum=grow)
    with pytest.raises(ValueError, match="need end >= the push velocity"):
        quiet_task(n=2, events=push, curriculum={"push_velocity": {"params": {"end": 0.1}}})


def test_push_can_spare_robots_walking_down_hills_of_slopes_and_stairs(quiet_task):
    push = {"mode": "interval", "interval_s": [8.0, 12.0], "params": {"velocity": 1.0, "spare_descents": True}}
    task = quiet_task(n=20, terrain="mixed", events={**STILL, "push": push})
    task.reset()
    terrain = task.terrain
    hill = np.array([terrain.column_kind[c] in ("slopes", "stairs") and terrain.column_sign[c] > 0 for c in task.cols])
    assert 0 < hill.sum() < len(hill)  # the mixed terrain has descents and other tiles
    before = task.qvel[:, :2].copy()
    task.events.terms["push"](np.arange(20))
    kicked = np.any(task.qvel[:, :2] != before, axis=1)
    assert (kicked == ~hill).all()  # every robot off a hill is kicked, none on one
    plain = quiet_task(n=20, terrain="mixed", events={**STILL, "push": {**push, "params": {"velocity": 1.0}}})
    plain.reset()
    before = plain.qvel[:, :2].copy()
    plain.events.terms["push"](np.arange(20))
    assert np.all(plain.qvel[:, :2] != before)  # by default every robot is kicked, hills too
    bad = {**push, "params": {"spare_descents": "yes"}}
    with pytest.raises(ValueError, match="env.events.push.params.spare_descents: 'yes'; accepted: true or false"):
        quiet_task(n=2, events={**STILL, "push": bad})


def test_push_schedule_switches_to_hard_kicks_once_training_has_come_far_enough(quiet_task):
    push = {"push": {"mode": "interval", "interval_s": [8.0, 12.0], "params": {"velocity": 0.5}}}
    hard = {"push_schedule": {"params": {"at_steps": 1000, "velocity": 1.0, "interval_s": [0.05, 0.1]}}}
    task = quiet_task(n=4, events={**STILL, **push}, curriculum=hard,
                      sim={"physics_dt": 0.005, "decimation": 4, "episode_length_s": 0.1})  # fmt: skip
    task.reset()
    kicks, first_kick = [], []
    for steps in (999, 1000, 1005):  # the trainer's count before the switch, at it, after; episodes end every 5 steps
        task.training_steps = steps
        for _ in range(5):
            result = task.step(np.zeros((4, 12)))
        assert result.truncated.all()
        kicks.append(result.infos[0]["curriculum"]["push_velocity"])
        first_kick.append(task.events.timers["push"].copy())  # drawn for the episodes that just began
    assert kicks == [0.5, 0.5, 1.0]  # the speed each finished episode ran under: the switch comes at a reset
    assert ((first_kick[0] >= 8.0) & (first_kick[0] <= 12.0)).all()
    for drawn in first_kick[1:]:
        assert ((drawn >= 0.05) & (drawn <= 0.1)).all()
    assert task.events.intervals["push"] == [0.05, 0.1] and task.events.terms["push"].velocity == 1.0
    calm = quiet_task(n=2, events=STILL, curriculum=hard, sim={"physics_dt": 0.005, "decimation": 4, "episode_length_s": 0.1})
    calm.training_steps = 2000  # no push event (randomization=none): nothing to switch, nothing to log
    result = [calm.step(np.zeros((2, 12))) for _ in range(5)][-1]
    assert result.truncated.all() and "curriculum" not in result.infos[0] and "push" not in calm.events.terms
    once = {"push": {"mode": "reset", "params": {"velocity": 0.5}}}
    with pytest.raises(ValueError, match="env.curriculum.push_schedule: needs env.events.push in interval mode, got mode reset"):
        quiet_task(n=2, events={**STILL, **once}, curriculum=hard)
    with pytest.raises(ValueError, match="need at_steps >= 0 and velocity >= 0"):
        quiet_task(n=2, events={**STILL, **push}, curriculum={"push_schedule": {"params": {"at_steps": -1, "velocity": 1.0}}})
    with pytest.raises(ValueError, match=r"push_schedule.params.interval_s: \[3.0, 1.0\] is not a range"):
        quiet_task(n=2, events={**STILL, **push},
                   curriculum={"push_schedule": {"params": {"at_steps": 0, "velocity": 1.0, "interval_s": [3.0, 1.0]}}})


def test_second_robot_trains_through_its_config(quiet_task):
    task = quiet_task(n=2, robot="quadruped_large", events=STILL)
    obs = task.reset()["policy"]
    assert obs.shape == (2, 45)
    assert task.scene.joint_names[0] == "LF_HAA" and task.model.body_subtreemass[task.scene.base_body] > 20.0
    for _ in range(25):
        result = task.step(np.zeros((2, 12)))
    assert not result.terminated.any()


def test_reset_obs_follow_a_terminated_episode(quiet_task):
    task = quiet_task(n=2, sim={"physics_dt": 0.005, "decimation": 4, "episode_length_s": 0.1})
    task.reset()
    for _ in range(5):
        result = task.step(np.zeros((2, 12)))
    assert result.truncated.all() and (task.episode_step == 0).all()
    assert "episode_terms" in result.infos[0] and "track_lin_vel_xy_exp" in result.infos[0]["episode_terms"]


def test_config_dataclasses_are_the_schema():
    from envs.config import EnvConfig

    env = presets.load("env", "quadruped_rough")
    assert isinstance(env, EnvConfig) and env.id == "LocoForge/QuadrupedRough-v0"
    assert env.rewards["flat_orientation_l2"].weight == -0.5  # rough extends flat and changes this term
    assert (
        env.rewards["track_lin_vel_xy_exp"].weight
        == presets.load("env", "quadruped_flat").rewards["track_lin_vel_xy_exp"].weight
    )
    assert dataclasses.is_dataclass(env.sim)


def test_the_rough_preset_practises_straight_commands_that_steer_a_heading():
    # half the moving commands are straight (no sideways part), and each still steers a heading for the curriculum
    from envs import task_config
    from envs.task import LocomotionTask

    cfg = task_config("quadruped_rough", randomization="none", terrain="flat")
    task = LocomotionTask(cfg, num_envs=2000, nthread=2)
    term = task.commands.terms["velocity"]
    moving = ~np.isnan(term.heading)
    assert abs(moving.mean() - 0.9) < 0.03  # standing_share 0.1; every moving command holds a heading
    straight = task.command[moving, 1] == 0.0
    assert abs(straight.mean() - 0.5) < 0.04 and (task.command[moving, 0] != 0.0).all()
