"""The robot side of a bundle: robot_loop.py's observation, joint map and safety rules against a scripted
robot in-process, and against the stand-in robot (sim.robot_server) in another process over UDP."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from onboard.robot_loop import LoopConfig, RobotLoop, RobotState, UdpRobot
from onboard.runtime import BundleError, load_bundle
from tests.conftest import REPO


class ScriptedRobot:
    """A robot standing still at a pose, in its own joint order; records every command it is sent."""

    def __init__(self, manifest: dict, q: np.ndarray | None = None, order: list[int] | None = None) -> None:
        names = list(manifest["robot"]["joint_names"])
        self.order = order or list(range(len(names)))
        self.names = [names[i] for i in self.order]
        default = np.asarray(manifest["robot"]["default_joint_pos"])
        self.q = (default if q is None else q)[self.order]
        self.stamp_lag = 0.0
        self.clock = time.monotonic  # the tests that tick with their own times set their clock
        self.sent: list[tuple[np.ndarray, np.ndarray, np.ndarray, str]] = []
        self.readings = 0
        self.interrupt_at: int | None = None

    def read_state(self) -> RobotState:
        self.readings += 1
        if self.interrupt_at is not None and self.readings >= self.interrupt_at:
            raise KeyboardInterrupt
        return RobotState(names=self.names, q=self.q.copy(), dq=np.zeros(len(self.q)), gyro=np.zeros(3),
                          quat=np.array([1.0, 0, 0, 0]), command=np.array([0.5, 0, 0]),
                          stamp=self.clock() - self.stamp_lag)  # fmt: skip

    def send(self, q_target, kp, kd, mode):
        self.sent.append((np.array(q_target), np.array(kp), np.array(kd), mode))


@pytest.fixture(scope="module")
def bundle(exported) -> Path:
    return exported[1]


@pytest.fixture(scope="module")
def manifest(bundle) -> dict:
    return json.loads((bundle / "manifest.json").read_text())


def test_the_runtime_builds_the_tasks_observation_from_robot_inputs(bundle):
    """What the robot measures (absolute joints, gyro, orientation) -> the exact float32 the task observed."""
    from common.io import load_run_config
    from envs import task_config
    from envs.task import LocomotionTask

    policy = load_bundle(bundle)
    task = LocomotionTask(task_config(load_run_config(bundle), randomization="none"), num_envs=4, seed=3, nthread=1)
    task.reset()
    rng = np.random.default_rng(0)
    for _ in range(15):
        result = task.step(rng.uniform(-1, 1, (4, 12)))
    s = task.last_state
    for i in range(4):
        inputs = {"gyro": s.base_ang_vel[i], "quat": s.base_quat[i], "command": s.command[i],
                  "joint_pos": s.joint_pos[i], "joint_vel": s.joint_vel[i], "previous_action": s.action[i]}  # fmt: skip
        np.testing.assert_array_equal(policy.observation(inputs), result.obs["policy"][i])
    with pytest.raises(BundleError, match="needs the robot input 'joint_vel'"):
        policy.observation({k: v for k, v in inputs.items() if k != "joint_vel"})
    with pytest.raises(BundleError, match="robot input 'gyro' has 2 values"):
        policy.observation({**inputs, "gyro": [0.0, 0.0]})


def test_soft_start_ramps_from_the_measured_pose_then_the_policy_flies(bundle, manifest):
    default = np.asarray(manifest["robot"]["default_joint_pos"])
    robot = ScriptedRobot(manifest, q=default + 0.3, order=list(range(11, -1, -1)))
    loop = RobotLoop(bundle, robot, LoopConfig(soft_start_s=1.0, log=None))
    t = time.monotonic()
    for k in range(53):
        robot.clock = lambda k=k: t + 0.02 * k
        loop.tick(t + 0.02 * k)
    modes = [m for *_, m in robot.sent]
    assert modes[:51] == ["ramp"] * 51 and modes[51:] == ["policy"] * 2
    halfway = robot.sent[25][0]
    np.testing.assert_allclose(halfway, (default + 0.15)[robot.order], atol=1e-9)  # robot order
    np.testing.assert_allclose(robot.sent[50][0], default[robot.order], atol=1e-12)
    assert np.allclose(robot.sent[0][1], np.asarray(manifest["robot"]["kp"])[robot.order])


def test_stale_or_non_finite_state_holds_then_damps_and_stays_damped(bundle, manifest):
    robot = ScriptedRobot(manifest)
    loop = RobotLoop(bundle, robot, LoopConfig(soft_start_s=0.0, stale_limit=4, log=None))
    t = time.monotonic()
    loop.tick(t)
    loop.tick(t + 0.02)
    flying = robot.sent[-1][0]
    assert robot.sent[-1][3] == "policy"
    robot.stamp_lag = 0.05  # older than one control period
    loop.tick(time.monotonic())
    assert robot.sent[-1][3] == "hold" and np.array_equal(robot.sent[-1][0], flying)
    robot.stamp_lag = 0.0
    robot.q[3] = np.nan
    for _ in range(3):
        loop.tick(time.monotonic())
    assert [m for *_, m in robot.sent[-3:]] == ["hold", "hold", "damp"]
    assert not robot.sent[-1][1].any() and np.allclose(robot.sent[-1][2], manifest["robot"]["kd"])
    robot.q[3] = 0.0  # fresh and finite again: damping is latched
    loop.tick(time.monotonic())
    assert robot.sent[-1][3] == "damp"
    assert loop.counts["stale"] == 1 and loop.counts["non_finite"] == 3
    assert loop.events[-1][1] == "damp: 4 consecutive stale or non-finite readings"


def test_missed_deadlines_damp_and_ctrl_c_stops_cleanly(bundle, manifest, tmp_path):
    policy = load_bundle(bundle)
    slow = load_bundle(bundle)
    forward = slow.forward
    slow.forward = lambda obs: (time.sleep(0.03), forward(obs))[1]  # 30 ms of compute in a 20 ms period
    robot = ScriptedRobot(manifest)
    report = RobotLoop(bundle, robot, LoopConfig(soft_start_s=0.0, miss_limit=3, duration_s=0.4, log=None), slow).run()
    assert report["counts"]["deadline_misses"] >= 3
    assert "damp: 3 consecutive missed deadlines" in [e[1] for e in report["events"]]
    assert [m for *_, m in robot.sent[:3]] == ["policy"] * 3 and robot.sent[3][3] == "damp"

    robot = ScriptedRobot(manifest)
    robot.interrupt_at = 20
    log = tmp_path / "loop.json"
    report = RobotLoop(bundle, robot, LoopConfig(soft_start_s=0.0, log=str(log)), policy).run()
    assert report["stop"] == "ctrl-c" and robot.sent[-1][3] == "damp" and len(robot.sent) == 19 + 3
    assert json.loads(log.read_text())["counts"]["ticks"] == 19


@pytest.mark.parametrize("names,signs,expected", [
    ({}, {"FR_knee": -1}, "joint map names ['FR_knee'], which are not joints of the bundle"),
    ({}, {"FR_hip_joint": 2}, "signs: each is +1 or -1"),
    ({}, {}, "robot joints ['FR_hip'] are not in the bundle and bundle joints ['FR_hip_joint'] are not on the robot"),
    ({"FR_hip": "FR_hip_joint"}, {}, None),
])  # fmt: skip
def test_joints_map_by_name_and_a_map_that_does_not_fit_is_refused_in_one_line(
    bundle, manifest, names, signs, expected
):
    robot = ScriptedRobot(manifest)
    robot.names[0] = "FR_hip"  # the robot's SDK calls this joint its own way
    loop = RobotLoop(bundle, robot, LoopConfig(names=names, signs=signs, soft_start_s=0.0, log=None))
    if expected is None:
        loop.tick(time.monotonic())
        assert robot.sent[-1][3] == "policy"
        return
    with pytest.raises(BundleError, match=re.escape(expected)) as err:
        loop.tick(time.monotonic())
    assert "\n" not in str(err.value)


def _server(bundle: Path, *args: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-m", "sim.robot_server", "--bundle", str(bundle), "--port", "0", *args],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    line = proc.stdout.readline()
    assert "udp://" in line, proc.stderr.read()
    return proc, int(line.rsplit(":", 1)[1])


@pytest.mark.parametrize("signs,identical", [({"FR_thigh_joint": -1, "RL_calf_joint": -1}, True), ({}, False)])
def test_lockstep_sim_to_sim_over_udp_is_the_batched_task_bit_for_bit(bundle, tmp_path, signs, identical):
    """The stand-in streams its joints shuffled, two of them sign-flipped; the loop maps them by name and sign.
    Stepped in lockstep, the robot moves exactly as the same bundle in the training task (and not without the
    signs)."""
    from common.io import load_run_config
    from envs import task_config
    from envs.task import LocomotionTask

    faults = {"shuffle_joints": True, "flip": ["FR_thigh_joint", "RL_calf_joint"]}
    script = [{"name": "walk", "command": [0.5, 0.2, 0.3], "seconds": 10.0}]
    server, port = _server(bundle, "--lockstep", "--duration", "1.0", "--faults", json.dumps(faults), "--script",
                           json.dumps(script), "--out", str(tmp_path / "server.json"))  # fmt: skip
    robot = UdpRobot("127.0.0.1", port)
    try:
        report = RobotLoop(bundle, robot, LoopConfig(soft_start_s=0.0, lockstep=True, signs=signs, log=None)).run()
    finally:
        robot.close()
    assert server.wait(timeout=30) == 0
    got = json.loads((tmp_path / "server.json").read_text())
    assert report["counts"]["ticks"] >= 50 and got["names"] != load_bundle(bundle).joint_names

    policy = load_bundle(bundle)
    cfg = task_config(load_run_config(bundle), randomization="none")
    cfg.env.commands["velocity"].params["script"] = [[10.0, 0.5, 0.2, 0.3]]
    task = LocomotionTask(cfg, num_envs=1, seed=0, nthread=1)
    obs, lin = task.reset()["policy"], []
    for _ in range(50):
        obs = task.step(policy(obs)).obs["policy"]
        lin.append(task.last_state.base_lin_vel[0].copy())
    gap = np.abs(np.array(got["samples"]["lin"])[:50] - np.array(lin)).max()
    assert (gap == 0.0) if identical else (gap > 0.01), gap


def test_the_stand_in_loses_and_delays_datagrams_and_the_loop_counts_them(bundle):
    from sim.config import DeployConfig
    from sim.deploy import fly

    cfg = DeployConfig(faults={"command_latency_ms": 10.0, "jitter_ms": 5.0, "drop": 0.1}, settle_s=0.5,
                       segment_s=1.5, measure_s=1.0, commands=["stand"], loop={"soft_start_s": 0.5})  # fmt: skip
    run = fly(bundle, cfg)
    server, loop = run["server"], run["loop"]
    sent = server["states"]["sent"]
    assert 380 <= sent <= 420  # 2 s of states at the physics rate
    lost = (sent - loop["link"]["states_received"]) / sent
    assert 0.04 < lost < 0.2 and loop["link"]["states_lost"] > 0
    assert 0.04 < server["commands"]["lost"] / loop["link"]["commands_sent"] < 0.2
    assert server["commands"]["dropped_by_fault"] >= server["commands"]["lost"]
    assert loop["stop"] == "robot closed" and [e[1] for e in loop["events"]][:2] == ["ramp", "policy"]


def test_a_state_stream_that_stops_is_held_within_a_period_then_damped(bundle):
    from sim.config import DeployConfig
    from sim.deploy import fly, measure

    cfg = DeployConfig(faults={"stop_state_at_s": 1.0}, loop={"soft_start_s": 0.3, "stale_limit": 5}, settle_s=1.0,
                       segment_s=1.0, measure_s=0.5, commands=["stand"], duration_s=1.5)  # fmt: skip
    m = measure(fly(bundle, cfg), {}, cfg)["metrics"]
    assert 0.0 < m["hold_after_stale_ms"] <= 30.0  # within one 20 ms period (10 ms of slack for a busy machine)
    assert m["damped"] == 1.0 and m["damp_after_periods"] == pytest.approx(5.0, abs=0.5)
    assert m["stale_periods"] == 5


def test_deploy_suite_needs_a_bundle_and_refuses_unknown_fields(exported):
    from sim.config import DeployConfig, ScenarioConfig, SuiteConfig, ValidateConfig
    from sim.validate import evaluate

    run_dir, bundle, _ = exported
    suite = SuiteConfig(name="deploy", scenarios={"nominal": ScenarioConfig(deploy=DeployConfig())})
    with pytest.raises(ValueError, match=r"fly a bundle through its robot_loop.py; give policy=<bundle_dir>"):
        evaluate(ValidateConfig(policy=str(run_dir), suite=suite, video=False))
    suite.scenarios["nominal"].deploy = DeployConfig(faults={"latency": 20})
    with pytest.raises(ValueError, match=r"suite.scenarios.nominal.deploy.faults: unknown field\(s\) \['latency'\]"):
        evaluate(ValidateConfig(policy=str(bundle), suite=suite, video=False))


def test_deploy_scenario_reports_tracking_against_the_batched_task(exported, tmp_path):
    from sim.config import DeployConfig, ScenarioConfig, SuiteConfig, ValidateConfig
    from sim.validate import evaluate

    _, bundle, _ = exported
    deploy = DeployConfig(
        settle_s=1.0, segment_s=2.0, measure_s=1.0, commands=["forward 0.5"], loop={"soft_start_s": 0.5}
    )
    suite = SuiteConfig(name="deploy", scenarios={"nominal": ScenarioConfig(deploy=deploy, gates=["fall_rate<=0"])})
    report = evaluate(ValidateConfig(policy=str(bundle), suite=suite, video=False), tmp_path / "report")
    s = report["scenarios"]["nominal"]
    assert (tmp_path / "report" / "report.json").is_file() and s["changes"]["deploy"]["segment_s"] == 2.0
    forward = s["commands"]["forward 0.5"]
    assert forward["vx_command"] == 0.5 and forward["vx_in_process"] is not None
    assert s["metrics"]["velocity_gap"] == pytest.approx(max(abs(forward["vx"] - forward["vx_in_process"]),
                                                             abs(forward["vy"] - forward["vy_in_process"])))  # fmt: skip
    assert 19.0 < s["metrics"]["period_p50_ms"] < 21.0 and s["loop"]["counts"]["ticks"] > 100


def test_the_release_policy_tracks_through_the_loop_as_in_the_batched_task():
    """Real time, two processes, UDP: the walking fixture (the default run's policy) holds vx 0.5 through
    robot_loop.py within 0.05 m/s of the same bundle in the batched task, without a fall."""
    from sim.config import DeployConfig
    from sim.deploy import fly, measure, operator_script, reference

    walker = REPO / "tests" / "fixtures" / "walking_quadruped"
    cfg = DeployConfig(settle_s=2.0, segment_s=5.0, measure_s=2.5, commands=["forward 0.5"], loop={"soft_start_s": 1.0})
    ref = reference(walker, operator_script(cfg), cfg.measure_s, episodes=4, seed=0)
    result = measure(fly(walker, cfg), ref, cfg)
    m, forward = result["metrics"], result["commands"]["forward 0.5"]
    assert m["fall_rate"] == 0.0 and forward["vx"] == pytest.approx(0.5, abs=0.1)
    assert m["velocity_gap"] <= 0.05, forward
    assert result["loop"]["stop"] == "robot closed" and m["deadline_misses"] == 0
