"""Export of a small trained policy: artifacts, parity, C, contract refusals, latency verdicts. The module's
bundle comes from export.py itself (the export smoke test); the rest runs in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from onboard.runtime import BundleError, load_bundle

EXPECTED = {"policy.onnx", "policy.fp16.onnx", "policy.int8.onnx", "weights.npz", "runtime.py", "policy.c", "policy.h",
            "manifest.json", "parity.json", "latency.json", "trt_build.sh", "bench_onboard.py", "config.yaml", "robot_loop.py", "robot_io.py",
            "calibration_obs.npy"}  # fmt: skip


def test_bundle_holds_every_artifact_and_no_pickle(exported):
    _, bundle, _ = exported
    names = {p.name for p in bundle.iterdir()}
    assert EXPECTED <= names
    for p in bundle.iterdir():
        head = p.read_bytes()[:2]
        assert head != b"\x80\x04" and head != b"\x80\x05" and p.suffix != ".pkl", f"{p.name} is a pickle"
    with np.load(bundle / "weights.npz", allow_pickle=False) as w:
        assert int(w["n_layers"]) == 4


def test_parity_of_each_artifact(exported):
    _, bundle, _ = exported
    parity = json.loads((bundle / "parity.json").read_text())
    assert parity["samples"] >= 10_000
    assert parity["onnx_fp32"]["max_abs_error"] <= 1e-5
    assert parity["numpy"]["max_abs_error"] <= 1e-5
    assert parity["c_fp32"]["max_abs_error"] <= 1e-5
    assert parity["onnx_fp16"]["max_abs_error"] <= 2e-2
    assert parity["onnx_int8"]["max_abs_error"] <= 0.25 and parity["onnx_int8"]["mean_abs_error"] <= 0.02
    # the C int8 does the same float32 operations as its NumPy reference (Int8MLP), in the same order
    assert parity["c_int8"]["max_abs_error_vs_int8_reference"] <= 1e-6
    assert parity["c_int8"]["mean_abs_error"] <= 0.02


def test_manifest_is_the_contract(exported):
    run_dir, bundle, _ = exported
    m = json.loads((bundle / "manifest.json").read_text())
    assert m["robot"]["joint_names"][:3] == ["FR_hip_joint", "FR_thigh_joint", "FR_calf_joint"]
    assert m["robot"]["kp"] == [35.0] * 12 and m["robot"]["action_scale"] == 0.5
    assert m["timing"] == {"policy_dt": 0.02, "physics_dt": 0.005, "decimation": 4, "control_rate_hz": 50.0}
    assert [t["name"] for t in m["observation"]["terms"]][:2] == ["base_ang_vel", "projected_gravity"] and m[
        "observation"
    ]["size"] == 45
    assert "not joint targets" in m["action"]["output"]
    assert m["delays_assumed_ms"]["action"] == [0.0, 20.0]
    assert set(m["files"]) == EXPECTED - {"manifest.json"}
    assert m["config_hash"] == json.loads((run_dir / "run.json").read_text())["config_hash"]
    assert set(m["closed_loop"]) == {"onnx_fp32", "onnx_fp16", "onnx_int8", "numpy", "c_fp32", "c_int8"}


def test_latency_report_and_verdict_table(exported):
    _, bundle, stdout = exported
    lat = json.loads((bundle / "latency.json").read_text())
    for a in lat["artifacts"].values():
        assert (
            a["host"]["calls"] >= 10_000
            and a["host"]["p50_us"] <= a["host"]["p99_us"] <= a["host"]["p999_us"] <= a["host"]["max_us"]
        )
        assert a["device_estimate"]["p99_us"] == pytest.approx(a["host"]["p99_us"] * 3.0)
        assert a["verdict"] == ("PASS" if a["device_estimate"]["p99_us"] <= lat["budget_us"] else "FAIL")
    assert lat["budget_us"] == pytest.approx(5000.0)
    assert "est. orin_nx p99 (us)" in stdout and "an estimate" in stdout
    assert stdout.count("PASS") + stdout.count("FAIL") >= 6


def test_runtime_refuses_tampering_wrong_size_and_joint_order(exported, tmp_path):
    import shutil

    _, bundle, _ = exported
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    policy = load_bundle(copy)
    with pytest.raises(BundleError, match=r"observation has shape \(44,\); this bundle takes \(45,\)"):
        policy(np.zeros(44, dtype=np.float32))
    joints = list(policy.joint_names)
    with pytest.raises(BundleError, match="joint order .* differs from the bundle's"):
        load_bundle(copy, joint_names=joints[3:] + joints[:3])
    assert load_bundle(copy, joint_names=joints).obs_dim == 45
    data = bytearray((copy / "policy.onnx").read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / "policy.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="policy.onnx has been modified"):
        load_bundle(copy)


def test_runtime_holds_last_safe_action_on_nan(exported):
    _, bundle, _ = exported
    policy = load_bundle(bundle)
    obs = np.load(bundle / "calibration_obs.npy")[:2]
    good = policy(obs[0])
    assert not policy.flagged
    bad = obs[1].copy()
    bad[5] = np.nan
    held = policy(bad)
    assert policy.flagged and np.array_equal(held, good)
    np.testing.assert_allclose(policy.joint_targets(np.zeros(12)), policy.default_joint_pos)


def test_runtime_needs_numpy_only(exported):
    _, bundle, _ = exported
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import numpy as np; from runtime import load_bundle; "
            "p = load_bundle(sys.argv[1]); a = p(np.load(sys.argv[1] + '/calibration_obs.npy')[0]); "
            "bad = [m for m in ('torch', 'onnxruntime', 'onnx', 'stable_baselines3', 'mujoco', 'agents') if m in sys.modules]; "
            "print(a.shape, bad)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code, str(bundle)], capture_output=True, text=True, check=True, cwd="/")
    assert out.stdout.strip() == "(12,) []"


def test_generated_c_compiles_cleanly(exported, tmp_path):
    _, bundle, _ = exported
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-c", str(bundle / "policy.c"),
                    "-o", str(tmp_path / "policy.o")], check=True, capture_output=True)  # fmt: skip
    assert "static const int8_t QW0" in (bundle / "policy.c").read_text()


def test_validate_flies_the_bundle_as_training_flew_the_run(exported, tmp_path):
    from sim.validate import evaluate
    from tests.sim.test_validate import vconfig

    run_dir, bundle, _ = exported
    args = ["episodes=5", "episode_s=1.0", "video=false"]
    from_bundle = evaluate(vconfig(f"policy={bundle}", *args), tmp_path / "b")
    from_run = evaluate(vconfig(f"policy={run_dir}", *args))
    assert from_bundle["policy"]["kind"] == "bundle" and (tmp_path / "b" / "report.json").is_file()
    a, b = from_bundle["scenarios"]["nominal"]["metrics"], from_run["scenarios"]["nominal"]["metrics"]
    assert a["episode_length"] == b["episode_length"] and a["vx_rmse"] == pytest.approx(b["vx_rmse"], abs=1e-3)


def test_training_delay_from_latency_report(exported):
    from envs import task_config
    from envs.task import LocomotionTask

    _, bundle, _ = exported
    lat = json.loads((bundle / "latency.json").read_text())
    estimate = lat["artifacts"][lat["recommended"]]["device_estimate"]
    delay = {"action_delay": {"params": {"from_latency_report": str(bundle / "latency.json")}}}
    task = LocomotionTask(task_config("quadruped_flat", events=delay), num_envs=2)
    assert task.events.terms["action_delay"].range_ms == pytest.approx(
        [min(estimate["p50_us"] / 1000, 20), min(estimate["p999_us"] / 1000, 20)]
    )
    with pytest.raises(ValueError, match="action_delay.params.from_latency_report: '/nope.json' not found"):
        missing = {"action_delay": {"params": {"from_latency_report": "/nope.json"}}}
        LocomotionTask(task_config("quadruped_flat", events=missing), num_envs=1)


def export_config(*overrides: str):
    from omegaconf import OmegaConf

    from common.configs import compose
    from configs import ROOT
    from onboard.exporter import register

    register()
    return OmegaConf.to_object(compose("export", list(overrides), root=ROOT / "export"))


@pytest.mark.parametrize("args,expected", [
    (["policy=/no/such/run"], "policy: '/no/such/run' is not a run directory"),
    (["parity_samples=100"], "parity_samples and latency_calls: at least 10000 each"),
    (["closed_loop_episodes=0"], "closed_loop_episodes: must be >= 1, got 0"),
    (["device.budget_share=0"], "device: control_rate_hz > 0, 0 < budget_share <= 1 and slowdown > 0 are required"),
    ([f"policy={Path(__file__).resolve()}"], "is not a run directory (needs run.json and config.yaml from train.py)"),
    (["device.control_rate_hz=0"], "device: control_rate_hz > 0, 0 < budget_share <= 1 and slowdown > 0 are required"),
    (["device.slowdown=-1"], "device: control_rate_hz > 0, 0 < budget_share <= 1 and slowdown > 0 are required"),
])  # fmt: skip
def test_export_bad_input(exported, tmp_path, args, expected):
    from onboard.exporter import export
    from tests.agents.test_bad_input import snapshot

    run_dir, bundle, _ = exported
    before = snapshot(run_dir), snapshot(bundle)
    with pytest.raises(ValueError) as err:
        export(export_config(f"policy={run_dir}", *args), tmp_path / "b")
    assert (snapshot(run_dir), snapshot(bundle)) == before, "the good run and bundle are untouched"
    assert expected in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "b").exists() and not list(tmp_path.iterdir())
    from hydra.errors import MissingConfigException

    with pytest.raises(MissingConfigException, match="device/pi_zero"):
        export_config("device=pi_zero")


def test_export_never_overwrites_a_bundle(exported, tmp_path):
    from onboard.exporter import export

    run_dir, bundle, _ = exported
    before = {p.name: p.read_bytes() for p in bundle.iterdir()}
    with pytest.raises(ValueError, match="exists and is not an empty directory"):
        export(export_config(f"policy={run_dir}"), bundle)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    with pytest.raises(ValueError, match="exists and is not an empty directory"):
        export(export_config(f"policy={run_dir}"), a_file)
    assert {p.name: p.read_bytes() for p in bundle.iterdir()} == before and a_file.read_text() == "keep me"


def test_bench_onboard_runs_inside_the_bundle(exported, tmp_path):
    import shutil

    _, bundle, _ = exported
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    out = subprocess.run(
        [sys.executable, "bench_onboard.py", "--calls", "2000"], cwd=copy, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    report = json.loads((copy / "latency_device.json").read_text())
    assert report["measured"] is True and report["budget_us"] == pytest.approx(5000.0)
    assert {"numpy", "onnx_fp32", "onnx_int8", "c_fp32", "c_int8"} <= set(report["artifacts"])
    assert all(a["host"]["calls"] == 2000 for a in report["artifacts"].values())
    assert "trtexec" in (copy / "trt_build.sh").read_text() and "--int8" in (copy / "trt_build.sh").read_text()


def test_the_numpy_runtime_is_the_reference_of_onnx_and_c(exported):
    from onboard.artifacts import load_artifact

    _, bundle, _ = exported
    runtime = load_bundle(bundle)
    obs = np.load(bundle / "calibration_obs.npy")[:512]
    reference = runtime.forward(obs)
    for name, tolerance in (("onnx_fp32", 1e-5), ("c_fp32", 1e-5), ("onnx_fp16", 2e-2)):
        actions = load_artifact(bundle, name, runtime.obs_dim, runtime.action_dim)(obs)
        np.testing.assert_allclose(actions, reference, atol=tolerance, err_msg=name)


def _copy(bundle: Path, tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    return copy


def _rehash(copy: Path, manifest: dict) -> None:
    from common.io import sha256_file

    manifest["files"] = {name: sha256_file(copy / name) for name in manifest["files"]}
    (copy / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("fault,expected", [
    ("no_files_section", "manifest.json has no 'files' section"),
    ("manifest_not_object", "manifest.json is not a JSON object"),
    ("manifest_missing", "manifest.json unreadable (FileNotFoundError)"),
    ("weights_pickled", "weights.npz is not this bundle's array archive"),
    ("joint_order_edited", "manifest.json's contract (observation, joints, gains, timing, network) differs"),
    ("gains_edited", "manifest.json's contract (observation, joints, gains, timing, network) differs"),
    ("contract_field_missing", "manifest.json lacks 'timing' of the contract"),
    ("incomplete", "incomplete (an export was interrupted or is still running)"),
    ("a_file", "manifest.json unreadable (NotADirectoryError)"),
])  # fmt: skip
def test_runtime_refuses_a_broken_bundle_in_one_line(exported, tmp_path, fault, expected):
    import pickle

    _, bundle, _ = exported
    copy = _copy(bundle, tmp_path)
    manifest = json.loads((copy / "manifest.json").read_text())
    if fault == "no_files_section":
        del manifest["files"]
        (copy / "manifest.json").write_text(json.dumps(manifest))
    elif fault == "manifest_not_object":
        (copy / "manifest.json").write_text("[1, 2]")
    elif fault == "manifest_missing":
        (copy / "manifest.json").unlink()
    elif fault == "weights_pickled":  # a pickle in place of the arrays, its hash updated in the manifest
        (copy / "weights.npz").write_bytes(pickle.dumps({"obs_mean": np.zeros(45)}))
        _rehash(copy, manifest)
    elif fault == "joint_order_edited":  # to match another robot, while the weights expect the original order
        names = manifest["robot"]["joint_names"]
        manifest["robot"]["joint_names"] = names[3:] + names[:3]
        (copy / "manifest.json").write_text(json.dumps(manifest))
    elif fault == "gains_edited":
        manifest["robot"]["kp"] = [50.0] * 12
        (copy / "manifest.json").write_text(json.dumps(manifest))
    elif fault == "contract_field_missing":
        del manifest["timing"]
        (copy / "manifest.json").write_text(json.dumps(manifest))
    elif fault == "incomplete":
        (copy / "INCOMPLETE").write_text("")
    elif fault == "a_file":
        copy = copy / "policy.c"
    with pytest.raises(BundleError) as err:
        load_bundle(copy)
    assert expected in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("obs,expected", [
    (np.float32(1.0), r"observation has shape \(\); this bundle takes \(45,\) or \(n, 45\)"),
    (np.zeros((2, 3, 45), np.float32), r"observation has shape \(2, 3, 45\)"),
    (np.zeros(46, np.float32), r"observation has shape \(46,\)"),
])  # fmt: skip
def test_runtime_refuses_observations_of_the_wrong_shape(exported, obs, expected):
    _, bundle, _ = exported
    with pytest.raises(BundleError, match=expected):
        load_bundle(bundle)(obs)


def test_validation_of_a_tampered_bundle_is_one_line(exported, tmp_path):
    from sim.validate import evaluate
    from tests.sim.test_validate import vconfig

    _, bundle, _ = exported
    copy = _copy(bundle, tmp_path)
    data = bytearray((copy / "weights.npz").read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / "weights.npz").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="weights.npz has been modified"):
        evaluate(vconfig(f"policy={copy}", "episodes=2", "episode_s=0.5"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_full_disk_during_export_leaves_nothing_and_says_so(exported, tmp_path, monkeypatch):
    import errno

    from onboard import writer
    from onboard.exporter import TMP_PREFIX, export

    run_dir, _, _ = exported
    real = writer.write_weights

    def full(*args, **kwargs):
        real(*args, **kwargs)
        raise OSError(errno.EFBIG, "File too large", str(args[1]))

    monkeypatch.setattr(writer, "write_weights", full)
    out = tmp_path / "b"
    with pytest.raises(ValueError) as err:
        export(export_config(f"policy={run_dir}"), out)
    assert str(err.value).startswith(
        f"out: cannot write the bundle beside '{out}': File too large"
    ) and "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == [], "no bundle and no temporary folder"
    assert TMP_PREFIX.startswith(".")


def test_temporaries_of_dead_exports_are_removed_and_never_loaded(exported, tmp_path):
    from onboard.exporter import TMP_PREFIX, remove_stale_temporaries

    _, bundle, _ = exported
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"{TMP_PREFIX}b.{dead.stdout.strip()}"
    import shutil

    shutil.copytree(bundle, stale)
    (stale / "INCOMPLETE").write_text("")
    live = tmp_path / f"{TMP_PREFIX}b.{os.getpid()}"
    shutil.copytree(stale, live)
    with pytest.raises(BundleError, match="incomplete"):
        load_bundle(stale)
    remove_stale_temporaries(tmp_path / "another_name")
    assert not stale.exists() and live.exists(), "a running export's folder is left alone"


def test_an_integrator_rebuilds_the_observation_from_the_manifest_alone(exported):
    """Only manifest.json and MuJoCo's raw state: frames, signs, order and scales as the manifest states them."""
    import mujoco

    from envs import task_config
    from envs.task import LocomotionTask

    _, bundle, _ = exported
    m = json.loads((bundle / "manifest.json").read_text())
    assert m["robot"]["imu"]["quat_in_base"] == [1.0, 0.0, 0.0, 0.0] and m["robot"]["ground"]["friction"] == 1.0
    assert "its includes and the mesh" in m["robot_model_hash_method"]
    assert all(t["convention"] for t in m["observation"]["terms"])
    task = LocomotionTask(task_config("quadruped_flat", randomization="none"), num_envs=1, seed=0, nthread=1)
    task.reset()
    rng = np.random.default_rng(0)
    for _ in range(20):
        action = rng.uniform(-1, 1, (1, 12))
        obs = task.step(action).obs["policy"][0]
    data = task.batch.get_data(0)
    model = task.batch.get_model(0)
    mujoco.mj_forward(model, data)
    base = model.body(m["robot"]["base_body"]).id
    rot = data.xmat[base].reshape(3, 3)  # base frame -> world
    joints = m["robot"]["joint_names"]
    q = np.array([data.qpos[model.jnt_qposadr[model.joint(j).id]] for j in joints])
    qd = np.array([data.qvel[model.jnt_dofadr[model.joint(j).id]] for j in joints])
    omega = np.zeros(6)
    mujoco.mj_objectVelocity(model, data, mujoco.mjtObj.mjOBJ_BODY, base, omega, 1)  # local frame: [ang, lin]
    raw = {"base_ang_vel": omega[:3], "projected_gravity": rot.T @ np.array([0.0, 0.0, -1.0]),
           "velocity_command": task.command[0], "joint_pos_rel": q - np.array(m["robot"]["default_joint_pos"]),
           "joint_vel": qd, "previous_action": np.clip(action[0], -1, 1)}  # fmt: skip
    rebuilt = np.concatenate([raw[t["name"]] * t["scale"] for t in m["observation"]["terms"]])
    np.testing.assert_allclose(obs[3:], rebuilt[3:], atol=1e-5)
    # the gyro is read one physics step before the joints, as the manifest says: the free joint's angular
    # velocity (body frame) at the start of the last physics step
    rd = task.scene.root_dof
    earlier = task.sim.out["qvel"][0, -2, rd + 3 : rd + 6]
    np.testing.assert_allclose(obs[:3], earlier * m["observation"]["terms"][0]["scale"], atol=1e-5)
    assert np.abs(omega[:3] - earlier).max() > 1e-3, "the lag is real: the current rate differs"
