"""Velocity commands: drawn per environment, resampled on a per-environment timer, some standing still."""

from __future__ import annotations

import numpy as np

from envs.config import CommandConfig


def sample_commands(cfg: CommandConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw n commands (vx, vy, yaw rate); a share standing_share of them are exactly zero."""
    low = np.array([cfg.vx[0], cfg.vy[0], cfg.yaw_rate[0]])
    high = np.array([cfg.vx[1], cfg.vy[1], cfg.yaw_rate[1]])
    cmd = rng.uniform(low, high, size=(n, 3))
    cmd[rng.random(n) < cfg.standing_share] = 0.0
    return cmd


def sample_resample_time(cfg: CommandConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    """Seconds until each environment's next command."""
    return rng.uniform(cfg.resample_s[0], cfg.resample_s[1], size=n)
