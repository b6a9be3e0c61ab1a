"""The one policy loader of validation and export: a run dir or a bundle -> a callable `obs -> actions`.

This is the only module of `sim/` and `onboard/` that imports `agents/` (for the SB3 algorithm classes and
checkpoints); everything else takes a `Policy`, so any callable with `obs_dim`, `cfg` and `source` can be flown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from agents.policy import SB3Policy, run_and_checkpoint


class Policy(Protocol):
    obs_dim: int
    cfg: Any
    """The training config (train.py's config.yaml): the task the policy was trained on."""
    source: dict[str, Any]

    def __call__(self, obs: np.ndarray) -> np.ndarray: ...


def load_policy(path: str | Path) -> Policy:
    """A run directory (train.py), one of its checkpoints (<run>/checkpoints/step_*), or a bundle directory
    (export.py, with manifest.json)."""
    path = Path(path)
    found = run_and_checkpoint(path)
    if found is not None:
        return SB3Policy(*found)
    if (path / "manifest.json").is_file():
        from sim.bundle import BundlePolicy

        return BundlePolicy(path)
    raise ValueError(
        f"policy: '{path}' is neither a run directory (run.json + config.yaml), a run's checkpoint nor a bundle "
        "(manifest.json)"
    )
