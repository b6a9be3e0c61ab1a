"""A trained SB3 model as a callable `raw actor observations -> actions`, the way training saw them."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from agents import algos, checkpoint
from common.io import is_run_dir, load_run_config


def run_and_checkpoint(path: str | Path) -> tuple[Path, Path | None] | None:
    """(run dir, None) for a run directory, (run dir, checkpoint) for one of its checkpoints
    (<run>/checkpoints/step_*), None for anything else."""
    path = Path(path)
    if is_run_dir(path):
        return path, None
    if (path / "meta.json").is_file() and path.parent.name == "checkpoints" and is_run_dir(path.parent.parent):
        return path.parent.parent, path
    return None


class SB3Policy:
    """A training run's policy: its final model, newest checkpoint or a given checkpoint, with its observation
    normalizer, acting exactly as `model.predict(VecNormalize.normalize_obs(obs), deterministic=True)`."""

    def __init__(self, run_dir: Path, source: Path | None = None) -> None:
        run_dir = Path(run_dir)
        self.cfg = load_run_config(run_dir)
        if source is None:
            source = run_dir if (run_dir / "model.zip").is_file() else checkpoint.latest(run_dir)
        else:
            checkpoint.verify(Path(source))
        if source is None:
            raise ValueError(f"policy: run '{run_dir}' has neither model.zip nor a complete checkpoint")
        source = Path(source)
        name = self.cfg.algo.name
        if name not in algos.ALGOS:
            raise ValueError(f"policy: run '{run_dir}' was trained with '{name}'; accepted: {', '.join(algos.ALGOS)}")
        self.model = algos.ALGOS[name].load(source / "model.zip", device="cpu")
        self.vecnormalize = None
        if (source / "vecnormalize.pkl").is_file():
            with open(source / "vecnormalize.pkl", "rb") as f:
                self.vecnormalize = pickle.load(f)
        space = self.model.observation_space
        self.dict_obs = hasattr(space, "spaces")
        self.obs_dim = int((space["policy"] if self.dict_obs else space).shape[0])
        self.source = {"kind": "run", "path": str(run_dir), "model": str(source / "model.zip"), "env": self.cfg.env.id,
                       "algo": name}  # fmt: skip

    @classmethod
    def live(cls, model: Any, vecnormalize: Any, cfg: Any) -> SB3Policy:
        """The policy a training is learning, as it stands now (a sweep's walking checks fly it)."""
        policy = cls.__new__(cls)
        policy.cfg, policy.model, policy.vecnormalize = cfg, model, vecnormalize
        space = model.observation_space
        policy.dict_obs = hasattr(space, "spaces")
        policy.obs_dim = int((space["policy"] if policy.dict_obs else space).shape[0])
        policy.source = {"kind": "live", "path": "", "env": cfg.env.id, "algo": cfg.algo.name}
        return policy

    def model_input(self, obs: np.ndarray) -> Any:
        """What SB3's policy receives for raw policy observations (n, obs_dim): VecNormalize's own
        normalization (none when norm_obs is off), and zeros for a critic input that plays no part in an action."""
        obs = np.asarray(obs, dtype=np.float32)
        if self.dict_obs:
            critic = np.zeros((len(obs), self.model.observation_space["critic"].shape[0]), dtype=np.float32)
            full = {"policy": obs, "critic": critic}
            if self.vecnormalize is not None:
                full = self.vecnormalize.normalize_obs(full)
            return {k: np.asarray(v, dtype=np.float32) for k, v in full.items()}
        if self.vecnormalize is not None:
            obs = self.vecnormalize.normalize_obs(obs)
        return np.asarray(obs, dtype=np.float32)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        actions, _ = self.model.predict(self.model_input(obs), deterministic=True)
        return actions
