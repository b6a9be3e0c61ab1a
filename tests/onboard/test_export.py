"""export.py on a small trained policy: artifacts, parity, C, contract refusals, latency verdicts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from onboard.runtime import BundleError, load_bundle
from tests.conftest import run_script

EXPECTED = {"policy.onnx", "policy.fp16.onnx", "policy.int8.onnx", "weights.npz", "runtime.py", "policy.c", "policy.h",
            "manifest.json", "parity.json", "latency.json", "trt_build.sh", "bench_onboard.py", "config.yaml",
            "calibration_obs.npy"}  # fmt: skip


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("export")
    run_dir = root / "run"
    run_script("train.py", "total_timesteps=2048", "num_envs=32", "algo.hyperparams.batch_size=256", "eval_every=0",
               "checkpoint_every=0", "progress=false", f"hydra.run.dir={run_dir}", check=True)  # fmt: skip
    bundle = root / "bundle"
    result = run_script("export.py", f"policy={run_dir}", "device=orin_nx", f"out={bundle}", "closed_loop_episodes=10",
                        f"hydra.run.dir={root / 'export_run'}")  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    return run_dir, bundle, result.stdout


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


def test_validate_flies_the_bundle(exported, tmp_path):
    _, bundle, _ = exported
    result = run_script(
        "validate.py", f"policy={bundle}", "episodes=5", "episode_s=1.0", "video=false", f"hydra.run.dir={tmp_path}"
    )
    assert result.returncode in (0, 1), result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["policy"]["kind"] == "bundle" and report["scenarios"]["nominal"]["metrics"]["episode_length"] > 0


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


@pytest.mark.parametrize("args,expected", [
    (["policy=/no/such/run"], "error: policy: '/no/such/run' is not a run directory"),
    (["device=pi_zero"], "Could not find 'device/pi_zero'"),
])  # fmt: skip
def test_export_bad_input(tmp_path, args, expected):
    result = run_script("export.py", *args, f"out={tmp_path / 'b'}", f"hydra.run.dir={tmp_path / 'r'}")
    assert result.returncode != 0 and expected in result.stderr
    assert not (tmp_path / "b").exists()


def test_export_never_overwrites_a_bundle(exported, tmp_path):
    run_dir, bundle, _ = exported
    before = {p.name: p.read_bytes() for p in bundle.iterdir()}
    result = run_script("export.py", f"policy={run_dir}", f"out={bundle}", f"hydra.run.dir={tmp_path / 'r'}")
    assert result.returncode == 2 and "exists and is not an empty directory" in result.stderr
    assert {p.name: p.read_bytes() for p in bundle.iterdir()} == before


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
