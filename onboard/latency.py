"""Latency of each artifact: ≥ 10,000 single-observation calls after warm-up; p50/p99/p99.9/max (µs)."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

BENCH_C = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "policy.h"
int main(int argc, char **argv) {
    int n = atoi(argv[1]), int8 = atoi(argv[2]);
    FILE *f = fopen(argv[3], "rb");
    float *obs = malloc(sizeof(float) * LF_OBS_DIM * n), act[LF_ACTION_DIM];
    if (fread(obs, sizeof(float), (size_t)LF_OBS_DIM * n, f) != (size_t)LF_OBS_DIM * n) return 2;
    fclose(f);
    for (int i = 0; i < 1000; ++i) int8 ? lf_policy_int8(obs + (i % n) * LF_OBS_DIM, act) : lf_policy_fp32(obs + (i % n) * LF_OBS_DIM, act);
    for (int i = 0; i < n; ++i) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (int8) lf_policy_int8(obs + i * LF_OBS_DIM, act); else lf_policy_fp32(obs + i * LF_OBS_DIM, act);
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("%ld\n", (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec));
    }
    return 0;
}
"""
CFLAGS = ["-O3", "-march=native", "-std=c99", "-ffp-contract=off"]  # int8 dot products vectorize; fp32 keeps its order


def percentiles(ns: np.ndarray) -> dict[str, float]:
    us = np.asarray(ns, dtype=np.float64) / 1000.0
    return {"p50_us": float(np.percentile(us, 50)), "p99_us": float(np.percentile(us, 99)),
            "p999_us": float(np.percentile(us, 99.9)), "max_us": float(us.max()), "calls": int(len(us))}  # fmt: skip


def time_calls(fn: Callable[[np.ndarray], object], observations: np.ndarray, warmup: int = 1000) -> dict[str, float]:
    """Time fn on each observation (1, obs_dim) in turn."""
    for i in range(warmup):
        fn(observations[i % len(observations)][None])
    out = np.empty(len(observations), dtype=np.int64)
    clock = time.perf_counter_ns
    for i in range(len(observations)):
        obs = observations[i][None]
        t0 = clock()
        fn(obs)
        out[i] = clock() - t0
    return percentiles(out)


def ort_session(path: Path):
    """An ONNX Runtime session as a control loop should run it: 1 intra-op, 1 inter-op thread, no spinning."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def compile_c(bundle: Path, out: Path, shared: bool = False) -> Path:
    """Compile the bundle's policy.c with gcc: a timing harness, or a shared library for ctypes."""
    if shared:
        cmd = ["gcc", *CFLAGS, "-fPIC", "-shared", str(bundle / "policy.c"), "-o", str(out), "-lm"]
    else:
        (out.parent / "bench.c").write_text(BENCH_C)
        cmd = [
            "gcc",
            *CFLAGS,
            f"-I{bundle}",
            str(bundle / "policy.c"),
            str(out.parent / "bench.c"),
            "-o",
            str(out),
            "-lm",
        ]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def time_c(bundle: Path, observations: np.ndarray, int8: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        exe = compile_c(bundle, Path(tmp) / "bench")
        data = Path(tmp) / "obs.bin"
        observations.astype(np.float32).tofile(data)
        out = subprocess.run(
            [str(exe), str(len(observations)), str(int(int8)), str(data)], check=True, capture_output=True, text=True
        )
    return percentiles(np.array(out.stdout.split(), dtype=np.int64))
