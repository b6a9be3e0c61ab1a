"""Curriculum terms: called for the environments that reset, before their next episode is set up."""

from __future__ import annotations

from typing import Any

import numpy as np


def update_levels(levels: np.ndarray, distance: np.ndarray, commanded_distance: np.ndarray, tile_size: float,
                  n_levels: int, rng: np.random.Generator, promote_share: float = 0.5,
                  demote_ratio: float = 0.5) -> np.ndarray:  # fmt: skip
    """Robots that walked past promote_share of a tile go up a level, those that covered less than demote_ratio
    of what they were commanded go down; those past the top restart at a random level."""
    up = distance > tile_size * promote_share
    down = (distance < demote_ratio * commanded_distance) & ~up
    new = levels + up.astype(int) - down.astype(int)
    top = new >= n_levels
    new[top] = rng.integers(0, n_levels, size=int(top.sum()))
    return np.clip(new, 0, n_levels - 1)


class TerrainLevels:
    """Moves each robot between terrain difficulty levels by how far it walked (legged_gym's game-inspired
    curriculum); a no-op on flat ground."""

    def __init__(self, task: Any, promote_share: float = 0.5, demote_ratio: float = 0.5) -> None:
        """Args: promote_share: share of a tile to walk to go up a level; demote_ratio: share of the commanded
        distance below which a robot goes down."""
        if promote_share <= 0 or demote_ratio < 0:
            raise ValueError("env.curriculum.terrain_levels.params: promote_share > 0 and demote_ratio >= 0 required")
        self.task, self.promote_share, self.demote_ratio = task, promote_share, demote_ratio

    def __call__(self, ids: np.ndarray) -> None:
        task, terrain = self.task, self.task.terrain
        ids = ids[task.episode_step[ids] > 0]  # environments that ran an episode
        if terrain.is_plane or len(ids) == 0:
            return
        r = task.scene.root_qpos
        distance = np.linalg.norm(task.qpos[ids, r : r + 2] - task.origins[ids], axis=1)
        commanded = np.linalg.norm(task.command[ids, :2], axis=1) * task.episode_step[ids] * task.dt
        task.levels[ids] = update_levels(task.levels[ids], distance, commanded, terrain.tile, terrain.n_levels,
                                         task.rng, self.promote_share, self.demote_ratio)  # fmt: skip
        task.origins[ids] = terrain.tile_origin(task.levels[ids], task.cols[ids])


TERMS = {"terrain_levels": TerrainLevels}
