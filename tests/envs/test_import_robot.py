"""`python -m envs.import_robot`: a Menagerie-style file becomes a robot YAML that trains unchanged, with a drop
test that reports what the robot did and warns about what will hurt training."""

from __future__ import annotations

import re
import shutil

import yaml

from envs.import_robot import main
from tests.conftest import REPO, TINY_QUAD, train_in_process

FIXTURE = REPO / "tests" / "fixtures" / "menagerie_quad"


def test_the_fixture_imports_and_its_yaml_trains_unchanged(tmp_path, capsys):
    out = tmp_path / "myconfigs" / "robot" / "mquad.yaml"
    assert main([str(FIXTURE / "scene.xml"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    cfg = yaml.safe_load(out.read_text())
    legs = [f"{leg}_{j}" for leg in ("FR", "FL", "RR", "RL") for j in ("abduct", "hip", "knee")]
    assert cfg["joints"] == legs and cfg["base_body"] == "base" and cfg["imu_site"] == "imu"
    assert cfg["feet"] == [f"{leg}_foot_site" for leg in ("FR", "FL", "RR", "RL")]
    assert cfg["mirror"] == {"FL_": "FR_", "RL_": "RR_"}  # the sides, checked against the joint axes
    assert cfg["kp"] == {".*": 60.0} and cfg["kd"] == {".*": 2.0}  # the file's own gains
    assert cfg["torque_limit"] == {".*": 25.0, **{f"{leg}_knee": 35.0 for leg in ("FR", "FL", "RR", "RL")}}
    assert cfg["default_joint_pos"]["RL_hip"] == 0.85 and cfg["default_joint_pos"]["RL_knee"] == -1.7  # keyframe
    assert cfg["spawn_height"] == 0.33 and 0.25 < cfg["nominal_height"] < 0.31  # as it settled
    for row in (r"settled base height +0\.2\d\d m", r"feet touching \(last second\) +FR_foot_site \d+%",
                r"base touching the ground +no", r"stable for 2 s +yes"):  # fmt: skip
        assert re.search(row, printed), row
    # elliptic cones at impratio 100 want the file's 2 ms step: at 5 ms the robot never comes to rest, so the drop
    # runs again at 2 ms, where it rests on all four feet, and the command to train says so
    assert "at physics_dt 0.005 the robot does not come to rest" in printed and "timestep 0.002 by 0.002" in printed
    assert re.search(r"base speed at the end +0\.0[0-4]\d m/s", printed)
    assert re.search(r"feet touching \(last second\) +FR_foot_site 100%, FL_foot_site 100%", printed)
    assert (f"python train.py --config-dir {out.parent.parent} robot=mquad env.sim.physics_dt=0.002 "
            "env.sim.decimation=10") in printed  # fmt: skip
    run = train_in_process(
        tmp_path / "run", *TINY_QUAD, f"hydra.searchpath=[file://{out.parent.parent}]", "robot=mquad"
    )
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["robot"]["name"] == "mquad" and saved["robot"]["kp"] == {".*": 60.0}
    summary = yaml.safe_load((run / "run.json").read_text())["robot"]
    assert "12 actuators by PD in policy order" in summary["replaced"] and len(summary["model_hash"]) == 64


def test_without_foot_sites_the_lowest_leaf_bodies_are_the_feet(tmp_path, capsys):
    copy = tmp_path / "files"
    shutil.copytree(FIXTURE, copy)
    xml = (copy / "quad.xml").read_text()
    (copy / "quad.xml").write_text("\n".join(line for line in xml.splitlines() if "_foot_site" not in line))
    assert main([str(copy / "quad.xml"), "--out", str(tmp_path / "r.yaml")]) == 0
    assert yaml.safe_load((tmp_path / "r.yaml").read_text())["feet"] == ["FR_calf", "FL_calf", "RR_calf", "RL_calf"]


def test_bad_input_is_one_line_and_an_existing_config_is_kept(tmp_path, capsys):
    out = tmp_path / "robot.yaml"
    out.write_text("mine: true\n")
    assert main([str(FIXTURE / "scene.xml"), "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"error: --out: '{out}' exists; pass --force to overwrite it\n"
    assert out.read_text() == "mine: true\n"
    (tmp_path / "arm.xml").write_text(
        '<mujoco><worldbody><body><joint name="j"/><geom size="0.1"/></body></worldbody></mujoco>'
    )
    assert main([str(tmp_path / "arm.xml"), "--out", str(tmp_path / "arm.yaml")]) == 2
    assert (
        capsys.readouterr().err
        == "error: arm.xml: no free joint, so no floating base; LocoForge trains legged robots\n"
    )
    assert main([str(tmp_path / "none.xml"), "--out", str(tmp_path / "x.yaml")]) == 2
    assert "error: robot.mjcf: '" in capsys.readouterr().err and not (tmp_path / "x.yaml").exists()
    assert main([str(FIXTURE / "scene.xml"), "--out", str(tmp_path / "x.txt")]) == 2
    assert capsys.readouterr().err == f"error: --out: '{tmp_path / 'x.txt'}' must end in .yaml\n"
