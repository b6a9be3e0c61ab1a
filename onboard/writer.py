"""Writing a bundle's files: ONNX fp32/fp16/int8, NumPy weights and runtime, C, scripts, the manifest."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from omegaconf import OmegaConf

from common.io import git_commit, now, sha256_file, sha256_text, versions
from envs import task_config
from envs.robot import Scene
from envs.task import LocomotionTask
from onboard import codegen, onnx_graph
from onboard.extract import MLP
from onboard.runtime import INCOMPLETE, contract_sha256

FILES_DIR = Path(__file__).parent / "bundle_files"
MANIFEST = "manifest.json"


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


def write_weights(mlp: MLP, path: Path, contract_sha256: str) -> None:
    """The NumPy runtime's arrays, with the contract's hash bound to them (a hand-edited manifest then fails)."""
    arrays = {"obs_mean": mlp.obs_mean, "obs_var": mlp.obs_var, "obs_epsilon": np.float64(mlp.obs_epsilon),
              "obs_clip": np.float64(mlp.obs_clip), "n_layers": np.int64(len(mlp.weights)),
              "contract_sha256": np.str_(contract_sha256)}  # fmt: skip
    for i, (w, b) in enumerate(zip(mlp.weights, mlp.biases)):
        arrays[f"w{i}"], arrays[f"b{i}"] = w, b
    np.savez(path, **arrays)


def write_artifacts(
    folder: Path, mlp: MLP, calibration: np.ndarray, config_yaml: str, manifest: dict[str, Any]
) -> codegen.Int8MLP:
    """Every artifact of a bundle into `folder` (whose manifest is `manifest`); returns the int8 MLP of the C."""
    onnx.save(onnx_graph.build(mlp, np.float32), str(folder / "policy.onnx"))
    onnx.save(onnx_graph.build(mlp, np.float16), str(folder / "policy.fp16.onnx"))
    quantize_int8(folder / "policy.onnx", folder / "policy.int8.onnx", calibration)
    write_weights(mlp, folder / "weights.npz", contract_sha256(manifest))
    q = codegen.Int8MLP.calibrate(mlp, calibration)
    (folder / "policy.h").write_text(codegen.header(mlp))
    (folder / "policy.c").write_text(codegen.source(q))
    for name in ("runtime.py", "robot_loop.py", "robot_io.py"):  # NumPy-only: the robot runs these
        shutil.copy(Path(__file__).with_name(name), folder / name)
    for name in ("trt_build.sh", "bench_onboard.py"):
        shutil.copy(FILES_DIR / name, folder / name)
    os.chmod(folder / "trt_build.sh", 0o755)
    (folder / "config.yaml").write_text(config_yaml)
    np.save(folder / "calibration_obs.npy", calibration)
    return q


def manifest_body(cfg: Any, mlp: MLP, run: dict[str, Any], device: dict[str, Any]) -> dict[str, Any]:
    """Everything the robot side must agree with, before file hashes and verdicts are added."""
    task = LocomotionTask(task_config(cfg), num_envs=1, seed=0, nthread=1)
    sc, events = task.scene, task.events.terms
    delay = {
        k: list(events[k].range_ms or [0.0, 0.0]) if k in events else [0.0, 0.0] for k in ("action_delay", "obs_delay")
    }
    return {
        "format": "locoforge-bundle/1",
        "created": now(),
        # the run's identity, never a path on the training machine
        "config_hash": run["config_hash"],
        "params_hash": run.get("params_hash"),
        "robot_model_hash": sc.model_hash,
        "robot_model_hash_method": "sha256 over the robot MJCF, its includes and the mesh, texture and heightfield files it reads (envs.robot.model_hash)",
        "trained": {"git": run.get("git"), "steps_done": run.get("steps_done")},
        "git": git_commit(),
        "versions": versions(),
        "algo": cfg.algo.name,
        "env": cfg.env.id,
        "observation": {
            "size": mlp.obs_dim,
            "dtype": "float32",
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
            "held_joints": held_joints(sc),
            "feet": list(sc.robot.feet),
            "base_body": sc.robot.base_body,
            "imu": {
                "site": sc.robot.imu_site,
                "pos_in_base": sc.imu_in_base["pos"],
                "quat_in_base": sc.imu_in_base["quat"],
                "measures": "base_ang_vel and base_lin_vel, in this frame",
            },  # fmt: skip
            "ground": {
                "kind": task.terrain.cfg.kind,
                "friction": task.terrain.cfg.friction,
                "friction_randomized": (
                    task.cfg.events["physics"].params.get("friction") if "physics" in task.cfg.events else None
                ),
            },  # fmt: skip
            "control": "PD at the physics rate: tau = clip(kp (q_target - q) - kd qdot, -torque_limit, torque_limit)",
        },  # fmt: skip
        "timing": {
            "policy_dt": task.dt,
            "physics_dt": task.cfg.sim.physics_dt,
            "decimation": task.decimation,
            "control_rate_hz": 1.0 / task.dt,
        },  # fmt: skip
        "events": OmegaConf.to_container(OmegaConf.structured(task.cfg).events),
        # resolved: a delay taken from a latency report is stated as the range training used
        "delays_assumed_ms": {"action": delay["action_delay"], "observation": delay["obs_delay"]},
        "policy": {
            "layers": [list(w.shape) for w in mlp.weights],
            "activations": mlp.activations,
            "output": mlp.output,
            "action_low": mlp.action_low.tolist(),
            "action_high": mlp.action_high.tolist(),
            "flops": mlp.flops(),
        },  # fmt: skip
        "device": device,
        **({"gait": dataclasses.asdict(task.cfg.gait)} if task.cfg.gait is not None else {}),
    }


def seal(folder: Path, manifest: dict[str, Any]) -> None:
    """Hash every file of the bundle into the manifest and write it last: a bundle is whole once it has one."""
    manifest["config_sha256"] = sha256_text((folder / "config.yaml").read_text())
    skip = (MANIFEST, INCOMPLETE)
    manifest["files"] = {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.is_file() and p.name not in skip}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def held_joints(sc: Scene) -> dict:
    """Joints outside the action that the robot must hold by PD at a fixed target, as training did."""
    model, n = sc.model, sc.num_joints
    return {
        "joint_names": list(sc.held_joints),
        "target": sc.held_default.tolist(),
        "kp": model.actuator_gainprm[n:, 0].tolist(),
        "kd": (-model.actuator_biasprm[n:, 2]).tolist(),
        "torque_limit": model.actuator_forcerange[n:, 1].tolist(),
        "control": "the same PD as the policy's joints, with these fixed targets",
    }
