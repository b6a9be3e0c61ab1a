"""Load each artifact of a bundle as a callable (n, obs_dim) -> (n, action_dim): for parity, latency
and closed-loop flights. Host-side only (onnxruntime, ctypes)."""

from __future__ import annotations

import ctypes
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from onboard.latency import compile_c, ort_session

ARTIFACTS = ("onnx_fp32", "onnx_fp16", "onnx_int8", "numpy", "c_fp32", "c_int8")
ONNX_FILES = {"onnx_fp32": "policy.onnx", "onnx_fp16": "policy.fp16.onnx", "onnx_int8": "policy.int8.onnx"}


class CPolicy:
    """The generated C, compiled into a shared library and called through ctypes."""

    def __init__(self, bundle: Path, int8: bool, obs_dim: int, action_dim: int) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        lib = ctypes.CDLL(str(compile_c(bundle, Path(self._tmp.name) / "libpolicy.so", shared=True)))
        self.fn = lib.lf_policy_int8 if int8 else lib.lf_policy_fp32
        self.fn.argtypes = [ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_float)]
        self.obs_dim, self.action_dim = obs_dim, action_dim

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        obs = np.ascontiguousarray(obs, dtype=np.float32).reshape(-1, self.obs_dim)
        out = np.zeros((len(obs), self.action_dim), dtype=np.float32)
        ptr = ctypes.POINTER(ctypes.c_float)
        for i in range(len(obs)):
            self.fn(obs[i].ctypes.data_as(ptr), out[i].ctypes.data_as(ptr))
        return out


def load_artifact(bundle: Path, name: str, obs_dim: int, action_dim: int,
                  allow_incomplete: bool = False) -> Callable[[np.ndarray], np.ndarray]:  # fmt: skip
    """One artifact as a batch callable (`allow_incomplete`: export's checks of the bundle it assembles)."""
    if name in ONNX_FILES:
        session = ort_session(bundle / ONNX_FILES[name])
        return lambda obs: session.run(["actions"], {"obs": np.asarray(obs, dtype=np.float32)})[0]
    if name == "numpy":
        from onboard.runtime import load_bundle

        return load_bundle(bundle, allow_incomplete=allow_incomplete).forward
    if name in ("c_fp32", "c_int8"):
        return CPolicy(bundle, name == "c_int8", obs_dim, action_dim)
    raise ValueError(f"artifact: unknown '{name}'; accepted: {', '.join(ARTIFACTS)}")
