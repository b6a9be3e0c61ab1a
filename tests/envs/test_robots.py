"""Robot files users bring (issue 11): a Menagerie-style MJCF (tests/fixtures/menagerie_quad) builds as written,
the builder's own names never clash, feet may be geoms, sites or bodies, the most specific gain pattern wins,
and the build says which of the file's physics it kept, replaced, or finds suspicious."""

from __future__ import annotations

import shutil
from pathlib import Path

import mujoco
import numpy as np
import pytest
import yaml

from envs import task_config
from envs.config import PREFIX
from envs.robot import match_joints
from envs.task import LocomotionTask
from tests.conftest import REPO

FIXTURE = REPO / "tests" / "fixtures" / "menagerie_quad"
JOINTS = [f"{leg}_{j}" for leg in ("FR", "FL", "RR", "RL") for j in ("abduct", "hip", "knee")]


def robot_cfg(**changes) -> dict:
    cfg = yaml.safe_load((FIXTURE / "robot.yaml").read_text())
    cfg["mjcf"] = str(FIXTURE / "scene.xml")
    return {**cfg, **changes}


def task(robot: dict | str, n: int = 2) -> LocomotionTask:
    if isinstance(robot, dict):  # a whole robot: written as a YAML file, which replaces the preset's robot
        path = Path(robot.pop("_dir")) / "robot.yaml"
        path.write_text(yaml.safe_dump(robot))
        robot = str(path)
    return LocomotionTask(
        task_config("quadruped_flat", robot=robot, randomization="none"), num_envs=n, seed=0, nthread=2
    )


def edited_copy(tmp_path: Path, old: str, new: str) -> Path:
    """The fixture copied to tmp_path with one edit of quad.xml; returns the scene file."""
    target = tmp_path / "robot_files"
    shutil.copytree(FIXTURE, target)
    xml = (target / "quad.xml").read_text()
    assert old in xml, old
    (target / "quad.xml").write_text(xml.replace(old, new, 1))
    return target / "scene.xml"


def test_a_menagerie_style_file_builds_as_written(tmp_path):
    t = task({**robot_cfg(), "_dir": tmp_path})
    sc, m = t.scene, t.model
    cameras = {m.camera(i).name for i in range(m.ncam)}
    assert cameras == {"track", PREFIX + "track"}  # the file's camera and ours side by side
    planes = [m.geom(i).name for i in range(m.ngeom) if m.geom_type[i] == mujoco.mjtGeom.mjGEOM_PLANE]
    assert planes == [PREFIX + "ground"]  # the scene file's floor gave way to the task's ground
    # sites name the feet: each claims the unnamed 22 mm sphere at its place, not the calf's capsule
    assert [kind for kind, _ in sc.foot_refs] == ["site"] * 4 and len(sc.foot_geoms) == 4
    assert (m.geom_type[sc.foot_geoms] == mujoco.mjtGeom.mjGEOM_SPHERE).all()
    np.testing.assert_allclose(m.geom_size[sc.foot_geoms, 0], 0.022)
    np.testing.assert_array_equal(sc.kp, 60.0)
    np.testing.assert_array_equal(sc.torque_limit, [25, 25, 35] * 4)
    kept, replaced = " ".join(sc.summary["kept"]), " ".join(sc.summary["replaced"])
    assert "cone elliptic" in kept and "impratio 100" in kept and "armature 0.012" in kept and "iterations 6" in kept
    assert "12 actuators" in replaced and "timestep 0.002 by 0.005" in replaced and "floor floor" in replaced
    assert "1 keyframe" in replaced and sc.summary["warnings"] == []
    assert m.opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC and m.opt.timestep == 0.005
    for _ in range(10):
        t.step(np.zeros((2, 12)))
    assert np.isfinite(t.last_state.base_height).all() and (t.last_state.base_height > 0.2).all()


@pytest.mark.parametrize("feet", [["FR_calf", "FL_calf", "RR_calf", "RL_calf"],
                                  ["FR_foot_site", "FL_foot_site", "RR_foot_site", "RL_foot_site"]])  # fmt: skip
def test_foot_contact_is_any_contact_of_the_foot_geoms(tmp_path, feet):
    t = task({**robot_cfg(feet=feet), "_dir": tmp_path}, n=3)
    sc = t.scene
    per_foot = np.diff(np.append(sc.foot_starts, len(sc.foot_found)))
    assert per_foot.tolist() == ([2] * 4 if feet[0].endswith("calf") else [1] * 4)  # a body: capsule and sphere
    rng = np.random.default_rng(0)
    data = mujoco.MjData(t.model)
    checked = 0
    for _ in range(40):
        t.step(rng.uniform(-1, 1, (3, 12)))
        for env in range(3):
            data.qpos[:], data.qvel[:] = t.qpos[env], t.qvel[env]
            mujoco.mj_forward(t.model, data)
            touching = {g for c in data.contact[: data.ncon] for g in c.geom}
            expected = [any(g in touching for g in sc.foot_geoms[s : s + k])
                        for s, k in zip(sc.foot_starts, per_foot, strict=True)]  # fmt: skip
            assert sc.feet_contact(data.sensordata[None])[0].tolist() == expected
            checked += sum(expected)
    assert checked > 0  # some feet did touch
    positions = sc.foot_positions(t.batch)  # a site's place, or a body's origin (the knee for a calf)
    reach = np.linalg.norm(positions - t.qpos[:, None, :3], axis=2)
    assert positions.shape == (3, 4, 3) and (reach > 0.1).all() and (reach < 0.5).all()
    assert (positions[:, :, 2] < (0.15 if feet[0].endswith("site") else 0.35)).all()


def test_the_most_specific_pattern_decides_and_a_dead_pattern_is_refused():
    np.testing.assert_array_equal(match_joints({".*": 35.0, ".*_knee": 1.0}, JOINTS, "kp"), [35, 35, 1] * 4)
    out = match_joints({".*": 2.0, "FR_knee": 7.0, "F._knee": 5.0}, JOINTS, "kp")
    assert out[2] == 7.0 and out[5] == 5.0 and out[8] == 2.0  # a joint's own name beats F._knee beats .*
    tie = match_joints({".*_hip": 1.0, "(FR|FL|RR|RL)_hip": 2.0, ".*": 0.0}, JOINTS, "kp")
    assert tie[1] == 1.0  # equally specific: the first listed
    with pytest.raises(ValueError, match=r"robot.kd: pattern\(s\) \['.*_calf'\] match no joint"):
        match_joints({".*": 1.0, ".*_calf": 2.0}, JOINTS, "kd")
    with pytest.raises(ValueError, match="robot.kp: joint 'FR_abduct' matches no pattern"):
        match_joints({".*_(hip|knee)": 1.0}, JOINTS, "kp")


@pytest.mark.parametrize("old,new,warning", [
    ('<site name="imu" pos="-0.02 0 0.03"/>', '<site name="imu" pos="-0.02 0 0.03" quat="0 0 0 1"/>', "IMU site rotated"),
    ('<geom class="collision" type="box"', '<geom class="visual" type="box"', "base body 'base' has no collision geom"),
    ('<joint name="FR_knee" class="knee"/>', '<joint name="FR_knee" class="knee" actuatorfrcrange="-10 10"/>',
     "actuatorfrcrange in the file caps FR_knee below robot.torque_limit"),
])  # fmt: skip
def test_what_would_silently_hurt_training_is_warned(tmp_path, old, new, warning):
    scene = edited_copy(tmp_path, old, new)
    sc = task({**robot_cfg(mjcf=str(scene)), "_dir": tmp_path}).scene
    assert len(sc.summary["warnings"]) == 1 and warning in sc.summary["warnings"][0]
    assert f"WARNING {sc.summary['warnings'][0]}" in sc.summary_line()


def test_a_foot_nothing_can_claim_is_one_line(tmp_path):
    with pytest.raises(ValueError, match="robot.feet: 'FR_toe' is neither a geom, a site nor a body of scene.xml; its sites: "
                                         "FL_foot_site, FR_foot_site, RL_foot_site, RR_foot_site, imu"):  # fmt: skip
        task({**robot_cfg(feet=["FR_toe"]), "_dir": tmp_path})
    with pytest.raises(
        ValueError, match="robot.feet: body 'FR_hip' of scene.xml has no collision geom on its body; name"
    ):
        task({**robot_cfg(feet=["FR_hip"]), "_dir": tmp_path})  # its one geom is visual only


@pytest.mark.parametrize(
    "edit", [("assets/trunk.obj", "v 0.2", "v 0.21"), ("assets/defaults.xml", 'kp="60"', 'kp="61"')]
)
def test_the_model_hash_covers_includes_and_meshes(tmp_path, edit):
    first = task({**robot_cfg(), "_dir": tmp_path}).scene.model_hash
    copy = tmp_path / "copy"
    shutil.copytree(FIXTURE, copy)
    same = task({**robot_cfg(mjcf=str(copy / "scene.xml")), "_dir": tmp_path}).scene.model_hash
    name, old, new = edit
    (copy / name).write_text((copy / name).read_text().replace(old, new, 1))
    changed = task({**robot_cfg(mjcf=str(copy / "scene.xml")), "_dir": tmp_path}).scene.model_hash
    assert first == same and changed != first


def test_joints_outside_the_action_are_held_at_their_default_pose_unless_told_otherwise(tmp_path):
    front = JOINTS[:6]  # the policy drives the front legs; the rear legs are "arms" it must not move
    rear_default = np.array([0.0, 0.85, -1.7] * 2)

    def rear_after_random_actions(hold: bool) -> tuple[np.ndarray, LocomotionTask]:
        t = task({**robot_cfg(joints=front, hold_other_joints=hold), "_dir": tmp_path / str(hold)}, n=4)
        rng = np.random.default_rng(0)
        worst = np.zeros(6)
        for _ in range(50):
            t.step(rng.uniform(-1, 1, (4, 6)))
            rear = t.qpos[:, t.model.jnt_qposadr[[t.model.joint(j).id for j in JOINTS[6:]]]]
            worst = np.maximum(worst, np.abs(rear - rear_default).max(axis=0))
        return worst, t

    (tmp_path / "True").mkdir()
    (tmp_path / "False").mkdir()
    held, t = rear_after_random_actions(True)
    assert t.scene.held_joints == JOINTS[6:] and t.model.nu == 12 and t.scene.num_joints == 6
    assert t.torque_limits().shape == (4, 6) and t.last_state.torque.shape == (4, 6)
    assert "6 joint(s) outside the action held" in " ".join(t.scene.summary["replaced"])
    limp, t = rear_after_random_actions(False)
    assert t.scene.held_joints == [] and t.model.nu == 6
    assert held.max() < 0.4 and limp.max() > 2 * held.max()
    with pytest.raises(ValueError, match=r"robot.kp: held joint \(outside robot.joints\) 'RR_abduct' matches no pattern; "
                                         r"patterns given: \['F.*'\]; add a pattern for it or set robot.hold_other_joints=false"):  # fmt: skip
        task({**robot_cfg(joints=front, kp={"F.*": 60.0}), "_dir": tmp_path})


def test_a_robot_dict_naming_another_file_is_a_whole_robot_and_a_tweak_merges():
    import envs

    whole = {**robot_cfg()}
    venv = envs.make_vec("LocoForge/QuadrupedFlat-v0", num_envs=2, robot=whole, randomization="none", nthread=1)
    assert venv.task.scene.joint_names == JOINTS and venv.task.scene.kp.tolist() == [60.0] * 12
    tweak = envs.make_vec("LocoForge/QuadrupedFlat-v0", num_envs=2, robot={"kp": {".*_calf_joint": 40.0}}, nthread=1)
    assert tweak.task.scene.kp.tolist() == [35.0, 35.0, 40.0] * 4  # merged over the preset: .* 35 stays


def test_a_robot_twice_the_reference_size_gets_its_payload_and_torque_penalty_scaled():
    """quadruped_large (21 kg, RMS limit 47.9 N·m) under the quadruped preset tuned on our 12.14 kg robot: the
    payload's kg grow with its mass and torques_l2 counts its torques in units of its limits; the preset's own
    robots get exactly 1 (their trainings unchanged); a bad reference is one line."""
    big = LocomotionTask(task_config("quadruped_flat", robot="quadruped_large"), num_envs=256, seed=0, nthread=2)
    assert big.mass_scale == pytest.approx(21.0 / 12.14, abs=1e-6)
    assert big.torque_scale == pytest.approx((28.208642 / 47.9478884) ** 2, abs=1e-6)
    payload = big.batch.expanded("body_mass")[:, big.scene.base_body] - big.model.body_mass[big.scene.base_body]
    assert payload.min() >= -1.0 * big.mass_scale - 1e-9 and payload.max() <= 2.0 * big.mass_scale + 1e-9
    assert payload.max() > 2.5  # beyond the kg written in configs/randomization/standard.yaml
    big.step(np.zeros((256, 12)))
    assert big.last_state.torque_scale == big.torque_scale
    assert "payload x1.72982" in big.scale_line() and "torque penalty x0.346119" in big.scale_line()
    for env, robot in (("quadruped_flat", "quadruped"), ("quadruped_rough", "quadruped"), ("biped_flat", "biped")):
        own = LocomotionTask(task_config(env, robot=robot, randomization="none"), num_envs=1, seed=0, nthread=1)
        assert (own.mass_scale, own.torque_scale) == (1.0, 1.0), env
    with pytest.raises(ValueError, match=r"^env.reference_robot: mass and torque_limit_rms must be > 0"):
        LocomotionTask(task_config("quadruped_flat", reference_robot={"mass": 0.0}), num_envs=1)
