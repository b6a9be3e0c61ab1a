"""Policies under validation, behind one call: raw policy observation (n, obs_dim) -> actions (n, na)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from agents.rundir import is_run_dir


class Policy(Protocol):
    obs_dim: int
    source: dict[str, Any]

    def __call__(self, obs: np.ndarray) -> np.ndarray: ...


class SB3Policy:
    """A training run's policy: the final model (or newest checkpoint) and its observation normalizer,
    acting exactly as `model.predict(obs, deterministic=True)`."""

    def __init__(self, run_dir: Path) -> None:
        from agents import algos, checkpoint
        from agents.config import load_saved

        self.cfg = load_saved(run_dir / "config.yaml")
        source = run_dir if (run_dir / "model.zip").is_file() else checkpoint.latest(run_dir)
        if source is None:
            raise ValueError(f"policy: run '{run_dir}' has neither model.zip nor a complete checkpoint")
        self.model = algos.ALGOS[self.cfg.algo.name].load(source / "model.zip", device="cpu")
        self.obs_rms, self.clip_obs, self.epsilon = None, np.inf, 1e-8
        if (source / "vecnormalize.pkl").is_file():
            import pickle

            with open(source / "vecnormalize.pkl", "rb") as f:
                norm = pickle.load(f)
            self.obs_rms = norm.obs_rms["policy"] if isinstance(norm.obs_rms, dict) else norm.obs_rms
            self.clip_obs, self.epsilon = norm.clip_obs, norm.epsilon
        space = self.model.observation_space
        self.dict_obs = hasattr(space, "spaces")
        self.obs_dim = int((space["policy"] if self.dict_obs else space).shape[0])
        self.source = {"kind": "run", "path": str(run_dir), "model": str(source / "model.zip"), "env": self.cfg.env.id,
                       "algo": self.cfg.algo.name}  # fmt: skip

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        if self.obs_rms is None:
            return obs.astype(np.float32)
        normed = (obs - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + self.epsilon)
        return np.clip(normed, -self.clip_obs, self.clip_obs).astype(np.float32)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        normed = self.normalize(obs)
        if self.dict_obs:
            # the critic's input plays no part in a deterministic action
            critic = np.zeros((len(obs), self.model.observation_space["critic"].shape[0]), dtype=np.float32)
            normed = {"policy": normed, "critic": critic}
        actions, _ = self.model.predict(normed, deterministic=True)
        return actions


def load_policy(path: str | Path) -> Policy:
    """A run directory (train.py) or a bundle directory (export.py, with manifest.json)."""
    path = Path(path)
    if is_run_dir(path):
        return SB3Policy(path)
    if (path / "manifest.json").is_file():
        from sim.bundle import BundlePolicy

        return BundlePolicy(path)
    raise ValueError(
        f"policy: '{path}' is neither a run directory (run.json + config.yaml) nor a bundle (manifest.json)"
    )
