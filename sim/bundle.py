"""A bundle from export.py as a policy under validation: any of its artifacts, through the contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class BundlePolicy:
    """Loads the bundle with the NumPy runtime (which verifies every file's hash), then the chosen artifact."""

    def __init__(self, bundle: Path, artifact: str = "numpy", allow_incomplete: bool = False) -> None:
        from common.io import load_run_config
        from onboard.artifacts import load_artifact
        from onboard.runtime import load_bundle

        bundle = Path(bundle)
        runtime = load_bundle(bundle, allow_incomplete=allow_incomplete)
        self.cfg = load_run_config(bundle)
        self.obs_dim = runtime.obs_dim
        self.policy_dt = float(runtime.manifest["timing"]["policy_dt"])
        self.fn = (
            runtime
            if artifact == "numpy"
            else load_artifact(bundle, artifact, runtime.obs_dim, runtime.action_dim, allow_incomplete)
        )
        self.source = {
            "kind": "bundle",
            "path": str(bundle),
            "artifact": artifact,
            "env": self.cfg.env.id,
            "algo": self.cfg.algo.name,
        }

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return np.asarray(self.fn(np.asarray(obs, dtype=np.float32)))
