"""Terrain tiles as config: mixed columns by share, each type's range per level, obstacles, earlier run configs."""

import numpy as np
import pytest

from envs import task_config
from envs.terrain import Terrain, allocate_columns


def test_mixed_terrain_gives_each_tile_type_its_share_of_the_columns():
    cfg = task_config(terrain="mixed").terrain
    terrain = Terrain(cfg, seed=0)
    assert terrain.column_kind == ["rough"] * 2 + ["slopes"] * 2 + ["stairs"] * 4 + ["obstacles"] * 2
    # within a type hills (+1) and pits (-1) alternate, so every type has both directions
    assert terrain.column_sign.tolist() == [1, -1, 1, -1, 1, -1, 1, -1, 1, -1]
    # the training log's tile names: slopes and stairs by the way robots walk them (a hill is walked down)
    assert terrain.column_name == ["rough", "rough", "slopes_down", "slopes_up", "stairs_down", "stairs_up", "stairs_down",
                                   "stairs_up", "obstacles", "obstacles"]  # fmt: skip
    assert terrain.descent.tolist() == [n.endswith("_down") for n in terrain.column_name]
    shares = {"rough": 0.0, "slopes": 1.0, "stairs": 3.0, "obstacles": 0.0}
    assert allocate_columns("mixed", shares, 4) == ["slopes", "stairs", "stairs", "stairs"]
    # every type with a share gets a column, however small its share
    shares = {"rough": 0.01, "slopes": 0.01, "stairs": 1.0, "obstacles": 0.0}
    assert allocate_columns("mixed", shares, 3) == ["rough", "slopes", "stairs"]


def _tile(terrain: Terrain, level: int, col: int) -> np.ndarray:
    n, b = terrain.cells_per_tile, terrain.border
    return terrain.heights[b + level * n : b + (level + 1) * n, b + col * n : b + (col + 1) * n]


def test_each_tile_type_spans_its_configured_range_over_the_levels():
    cfg = task_config(terrain="mixed", **{}).terrain
    cfg.stairs.step_height, cfg.slopes.slope, cfg.obstacles.height = [0.05, 0.18], [0.0, 0.44], [0.02, 0.15]
    terrain = Terrain(cfg, seed=3)
    stairs_up, stairs_down = 4, 5  # hill, then pit
    for level, want in ((0, 0.05), (9, 0.18)):
        steps = np.unique(np.round(np.diff(np.sort(np.unique(np.round(_tile(terrain, level, stairs_up), 6)))), 4))
        assert steps.max() == pytest.approx(want, abs=1e-4)
        assert _tile(terrain, level, stairs_down).min() < 0 < _tile(terrain, level, stairs_up).max()
    top = _tile(terrain, 9, 2)  # the steepest hill: its sides rise at 0.44 rad
    grad = np.abs(np.diff(top[:, top.shape[1] // 2])) / cfg.horizontal_scale
    assert np.median(grad[grad > 0]) == pytest.approx(np.tan(0.44), rel=1e-6)
    blocks = _tile(terrain, 9, 8)
    assert 0.074 <= blocks.max() <= 0.15 and -0.15 <= blocks.min() <= -0.074  # raised and sunk, up to 15 cm
    centre = blocks.shape[0] // 2
    assert np.all(blocks[centre - 10 : centre + 10, centre - 10 : centre + 10] == 0.0), "flat spawn platform"
    assert np.all(blocks[:3] == 0.0) and np.all(blocks[:, -3:] == 0.0), "tiles join at height 0"
    assert np.abs(_tile(terrain, 0, 8)).max() <= 0.02


def test_a_run_config_written_before_tile_sections_still_loads():
    from envs.config import TerrainConfig
    from envs.presets import typed

    old = {"name": "stairs", "kind": "stairs", "rough_height": [0.01, 0.08], "slope": [0.0, 0.4],
           "step_height": [0.02, 0.16], "step_width": 0.35}  # fmt: skip
    cfg = typed(old, TerrainConfig, "terrain")
    assert cfg.stairs.step_height == [0.02, 0.16] and cfg.stairs.step_width == 0.35 and cfg.slopes.slope == [0.0, 0.4]
    assert cfg.rough.height == [0.01, 0.08]
