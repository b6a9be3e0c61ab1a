"""The biped: its robot file and task, the two-feet and gait-clock terms, and the refusals of configs that do
not fit a biped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from envs import task_config
from envs.mdp import observations, rewards
from envs.task import LocomotionTask
from tests.conftest import REPO, TINY_QUAD, train_in_process
from tests.envs.test_terms import make_state


@pytest.fixture(scope="module")
def biped() -> LocomotionTask:
    task = LocomotionTask(task_config("biped_flat", randomization="none"), num_envs=4, seed=0, nthread=1)
    task.reset()
    return task


def test_the_biped_stands_at_its_nominal_height_on_flat_feet(biped):
    sc, model = biped.scene, biped.model
    assert sc.num_joints == 12 and sc.robot.feet == ["left_foot", "right_foot"] and not sc.held_joints
    assert model.body_subtreemass[sc.base_body] == pytest.approx(15.2, abs=0.1)
    for _ in range(25):  # half a second at the default pose
        biped.step(np.zeros((4, 12)))
    s = biped.last_state
    assert not s.terminated.any() and s.feet_contact.all()
    assert s.base_height == pytest.approx(np.full(4, sc.robot.nominal_height), abs=0.02)
    assert np.abs(s.feet_zaxis[:, :, :2]).max() < 0.1  # soles flat on the ground
    assert s.feet_height == pytest.approx(np.full((4, 2), 0.012), abs=0.01)  # sole box half-height above ground
    head = model.geom("head")
    top = biped.batch.bind("geom_xpos")[0, head.id, 2] + model.geom_size[head.id, 0]
    assert 0.8 <= top <= 0.95  # tall as the class of robot


def test_the_gait_clock_runs_one_period_with_the_feet_half_a_period_apart(biped):
    gait = biped.cfg.gait
    biped.reset()
    phases = []
    for _ in range(int(round(gait.period_s / biped.dt))):
        biped.step(np.zeros((4, 12)))
        phases.append(biped.last_state.gait_phase[0].copy())
    phases = np.array(phases)
    assert np.diff(phases[:, 0])[:5] == pytest.approx(np.full(5, biped.dt / gait.period_s))
    assert np.mod(phases[:, 1] - phases[:, 0], 1.0) == pytest.approx(np.full(len(phases), 0.5))
    clock = observations.gait_clock(biped.last_state)
    angle = 2 * np.pi * biped.last_state.gait_phase[:, 0]
    np.testing.assert_allclose(clock, np.stack([np.sin(angle), np.cos(angle)], axis=1))
    assert np.linalg.norm(clock, axis=1) == pytest.approx(np.ones(4))


def _feet(n=2, **fields):
    nf = 2
    base = dict(feet_contact=np.zeros((n, nf), dtype=bool), feet_pos=np.zeros((n, nf, 3)), feet_vel=np.zeros((n, nf, 3)),
                feet_zaxis=np.tile([0, 0, 1.0], (n, nf, 1)), feet_height=np.zeros((n, nf)))  # fmt: skip
    base.update(fields)
    return make_state(n, **base)


def test_feet_terms_on_hand_made_states():
    moving = np.array([[0.5, 0, 0], [0.5, 0, 0]])
    vel = np.zeros((2, 2, 3))
    vel[0, 0, :2] = [0.3, 0.4]  # 0.5 m/s planar
    s = _feet(feet_contact=np.array([[True, False], [False, False]]), feet_vel=vel)
    assert rewards.feet_slip(s) == pytest.approx([0.25, 0.0])  # only the planted foot's slide counts
    height = np.array([[0.0, 0.02], [0.08, 0.1]])
    vel = np.zeros((2, 2, 3))
    vel[:, :, 0] = 1.0
    s = _feet(feet_height=height, feet_vel=vel, command=moving)
    assert rewards.feet_clearance(s, height=0.08) == pytest.approx([0.08**2 + 0.06**2, 0.0])
    assert rewards.feet_clearance(_feet(feet_height=height, feet_vel=vel), height=0.08) == pytest.approx([0, 0])
    pos = np.zeros((2, 2, 3))
    pos[0, 1, 1], pos[1, 1, 1] = 0.05, 0.2
    assert rewards.feet_distance(_feet(feet_pos=pos), minimum=0.12) == pytest.approx([0.07, 0.0])
    tilt = np.tile([0, 0, 1.0], (2, 2, 1))
    tilt[0, 0] = [0.6, 0.0, 0.8]
    s = _feet(feet_zaxis=tilt, feet_contact=np.array([[True, True], [False, False]]))
    assert rewards.feet_flat(s) == pytest.approx([0.36, 0.0])


def test_joint_deviation_reads_the_joints_its_pattern_names():
    s = make_state(joint_pos=np.tile(np.arange(12) * 0.1, (2, 1)),
                   joint_names=[f"{side}_{j}" for side in ("left", "right") for j in ("hip_yaw", "hip_roll", "hip_pitch",
                                                                                      "knee", "ankle_pitch", "ankle_roll")])  # fmt: skip
    term = rewards.JointDeviationL1(s, joints="hip_(yaw|roll)")
    assert term(s) == pytest.approx(np.full(2, 0.0 + 0.1 + 0.6 + 0.7))
    with pytest.raises(ValueError, match="joints: 'waist' matches none of left_hip_yaw"):
        rewards.JointDeviationL1(s, joints="waist")


def test_gait_contact_and_single_stance_reward_the_gait_they_describe():
    phase = np.array([[0.2, 0.7], [0.2, 0.7]])
    contact = np.array([[True, False], [True, True]])
    s = _feet(feet_contact=contact, gait_phase=phase, command=np.array([[0.5, 0, 0], [0.0, 0, 0]]))
    # walking: left in stance (phase 0.2 < 0.55) and down, right in swing and up: 2; standing: both down: 2
    assert rewards.GaitContact(s, stance_share=0.55)(s) == pytest.approx([2.0, 2.0])
    wrong = _feet(feet_contact=~contact, gait_phase=phase, command=np.array([[0.5, 0, 0], [0.0, 0, 0]]))
    assert rewards.GaitContact(s)(wrong) == pytest.approx([0.0, 0.0])
    term = rewards.SingleStanceAirTime(s, threshold=0.1)
    walking = _feet(feet_contact=np.array([[True, False], [True, False]]), command=np.array([[0.5, 0, 0], [0.0, 0, 0]]))
    got = [term(walking) for _ in range(6)]  # 0.02 s steps: min(contact, air) grows to the 0.1 s cap
    assert got[0] == pytest.approx([0.02, 0.0]) and got[-1] == pytest.approx([0.1, 0.0])
    both = _feet(feet_contact=np.ones((2, 2), dtype=bool), command=np.array([[0.5, 0, 0], [0.5, 0, 0]]))
    assert term(both) == pytest.approx([0.0, 0.0])  # double stance earns nothing


def test_feet_swing_height_follows_the_gait_clocks_swing_arc():
    phase = np.array([[0.2, 0.775], [0.2, 0.775], [0.2, 0.775]])  # left in stance, right at mid-swing
    walking, standing = [0.5, 0, 0], [0.0, 0, 0]
    on_arc = _feet(feet_height=np.array([[0.0, 0.08], [0.0, 0.0], [0.0, 0.0]]), gait_phase=phase,
                   command=np.array([walking, walking, standing]))  # fmt: skip
    got = rewards.feet_swing_height(on_arc, height=0.08, stance_share=0.55, sigma=0.01)
    # on the arc: 1; a foot left down at mid-swing: exp(-0.08^2 / 0.01); standing, both down: 1
    assert got == pytest.approx([1.0, np.exp(-0.0064 / 0.01), 1.0])
    with pytest.raises(ValueError, match="needs a gait clock"):
        rewards.feet_swing_height(_feet())


@pytest.mark.parametrize("overrides,expected", [
    ({"gait": {"period_s": 0.0}}, "env.gait: period_s > 0 and offsets in [0, 1) are required"),
    ({"gait": {"offsets": [0.0]}}, "env.gait.offsets: one phase offset per foot of robot.feet (2: left_foot, right_foot)"),
    ({"robot": {"feet": ["left_foot"]}, "gait": {"offsets": [0.0]}},
     "env.rewards.single_stance_air_time: needs at least 2 feet in robot.feet; the robot has 1"),
    ({"robot": {"feet": ["left_foot", "left_toe"]}}, "robot.feet"),
    ({"gait": None}, "env.observations.gait_clock: needs a gait clock: set env.gait (period_s, offsets)"),
])  # fmt: skip
def test_a_config_that_does_not_fit_a_biped_is_one_line(overrides, expected):
    with pytest.raises(ValueError) as err:
        LocomotionTask(task_config("biped_flat", randomization="none", **overrides), num_envs=1, nthread=1)
    assert expected in str(err.value) and "\n" not in str(err.value)


HUMANOID = REPO / "tests" / "fixtures" / "menagerie_humanoid"


@pytest.fixture(scope="module")
def humanoid_run(tmp_path_factory) -> Path:
    """The Menagerie-style humanoid trained briefly with env=biped_flat and its robot config alone."""
    root = tmp_path_factory.mktemp("humanoid")
    (root / "conf" / "robot").mkdir(parents=True)
    shutil.copy(HUMANOID / "robot.yaml", root / "conf" / "robot" / "mhum.yaml")
    return train_in_process(root / "run", *TINY_QUAD, f"hydra.searchpath=[file://{root / 'conf'}]", "robot=mhum",
                            "env=biped_flat")  # fmt: skip


def test_a_menagerie_style_humanoid_trains_with_its_robot_config_alone(humanoid_run):
    run = json.loads((humanoid_run / "run.json").read_text())
    assert run["steps_done"] >= 1536 and (humanoid_run / "model.zip").is_file()
    replaced = " ".join(run["robot"]["replaced"])
    assert "17 actuators by PD" in replaced and "5 joint(s) outside the action held" in replaced
    assert "1 keyframe(s) removed" in replaced and "floor floor by the task's ground" in replaced
    # the waist and arms hold their home pose while the legs take random actions
    from common.io import load_run_config

    # the biped preset trains with the mirror loss, here through the fixture's own robot.mirror
    assert load_run_config(humanoid_run).algo.hyperparams.symmetry_coef == 0.5
    task = LocomotionTask(task_config(load_run_config(humanoid_run), randomization="none"), num_envs=4, nthread=1)
    task.reset()
    rng = np.random.default_rng(0)
    for _ in range(20):
        task.step(rng.uniform(-1, 1, (4, 12)))
    model, sc = task.model, task.scene
    held = [model.jnt_qposadr[model.joint(n).id] for n in sc.held_joints]
    np.testing.assert_allclose(task.qpos[:, held], np.tile(sc.held_default, (4, 1)), atol=0.15)
    assert sc.held_joints == ["waist_yaw_joint", "left_shoulder_pitch_joint", "left_elbow_joint",
                              "right_shoulder_pitch_joint", "right_elbow_joint"]  # fmt: skip
    assert sc.foot_geoms.size == 8  # four unnamed spheres under each sole site


def test_the_biped_bundle_states_the_gait_clock_and_the_runtime_rebuilds_it(humanoid_run, tmp_path):
    """export's writer on the biped task: the manifest carries env.gait, and the NumPy runtime builds the
    observation (gait clock included) from the robot's inputs and its own time exactly as the task did."""
    from common.io import load_run_config
    from onboard import writer
    from onboard.exporter import collect_observations
    from onboard.extract import from_model
    from onboard.runtime import load_bundle
    from sim.policy import SB3Policy

    policy = SB3Policy(humanoid_run)
    calibration, _ = collect_observations(policy, parity_samples=64, seed=0, num_envs=8)
    mlp = from_model(policy.model, humanoid_run / "vecnormalize.pkl")
    manifest = writer.manifest_body(
        policy.cfg, mlp, json.loads((humanoid_run / "run.json").read_text()), {"name": "host"}
    )
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    writer.write_artifacts(bundle, mlp, calibration, (humanoid_run / "config.yaml").read_text(), manifest)
    writer.seal(bundle, manifest)
    runtime = load_bundle(bundle)
    assert runtime.manifest["gait"] == {"period_s": 0.7, "offsets": [0.0, 0.5]}
    terms = {t["name"]: t for t in runtime.manifest["observation"]["terms"]}
    assert "manifest.gait" in terms["gait_clock"]["convention"] and runtime.required_inputs()[3] == "time_s"
    assert runtime.manifest["robot"]["held_joints"]["joint_names"][0] == "waist_yaw_joint"

    task = LocomotionTask(
        task_config(load_run_config(humanoid_run), randomization="none"), num_envs=2, seed=1, nthread=1
    )
    obs = task.reset()["policy"]
    for k in range(12):
        if k in (0, 11):
            s = task.last_state if k else task._state(*task.sim.rows(), terminated=np.zeros(2, dtype=bool))
            for i in range(2):
                inputs = {"gyro": s.base_ang_vel[i], "quat": s.base_quat[i], "command": task.command[i],
                          "joint_pos": s.joint_pos[i], "joint_vel": s.joint_vel[i], "previous_action": s.action[i],
                          "time_s": k * task.dt}  # fmt: skip
                np.testing.assert_array_equal(runtime.observation(inputs), obs[i])
        obs = task.step(runtime(obs)).obs["policy"]


@pytest.mark.parametrize("preset", ["quadruped_flat", "biped_flat"])
def test_the_payload_scenario_scales_with_the_robot_mass(preset):
    events = {"physics": {"params": {"added_mass_share": [0.25, 0.25]}}}
    task = LocomotionTask(task_config(preset, randomization="none", events=events), num_envs=2, nthread=1)
    base = task.scene.base_body
    added = task.batch.expanded("body_mass")[:, base] - task.model.body_mass[base]
    assert added == pytest.approx(np.full(2, 0.25 * task.model.body_subtreemass[base]))
    assert task.model.body_subtreemass[base] == pytest.approx(12.14 if preset == "quadruped_flat" else 15.2, abs=0.01)


def test_the_biped_preset_learns_its_gait_first_and_takes_hard_kicks_from_16m_steps():
    # the shipped default: standard randomization's pushes until 16M training steps, then 1.2 m/s every 2-4 s
    sim = {"physics_dt": 0.005, "decimation": 4, "episode_length_s": 0.04}  # episodes end every 2 steps
    task = LocomotionTask(task_config("biped_flat", randomization="standard", sim=sim), num_envs=2, nthread=1)
    push = task.events.terms["push"]
    before = (push.velocity, list(task.events.intervals["push"]))
    assert before != (1.2, [2.0, 4.0])
    for steps in (15_999_999, 16_000_000):
        task.training_steps = steps
        for _ in range(2):
            result = task.step(np.zeros((2, 12)))
        assert result.truncated.all()
    assert (push.velocity, task.events.intervals["push"]) == (1.2, [2.0, 4.0])
    assert ((task.events.timers["push"] >= 2.0) & (task.events.timers["push"] <= 4.0)).all()
    assert [i["curriculum"]["push_velocity"] for i in result.infos] == [before[0]] * 2  # ran under the old kicks
    result = [task.step(np.zeros((2, 12))) for _ in range(2)][-1]
    assert [i["curriculum"]["push_velocity"] for i in result.infos] == [1.2, 1.2]
