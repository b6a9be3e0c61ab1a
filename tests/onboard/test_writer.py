"""Export's inputs and contract, in-process: calibration and parity data, and what the manifest states."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import TINY_QUAD, train_in_process


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    return train_in_process(tmp_path_factory.mktemp("writer") / "run", *TINY_QUAD)


def test_calibration_and_parity_come_from_disjoint_whole_episodes(tiny_run):
    from onboard.exporter import collect_observations
    from sim.policy import SB3Policy

    policy = SB3Policy(tiny_run)
    calibration, parity = collect_observations(policy, parity_samples=3000, seed=0, num_envs=16)
    assert calibration.shape == (2048, 45) and parity.shape == (3000, 45)
    shared = {row.tobytes() for row in calibration} & {row.tobytes() for row in parity}
    assert not shared, "parity must not be measured on calibration data"
    # whole episodes: the command part spans more than the first synchronized second of every environment
    assert len(np.unique(parity[:, 6:9], axis=0)) > 16


def test_manifest_states_the_delay_training_used_and_no_local_path(tiny_run, tmp_path):
    from common.io import load_run_config
    from onboard.extract import MLP
    from onboard.writer import manifest_body

    latency = tmp_path / "latency.json"
    latency.write_text(json.dumps({"recommended": "c_int8", "artifacts": {"c_int8": {"device_estimate": {
        "p50_us": 3000.0, "p99_us": 6000.0, "p999_us": 9000.0}}}}))  # fmt: skip
    cfg = load_run_config(tiny_run)
    cfg.env.events.action_delay.params = {"from_latency_report": str(latency)}
    mlp = MLP(weights=[np.zeros((45, 12), np.float32)], biases=[np.zeros(12, np.float32)], activations=["identity"],
              output="clip", action_low=-np.ones(12, np.float32), action_high=np.ones(12, np.float32),
              obs_mean=np.zeros(45), obs_var=np.ones(45), obs_epsilon=1e-8, obs_clip=10.0)  # fmt: skip
    run = json.loads((tiny_run / "run.json").read_text())
    manifest = manifest_body(cfg, mlp, run, {"name": "host"})
    assert manifest["delays_assumed_ms"]["action"] == pytest.approx([3.0, 9.0])
    assert manifest["config_hash"] == run["config_hash"] and manifest["trained"]["git"] == run["git"]
    text = json.dumps(manifest)
    assert str(tiny_run) not in text and "run_dir" not in manifest
    assert [t["name"] for t in manifest["observation"]["terms"]][-1] == "previous_action"
    assert manifest["events"]["action_delay"]["params"] == {"from_latency_report": str(latency)}


def test_the_manifest_lists_the_joints_the_robot_must_hold(tmp_path):
    import yaml

    from envs import task_config
    from envs.task import LocomotionTask
    from onboard.writer import held_joints
    from tests.conftest import REPO

    fixture = REPO / "tests" / "fixtures" / "menagerie_quad"
    robot = yaml.safe_load((fixture / "robot.yaml").read_text())
    robot.update(mjcf=str(fixture / "scene.xml"), joints=robot["joints"][:6], kp={".*": 60.0, "R._knee": 70.0})
    (tmp_path / "robot.yaml").write_text(yaml.safe_dump(robot))
    task = LocomotionTask(task_config("quadruped_flat", robot=str(tmp_path / "robot.yaml")), num_envs=1, seed=0)
    held = held_joints(task.scene)
    assert held["joint_names"] == ["RR_abduct", "RR_hip", "RR_knee", "RL_abduct", "RL_hip", "RL_knee"]
    assert held["target"] == [0.0, 0.85, -1.7] * 2 and held["kp"] == [60.0, 60.0, 70.0] * 2
    assert held["kd"] == [2.0] * 6 and held["torque_limit"] == [25.0, 25.0, 35.0] * 2
    plain = LocomotionTask(task_config("quadruped_flat"), num_envs=1, seed=0)
    assert held_joints(plain.scene)["joint_names"] == []
