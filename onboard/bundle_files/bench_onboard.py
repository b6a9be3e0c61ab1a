"""Run on the robot's computer: time this bundle's artifacts and write latency_device.json in the
schema of latency.json (measured, not estimated). Needs NumPy; ONNX Runtime and gcc are used when present.

    python3 bench_onboard.py [--calls 10000] [--budget-us 5000]
"""

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from runtime import load_bundle  # noqa: E402


def percentiles(ns):
    us = np.asarray(ns, dtype=np.float64) / 1000.0
    return {
        "p50_us": float(np.percentile(us, 50)),
        "p99_us": float(np.percentile(us, 99)),
        "p999_us": float(np.percentile(us, 99.9)),
        "max_us": float(us.max()),
        "calls": int(len(us)),
    }


def time_calls(fn, obs, warmup=1000):
    for i in range(warmup):
        fn(obs[i % len(obs)][None])
    out = np.empty(len(obs), dtype=np.int64)
    for i in range(len(obs)):
        o = obs[i][None]
        t0 = time.perf_counter_ns()
        fn(o)
        out[i] = time.perf_counter_ns() - t0
    return percentiles(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=10000)
    parser.add_argument("--budget-us", type=float, default=None)
    args = parser.parse_args()
    manifest = json.loads((HERE / "manifest.json").read_text())
    device = manifest["device"]
    budget = args.budget_us or 1e6 / device["control_rate_hz"] * device["budget_share"]
    calib = np.load(HERE / "calibration_obs.npy")
    obs = calib[np.arange(args.calls) % len(calib)].astype(np.float32)
    results = {}
    policy = load_bundle(HERE)
    results["numpy"] = time_calls(lambda o: policy(o[0]), obs)
    try:
        import onnxruntime as ort

        for name, file in (
            ("onnx_fp32", "policy.onnx"),
            ("onnx_fp16", "policy.fp16.onnx"),
            ("onnx_int8", "policy.int8.onnx"),
        ):
            opts = ort.SessionOptions()
            opts.intra_op_num_threads, opts.inter_op_num_threads = 1, 1
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
            session = ort.InferenceSession(str(HERE / file), opts, providers=["CPUExecutionProvider"])
            results[name] = time_calls(lambda o, s=session: s.run(["actions"], {"obs": o}), obs)
    except ImportError:
        print("onnxruntime not installed: ONNX artifacts not timed")
    if shutil.which("gcc"):
        bench = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "policy.h"
int main(int c, char **v) { int n = atoi(v[1]), q = atoi(v[2]); FILE *f = fopen(v[3], "rb");
  float *o = malloc(sizeof(float) * LF_OBS_DIM * n), a[LF_ACTION_DIM];
  if (fread(o, sizeof(float), (size_t)LF_OBS_DIM * n, f) != (size_t)LF_OBS_DIM * n) return 2;
  for (int i = 0; i < 1000; ++i) q ? lf_policy_int8(o, a) : lf_policy_fp32(o, a);
  for (int i = 0; i < n; ++i) { struct timespec s, e; clock_gettime(CLOCK_MONOTONIC, &s);
    if (q) lf_policy_int8(o + i * LF_OBS_DIM, a); else lf_policy_fp32(o + i * LF_OBS_DIM, a);
    clock_gettime(CLOCK_MONOTONIC, &e); printf("%ld\n", (e.tv_sec - s.tv_sec) * 1000000000L + (e.tv_nsec - s.tv_nsec)); }
  return 0; }
"""
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "bench.c").write_text(bench)
            exe = Path(tmp, "bench")
            subprocess.run(
                [
                    "gcc",
                    "-O3",
                    "-mcpu=native" if platform.machine() in ("aarch64", "arm64") else "-march=native",
                    "-std=c99",
                    f"-I{HERE}",
                    str(HERE / "policy.c"),
                    str(Path(tmp, "bench.c")),
                    "-o",
                    str(exe),
                    "-lm",
                ],
                check=True,
            )
            obs.tofile(Path(tmp, "obs.bin"))
            for name, q in (("c_fp32", 0), ("c_int8", 1)):
                out = subprocess.run(
                    [str(exe), str(len(obs)), str(q), str(Path(tmp, "obs.bin"))],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                results[name] = percentiles(np.array(out.stdout.split(), dtype=np.int64))
    report = {
        "device": platform.node(),
        "machine": platform.machine(),
        "measured": True,
        "budget_us": budget,
        "host_calls": args.calls,
        "artifacts": {
            n: {
                "host": r,
                "device_estimate": {k: v for k, v in r.items() if k.endswith("_us")},
                "verdict": "PASS" if r["p99_us"] <= budget else "FAIL",
            }
            for n, r in results.items()
        },
    }
    (HERE / "latency_device.json").write_text(json.dumps(report, indent=2))
    for n, r in results.items():
        print(
            f"{n:10} p50 {r['p50_us']:8.1f} us  p99 {r['p99_us']:8.1f} us  budget {budget:.0f} us  {'PASS' if r['p99_us'] <= budget else 'FAIL'}"
        )


if __name__ == "__main__":
    main()
