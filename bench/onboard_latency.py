"""Each runtime's p99 ÷ ONNX Runtime fp32 p99, and the C runtime's time ÷ the MLP's FLOP floor on one core.

    python bench/onboard_latency.py <bundle_dir> [calls]

All runtimes run single-threaded on single observations, ≥ 10,000 calls after warm-up, in this one run.
The FLOP floor is the MLP's FLOPs at the rate a single-threaded BLAS GEMM reaches on this core.
Target: int8 C p99 ≤ 0.2 × ONNX Runtime fp32 p99.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from common.cli import positive, script  # noqa: E402
from onboard import latency  # noqa: E402
from onboard.artifacts import ONNX_FILES  # noqa: E402
from onboard.runtime import BundleError, load_bundle  # noqa: E402


def gemm_flops_per_second() -> float:
    """Single-threaded GEMM rate of this core (float32), the practical peak."""
    a = np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32)
    a @ a
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < 1.0:
        a @ a
        n += 1
    return n * 2 * 512**3 / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path, help="a bundle directory (export.py's output)")
    parser.add_argument("calls", nargs="?", type=positive(int), default=10_000, help="per runtime")
    args = parser.parse_args()
    bundle, calls = args.bundle, args.calls
    if not (bundle / "manifest.json").is_file():
        raise ValueError(f"bundle: '{bundle}' has no manifest.json; give a directory export.py wrote")
    manifest = json.loads((bundle / "manifest.json").read_text())
    obs_all = np.load(bundle / "calibration_obs.npy")
    obs = obs_all[np.arange(calls) % len(obs_all)].astype(np.float32)
    results = {}
    for name, file in ONNX_FILES.items():
        session = latency.ort_session(bundle / file)
        results[name] = latency.time_calls(lambda o, s=session: s.run(["actions"], {"obs": o}), obs)
    policy = load_bundle(bundle)
    results["numpy"] = latency.time_calls(lambda o: policy(o[0]), obs)
    results["c_fp32"] = latency.time_c(bundle, obs, int8=False)
    results["c_int8"] = latency.time_c(bundle, obs, int8=True)
    base = results["onnx_fp32"]["p99_us"]
    print(f"{'runtime':10}  {'p50 (us)':>9}  {'p99 (us)':>9}  {'p99 / ORT fp32':>14}")
    for name, r in results.items():
        print(f"{name:10}  {r['p50_us']:9.2f}  {r['p99_us']:9.2f}  {r['p99_us'] / base:14.3f}")
    flops = manifest["policy"]["flops"]
    rate = gemm_flops_per_second()
    floor_us = flops / rate * 1e6
    print(f"MLP {flops:,} FLOPs; one-core GEMM rate {rate / 1e9:.1f} GFLOP/s -> FLOP floor {floor_us:.2f} us")
    for name in ("c_fp32", "c_int8"):
        print(f"{name} p50 / FLOP floor = {results[name]['p50_us'] / floor_us:.1f}")
    ratio = results["c_int8"]["p99_us"] / base
    print(f"int8 C p99 / ORT fp32 p99 = {ratio:.3f}  (target <= 0.2)")


if __name__ == "__main__":
    script(main, (ValueError, FileNotFoundError, BundleError))
