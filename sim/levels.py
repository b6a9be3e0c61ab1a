"""Terrain scenarios across difficulty: episodes spread over every level and both directions of the pyramid
tiles, metrics per level, the hardest level passed at <= 10 % falls, and a plot of success against difficulty."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

PASS_FALL_RATE = 0.10
"""A level is passed at this share of falls or fewer."""
UNITS = {"slopes": "deg", "stairs": "m", "rough": "m", "obstacles": "m"}
LABELS = {"slopes": "slope", "stairs": "step height", "rough": "bump height", "obstacles": "block height"}


def spread(task: Any, n_commands: int = 1) -> None:
    """Spread the environments over every level and both directions (down: a hill, spawn on top; up: a pit,
    spawn at the bottom) before the episodes start: environment i has command i mod n_commands, so each level
    and direction sees every command."""
    terrain, n = task.terrain, task.num_envs
    if terrain.is_plane or terrain.n_cols < 2:
        raise ValueError("scenario.levels: needs a heightfield terrain with at least 2 columns (up and down tiles)")
    ids = np.arange(n) // max(n_commands, 1)
    task.levels[:] = ids % terrain.n_levels
    task.cols[:] = (ids // terrain.n_levels) % terrain.n_cols
    task.origins[:] = terrain.tile_origin(task.levels, task.cols)


def difficulty(terrain: Any, level: int) -> float:
    """The level's slope (deg), step height, bump or block height (m), as the terrain generated it."""
    kinds = set(terrain.column_kind)
    if len(kinds) != 1 or next(iter(kinds)) not in UNITS:
        return float(level)
    kind = next(iter(kinds))
    value = float(terrain.difficulty(kind, level))
    return float(np.degrees(value)) if UNITS[kind] == "deg" else value


def by_level(task: Any, measure: Callable[[np.ndarray], dict[str, float]]) -> tuple[dict[str, Any], dict[str, float]]:
    """Metrics of every (level, direction), and the hardest level passed from the easiest up, per direction
    (-1: not even the easiest)."""
    terrain, ids = task.terrain, np.arange(task.num_envs)
    down = terrain.column_sign[task.cols] > 0  # hills: spawn on top, walk down; pits: spawn at the bottom
    table: dict[str, Any] = {}
    summary: dict[str, float] = {}
    for direction, mask in (("up", ~down), ("down", down)):
        best = -1
        for level in range(terrain.n_levels):
            cols = ids[mask & (task.levels == level)]
            if not len(cols):
                continue
            m = measure(cols)
            table.setdefault(str(level), {"difficulty": difficulty(terrain, level)})[direction] = {
                "episodes": len(cols), **{k: m[k] for k in ("fall_rate", "vx_rmse", "vy_rmse", "yaw_rmse", "speed_ratio")}}  # fmt: skip
            if m["fall_rate"] <= PASS_FALL_RATE and best == level - 1:
                best = level
        summary[f"highest_level_{direction}"] = float(best)
        summary[f"highest_difficulty_{direction}"] = difficulty(terrain, best) if best >= 0 else float("nan")
    return table, summary


def frontier(metrics: dict[str, Any], n_levels: int) -> int:
    """The first level walking down that the policy did not pass (the hardest when it passed all): where a video
    of a terrain scenario shows what to fix. A one-robot task walks down (its column is a hill)."""
    passed = metrics.get("highest_level_down")
    return int(min(max(passed if passed is not None else -1, -1) + 1, n_levels - 1))


def plot(report: dict[str, Any], out: Path) -> str | None:
    """Success (1 - fall rate) against difficulty, up and down, one panel per terrain scenario."""
    scenarios = {n: s for n, s in report["scenarios"].items() if s.get("levels")}
    if not scenarios:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(scenarios), figsize=(4.2 * len(scenarios), 3.2), squeeze=False)
    for ax, (name, s) in zip(axes[0], scenarios.items(), strict=True):
        rows = sorted(s["levels"].values(), key=lambda r: r["difficulty"])
        for direction, color in (("up", "#d9822b"), ("down", "#2b6cd9")):
            xs = [r["difficulty"] for r in rows if direction in r]
            ys = [1.0 - (r[direction]["fall_rate"] or 0.0) for r in rows if direction in r]
            ax.plot(xs, ys, "o-", color=color, label=direction)
        ax.axhline(1.0 - PASS_FALL_RATE, color="#888", linestyle="--", linewidth=1)
        kind = s["changes"]["terrain"].get("kind", "")
        ax.set(
            title=name,
            xlabel=f"{LABELS[kind]} ({UNITS[kind]})" if kind in UNITS else "level",
            ylabel="episodes without a fall",
            ylim=(-0.05, 1.05),
        )
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / "plots" / "terrain_levels.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path.relative_to(out))
