"""A bundle's acceptance, kept apart from writing it: parity against the training policy, latency against the
device's budget, and closed-loop flights of every artifact through validation's suites."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from onboard import codegen, latency
from onboard.artifacts import ARTIFACTS, ONNX_FILES, load_artifact
from onboard.extract import MLP


def parity(
    bundle: Path, mlp: MLP, observations: np.ndarray, reference: np.ndarray, q: codegen.Int8MLP
) -> dict[str, Any]:
    """Max/mean abs action error of each artifact against SB3 (and of the int8 C against its reference)."""
    report: dict[str, Any] = {
        "samples": int(len(observations)),
        "reference": "SB3 model.predict(obs, deterministic=True)",
    }
    for name in ARTIFACTS:
        actions = load_artifact(bundle, name, mlp.obs_dim, mlp.action_dim, allow_incomplete=True)(observations)
        err = np.abs(actions - reference)
        report[name] = {"max_abs_error": float(err.max()), "mean_abs_error": float(err.mean())}
        if name == "c_int8":
            vs_reference = np.abs(actions - q.forward(observations))
            report[name]["max_abs_error_vs_int8_reference"] = float(vs_reference.max())
            report[name]["mean_abs_error_vs_int8_reference"] = float(vs_reference.mean())
    return report


def measure_latency(bundle: Path, observations: np.ndarray, calls: int, device: Any) -> dict[str, Any]:
    """Host percentiles of every artifact, the device estimate, and the verdict against the budget."""
    from onboard.runtime import load_bundle

    obs = observations[np.arange(calls) % len(observations)]
    report: dict[str, Any] = {"host_calls": calls, "threads": 1, "device": device.name, "budget_us": device.budget_us,
                              "slowdown": device.slowdown, "slowdown_source": device.slowdown_source,
                              "estimate_note": "device figures are host figures x slowdown: an estimate, not a measurement",
                              "artifacts": {}}  # fmt: skip
    numpy_policy = load_bundle(bundle, allow_incomplete=True)
    for name in ARTIFACTS:
        if name in ONNX_FILES:
            session = latency.ort_session(bundle / ONNX_FILES[name])
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


def closed_loop(bundle: Path, lat: dict[str, Any], suites: list[str], episodes: int, seed: int) -> dict[str, Any]:
    """Fly every artifact through the suites with its estimated device latency as action delay; reject
    artifacts that lose > 3 % return or add > 2 points of falls against fp32 ONNX."""
    from sim.bundle import BundlePolicy
    from sim.config import ValidateConfig, load_suite
    from sim.runner import run_suite

    loaded = [load_suite(s) for s in suites]
    results: dict[str, Any] = {}
    for name in ARTIFACTS:
        policy = BundlePolicy(bundle, artifact=name, allow_incomplete=True)
        delay_ms = lat["artifacts"][name]["device_estimate"]["p99_us"] / 1000.0
        ret, falls = [], []
        for suite in loaded:
            vcfg = ValidateConfig(
                suite=suite, episodes=episodes, seed=seed, video=False, extra_action_delay_ms=delay_ms
            )
            for scenario in run_suite(policy, policy.cfg, vcfg).values():
                ret.append(scenario["metrics"]["return"])
                falls.append(scenario["metrics"]["fall_rate"])
        results[name] = {"delay_ms": delay_ms, "mean_return": float(np.mean(ret)), "fall_rate": float(np.mean(falls)),
                         "suites": list(suites)}  # fmt: skip
    base = results["onnx_fp32"]
    for r in results.values():
        worse_return = r["mean_return"] < base["mean_return"] - 0.03 * abs(base["mean_return"])
        more_falls = r["fall_rate"] > base["fall_rate"] + 0.02
        r["return_ratio"] = r["mean_return"] / base["mean_return"] if base["mean_return"] else float("nan")
        r["accepted"] = not (worse_return or more_falls)
    return results
