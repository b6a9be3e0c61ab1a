"""`export(run_dir, out, device)`: a run becomes a bundle — ONNX fp32/fp16/int8, NumPy weights and runtime,
C, the manifest (the contract), parity and latency reports, TensorRT build and on-device bench scripts.

The bundle is written into a temporary directory beside `out` and renamed into place only when complete.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from omegaconf import OmegaConf

from agents.rundir import git_commit, is_run_dir, now, sha256_file, sha256_text, versions, write_json
from onboard import codegen, latency, onnx_graph
from onboard.artifacts import ARTIFACTS, ONNX_FILES, load_artifact
from onboard.extract import MLP, from_model

FILES_DIR = Path(__file__).parent / "bundle_files"


@dataclass
class DeviceProfile:
    """A target computer: its control loop, the share of it inference may take, and the host slowdown."""

    name: str = "host"
    description: str = ""
    control_rate_hz: float = 50.0
    budget_share: float = 0.25
    """Share of the control period inference may take (the rest is sensing, estimation, comms)."""
    threads: int = 1
    slowdown: float = 1.0
    """Estimated device latency = host latency x slowdown (an estimate until bench_onboard.py runs there)."""
    slowdown_source: str = ""

    @property
    def budget_us(self) -> float:
        return 1e6 / self.control_rate_hz * self.budget_share


@dataclass
class ExportConfig:
    """`python export.py policy=<run_dir> device=<profile> [out=<dir>] [full=true]`."""

    policy: str | None = None
    device: DeviceProfile = field(default_factory=DeviceProfile)
    out: str | None = None
    """Bundle directory (must not exist); default: bundle/ inside the Hydra run dir."""
    full: bool = False
    """Closed-loop check on the robustness suite too (nominal always)."""
    parity_samples: int = 10_000
    latency_calls: int = 10_000
    closed_loop_episodes: int = 20
    seed: int = 0


def register() -> None:
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="export_schema", node=ExportConfig)


def collect_observations(run_dir: Path, n: int, seed: int) -> tuple[np.ndarray, Any]:
    """Raw policy observations from real rollouts of the policy in its training env (randomization on)."""
    from sim.policy import SB3Policy

    policy = SB3Policy(run_dir)
    from agents.trainer import task_parts
    from envs.task import LocomotionTask

    n_envs = 64
    task = LocomotionTask(**task_parts(policy.cfg), num_envs=n_envs, seed=seed)
    obs = task.reset()
    out = []
    while sum(len(o) for o in out) < n:
        raw = obs["policy"] if isinstance(obs, dict) else obs
        out.append(raw.copy())
        obs = task.step(np.asarray(policy(raw), dtype=np.float64)).obs
    return np.concatenate(out)[:n].astype(np.float32), policy


class _Calibration:
    """onnxruntime CalibrationDataReader over rollout observations."""

    def __init__(self, observations: np.ndarray, batch: int = 64) -> None:
        self.batches = iter([{"obs": observations[i : i + batch]} for i in range(0, len(observations), batch)])

    def get_next(self) -> dict | None:
        return next(self.batches, None)


def quantize_int8(fp32_path: Path, out_path: Path, observations: np.ndarray) -> None:
    """ORT static QDQ, per-channel, symmetric S8S8 (what TensorRT 10 wants), calibrated on rollouts."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    quantize_static(
        str(fp32_path), str(out_path), _Calibration(observations), quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
        calibrate_method=CalibrationMethod.MinMax, extra_options={"ActivationSymmetric": True, "WeightSymmetric": True},
    )  # fmt: skip


def write_weights(mlp: MLP, path: Path) -> None:
    arrays = {"obs_mean": mlp.obs_mean, "obs_var": mlp.obs_var, "obs_epsilon": np.float64(mlp.obs_epsilon),
              "obs_clip": np.float64(mlp.obs_clip), "n_layers": np.int64(len(mlp.weights))}  # fmt: skip
    for i, (w, b) in enumerate(zip(mlp.weights, mlp.biases)):
        arrays[f"w{i}"], arrays[f"b{i}"] = w, b
    np.savez(path, **arrays)


def manifest_body(policy: Any, mlp: MLP, run_dir: Path, device: DeviceProfile) -> dict[str, Any]:
    """Everything the robot side must agree with, before file hashes and verdicts are added."""
    from agents.trainer import task_parts
    from envs.task import LocomotionTask

    cfg = policy.cfg
    task = LocomotionTask(**task_parts(cfg), num_envs=1, seed=0, nthread=1)
    sc, rand = task.scene, cfg.randomization
    run = json.loads((run_dir / "run.json").read_text())
    return {
        "format": "locoforge-bundle/1",
        "created": now(),
        "run_dir": str(run_dir),
        "config_hash": run["config_hash"],
        "params_hash": run.get("params_hash"),
        "robot_model_hash": sc.model_hash,
        "git": git_commit(),
        "versions": versions(),
        "algo": cfg.algo.name,
        "env": cfg.env.id,
        "observation": {
            "size": mlp.obs_dim,
            "dtype": "float32",
            "history": 0,
            "terms": task.observation_schema(),
            "normalizer": "inside every artifact: clip((obs - mean) / sqrt(var + eps), -clip, clip); feed raw observations",
        },  # fmt: skip
        "action": {
            "size": mlp.action_dim,
            "low": mlp.action_low.tolist(),
            "high": mlp.action_high.tolist(),
            "output": "every artifact outputs the raw action (SB3 model.predict(obs, deterministic=True)), not joint targets",
            "to_joint_targets": "q_target[i] = default_joint_pos[i] + action_scale * action[i], in robot.joint_names order",
        },  # fmt: skip
        "robot": {
            "name": sc.robot.name,
            "mjcf": Path(sc.robot.mjcf).name,
            "joint_names": sc.joint_names,
            "default_joint_pos": sc.default_joint_pos.tolist(),
            "kp": sc.kp.tolist(),
            "kd": sc.kd.tolist(),
            "torque_limit": sc.torque_limit.tolist(),
            "action_scale": sc.robot.action_scale,
            "feet": list(sc.robot.feet),
            "control": "PD at the physics rate: tau = clip(kp (q_target - q) - kd qdot, -torque_limit, torque_limit)",
        },  # fmt: skip
        "timing": {
            "policy_dt": task.dt,
            "physics_dt": cfg.env.sim.physics_dt,
            "decimation": cfg.env.sim.decimation,
            "control_rate_hz": 1.0 / task.dt,
        },  # fmt: skip
        "randomization": OmegaConf.to_container(rand),
        "delays_assumed_ms": {
            "action": list(rand.action_delay_ms or [0.0, 0.0]),
            "observation": list(rand.obs_delay_ms or [0.0, 0.0]),
        },
        "policy": {
            "layers": [list(w.shape) for w in mlp.weights],
            "activations": mlp.activations,
            "output": mlp.output,
            "action_low": mlp.action_low.tolist(),
            "action_high": mlp.action_high.tolist(),
            "flops": mlp.flops(),
        },  # fmt: skip
        "device": asdict(device),
    }


def parity(
    bundle: Path, mlp: MLP, observations: np.ndarray, reference: np.ndarray, q: codegen.Int8MLP
) -> dict[str, Any]:
    """Max/mean abs action error of each artifact against SB3 (and of the int8 C against its reference)."""
    report: dict[str, Any] = {
        "samples": int(len(observations)),
        "reference": "SB3 model.predict(obs, deterministic=True)",
    }
    for name in ARTIFACTS:
        actions = load_artifact(bundle, name, mlp.obs_dim, mlp.action_dim)(observations)
        err = np.abs(actions - reference)
        report[name] = {"max_abs_error": float(err.max()), "mean_abs_error": float(err.mean())}
    c_int8 = load_artifact(bundle, "c_int8", mlp.obs_dim, mlp.action_dim)(observations)
    vs_reference = np.abs(c_int8 - q.forward(observations))
    report["c_int8"]["max_abs_error_vs_int8_reference"] = float(vs_reference.max())
    report["c_int8"]["mean_abs_error_vs_int8_reference"] = float(vs_reference.mean())
    return report


def measure_latency(
    bundle: Path, mlp: MLP, observations: np.ndarray, calls: int, device: DeviceProfile
) -> dict[str, Any]:
    """Host percentiles of every artifact, the device estimate, and the verdict against the budget."""
    obs = observations[np.arange(calls) % len(observations)]
    report: dict[str, Any] = {"host_calls": calls, "threads": 1, "device": device.name, "budget_us": device.budget_us,
                              "slowdown": device.slowdown, "slowdown_source": device.slowdown_source,
                              "estimate_note": "device figures are host figures x slowdown: an estimate, not a measurement",
                              "artifacts": {}}  # fmt: skip
    from onboard.runtime import load_bundle

    runners = {name: latency.ort_session(bundle / ONNX_FILES[name]) for name in ONNX_FILES}
    numpy_policy = load_bundle(bundle)
    for name in ARTIFACTS:
        if name in runners:
            session = runners[name]
            host = latency.time_calls(lambda o, s=session: s.run(["actions"], {"obs": o}), obs)
        elif name == "numpy":
            host = latency.time_calls(lambda o: numpy_policy(o[0]), obs)
        else:
            host = latency.time_c(bundle, obs, int8=name == "c_int8")
        device_p99 = host["p99_us"] * device.slowdown
        report["artifacts"][name] = {"host": host, "device_estimate": {k: v * device.slowdown for k, v in host.items() if k.endswith("_us")},
                                     "verdict": "PASS" if device_p99 <= device.budget_us else "FAIL"}  # fmt: skip
    passing = [n for n in ("c_int8", "c_fp32", "onnx_int8", "onnx_fp32") if report["artifacts"][n]["verdict"] == "PASS"]
    report["recommended"] = passing[0] if passing else "onnx_fp32"
    return report


def verdict_table(lat: dict[str, Any]) -> str:
    lines = [
        f"{'artifact':10}  {'host p99 (us)':>13}  {'est. ' + lat['device'] + ' p99 (us)':>22}  {'budget (us)':>11}  verdict"
    ]
    for name, a in lat["artifacts"].items():
        lines.append(
            f"{name:10}  {a['host']['p99_us']:13.1f}  {a['device_estimate']['p99_us']:22.1f}  {lat['budget_us']:11.0f}  {a['verdict']}"
        )
    lines.append(f"(device p99 = host p99 x {lat['slowdown']:g}: an estimate; {lat['slowdown_source']})")
    return "\n".join(lines)


def closed_loop(bundle: Path, lat: dict[str, Any], cfg: ExportConfig) -> dict[str, Any]:
    """Fly every artifact through the nominal (and with full=true, robustness) suite with its estimated
    device latency as action delay; reject artifacts that lose > 3 % return or add > 2 points of falls."""
    from envs import presets
    from sim.bundle import BundlePolicy
    from sim.config import SuiteConfig, ValidateConfig
    from sim.runner import run_suite

    suites = [presets.load("suite", s, SuiteConfig) for s in (["nominal", "robustness"] if cfg.full else ["nominal"])]
    results: dict[str, Any] = {}
    for name in ARTIFACTS:
        policy = BundlePolicy(bundle, artifact=name)
        delay_ms = lat["artifacts"][name]["device_estimate"]["p99_us"] / 1000.0
        ret, falls = [], []
        for suite in suites:
            vcfg = ValidateConfig(suite=suite, episodes=cfg.closed_loop_episodes, seed=cfg.seed, video=False,
                                  extra_action_delay_ms=min(delay_ms, 1000.0 * policy.policy_dt))  # fmt: skip
            for scenario in run_suite(policy, policy.cfg, vcfg).values():
                ret.append(scenario["metrics"]["return"])
                falls.append(scenario["metrics"]["fall_rate"])
        results[name] = {"delay_ms": delay_ms, "mean_return": float(np.mean(ret)), "fall_rate": float(np.mean(falls)),
                         "suites": [s.name for s in suites]}  # fmt: skip
    base = results["onnx_fp32"]
    for r in results.values():
        worse_return = r["mean_return"] < base["mean_return"] - 0.03 * abs(base["mean_return"])
        more_falls = r["fall_rate"] > base["fall_rate"] + 0.02
        r["return_ratio"] = r["mean_return"] / base["mean_return"] if base["mean_return"] else float("nan")
        r["accepted"] = not (worse_return or more_falls)
    return results


def export(cfg: ExportConfig, out: Path) -> dict[str, Any]:
    """Write the bundle to `out`; return the manifest. Raises ValueError on bad input before writing."""
    if cfg.policy is None:
        raise ValueError("policy: missing; give policy=<run_dir> from train.py")
    run_dir = Path(cfg.policy)
    if not is_run_dir(run_dir):
        raise ValueError(f"policy: '{run_dir}' is not a run directory (needs run.json and config.yaml from train.py)")
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"out: '{out}' exists and is not empty; export never overwrites a bundle, choose another out=")
    if cfg.parity_samples < 10_000 or cfg.latency_calls < 10_000:
        raise ValueError("parity_samples and latency_calls: at least 10000 each")
    from agents.config import load_saved

    if load_saved(run_dir / "config.yaml").env.kind != "locoforge":
        raise ValueError(
            "policy: only LocoForge robot tasks export to a robot bundle (this run trained a Gymnasium benchmark)"
        )

    observations, policy = collect_observations(run_dir, cfg.parity_samples, cfg.seed)
    source = run_dir if (run_dir / "model.zip").is_file() else Path(policy.source["model"]).parent
    mlp = from_model(policy.model, source / "vecnormalize.pkl")
    reference = policy(observations)
    tmp = out.parent / f".{out.name}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        onnx.save(onnx_graph.build(mlp, np.float32), str(tmp / "policy.onnx"))
        onnx.save(onnx_graph.build(mlp, np.float16), str(tmp / "policy.fp16.onnx"))
        quantize_int8(tmp / "policy.onnx", tmp / "policy.int8.onnx", observations[:2048])
        write_weights(mlp, tmp / "weights.npz")
        q = codegen.Int8MLP.calibrate(mlp, observations[:2048])
        (tmp / "policy.h").write_text(codegen.header(mlp))
        (tmp / "policy.c").write_text(codegen.source(q))
        shutil.copy(Path(__file__).with_name("runtime.py"), tmp / "runtime.py")
        for name in ("trt_build.sh", "bench_onboard.py"):
            shutil.copy(FILES_DIR / name, tmp / name)
        os.chmod(tmp / "trt_build.sh", 0o755)
        shutil.copy(run_dir / "config.yaml", tmp / "config.yaml")
        np.save(tmp / "calibration_obs.npy", observations[:2048])
        manifest = manifest_body(policy, mlp, run_dir, cfg.device)
        manifest["files"] = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        write_json(tmp / "manifest.json", manifest)  # the runtime checks hashes: parity and latency read the bundle
        write_json(tmp / "parity.json", parity(tmp, mlp, observations, reference, q))
        lat = measure_latency(tmp, mlp, observations, cfg.latency_calls, cfg.device)
        write_json(tmp / "latency.json", lat)
        print(verdict_table(lat))
        loop = closed_loop(tmp, lat, cfg)
        manifest["closed_loop"] = loop
        manifest["rejected"] = [n for n, r in loop.items() if not r["accepted"]]
        manifest["latency_verdicts"] = {n: a["verdict"] for n, a in lat["artifacts"].items()}
        manifest["config_sha256"] = sha256_text((tmp / "config.yaml").read_text())
        manifest["files"] = {
            p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file() and p.name != "manifest.json"
        }
        write_json(tmp / "manifest.json", manifest)
        if out.exists():
            out.rmdir()
        out.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest
