"""Velocity commands: drawn per environment, resampled on a per-environment timer, some standing still."""

from __future__ import annotations

import numpy as np

from envs.config import CommandConfig


def sample_commands(cfg: CommandConfig, n: int, rng: np.random.Generator, ids: np.ndarray | None = None) -> np.ndarray:
    """Draw n commands (vx, vy, yaw rate); a share standing_share of them are exactly zero. With fixed
    commands, environment i gets fixed[i % len(fixed)] (ids: the environments drawn for)."""
    if cfg.fixed is not None:
        fixed = np.asarray(cfg.fixed, dtype=np.float64).reshape(-1, 3)
        ids = np.arange(n) if ids is None else np.asarray(ids)
        return fixed[ids % len(fixed)]
    low = np.array([cfg.vx[0], cfg.vy[0], cfg.yaw_rate[0]])
    high = np.array([cfg.vx[1], cfg.vy[1], cfg.yaw_rate[1]])
    cmd = rng.uniform(low, high, size=(n, 3))
    cmd[rng.random(n) < cfg.standing_share] = 0.0
    return cmd


def sample_resample_time(cfg: CommandConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    """Seconds until each environment's next command (never, for fixed commands)."""
    if cfg.fixed is not None:
        return np.full(n, np.inf)
    return rng.uniform(cfg.resample_s[0], cfg.resample_s[1], size=n)
