"""Terrain scenarios across difficulty levels, with the release policy: every level up and down, the hardest
level passed at <= 10 % falls, and the plot of success against difficulty."""

from __future__ import annotations

import numpy as np
import pytest

from sim.levels import frontier
from tests.conftest import REPO, run_script

WALKER = REPO / "tests" / "fixtures" / "walking_quadruped"


def test_stairs_by_level_up_and_down(tmp_path):
    from sim.config import ScenarioConfig, SuiteConfig, ValidateConfig
    from sim.validate import evaluate

    stairs = ScenarioConfig(terrain={"kind": "stairs", "n_levels": 3, "n_cols": 2, "stairs": {"step_height": [0.02, 0.25]}},
                            levels=True, episodes=24, commands={"forward": [0.5, 0.0, 0.0]},
                            gates=["highest_level_up>=0"])  # fmt: skip
    suite = SuiteConfig(name="terrain", scenarios={"stairs": stairs})
    report = evaluate(ValidateConfig(policy=str(WALKER), suite=suite, episode_s=4.0, video_s=0.5), tmp_path)
    s = report["scenarios"]["stairs"]
    assert set(s["levels"]) == {"0", "1", "2"}
    assert [s["levels"][k]["difficulty"] for k in ("0", "1", "2")] == pytest.approx([0.02, 0.135, 0.25])
    for level in s["levels"].values():
        assert level["up"]["episodes"] == level["down"]["episodes"] == 4
    easy, hard, m = s["levels"]["0"], s["levels"]["2"], s["metrics"]
    assert easy["up"]["fall_rate"] == 0.0 and easy["down"]["fall_rate"] == 0.0  # 2 cm steps: no fall
    assert hard["down"]["fall_rate"] >= 0.5  # 25 cm steps down: the flat policy falls
    # the share of the commanded speed walked: on speed over 2 cm steps, held back by a 13.5 cm step up
    assert 0.8 <= easy["up"]["speed_ratio"] <= 1.2 and 0.8 <= easy["down"]["speed_ratio"] <= 1.2
    assert s["levels"]["1"]["up"]["speed_ratio"] < 0.5 and 0.0 < m["speed_ratio"] < 1.0
    for direction in ("up", "down"):
        rates = [s["levels"][k][direction]["fall_rate"] for k in ("0", "1", "2")]
        passed = next((i for i, r in enumerate(rates) if r > 0.1), 3) - 1
        assert m[f"highest_level_{direction}"] == passed
        assert (
            np.isnan(m[f"highest_difficulty_{direction}"])
            if passed < 0
            else (m[f"highest_difficulty_{direction}"] == pytest.approx([0.02, 0.135, 0.25][passed]))
        )
    assert "plots/terrain_levels.png" in report["plots"] and (tmp_path / "plots" / "terrain_levels.png").is_file()
    assert "Terrain stairs: hardest level passed" in (tmp_path / "report.md").read_text()
    assert s["passed"]
    # the video puts the robot on the first level it does not pass walking down (its one robot is on a hill)
    assert report["worst_video"]["made"] and report["worst_video"]["scenario"] == "stairs"
    assert frontier(m, 3) == min(int(m["highest_level_down"]) + 1, 2)


def test_the_terrain_videos_level_is_the_first_not_passed():
    assert frontier({"highest_level_down": -1.0}, 10) == 0
    assert frontier({"highest_level_down": 4.0}, 10) == 5
    assert frontier({"highest_level_down": 9.0}, 10) == 9  # passed all: the hardest


def test_a_level_sweep_on_flat_ground_is_one_line(tmp_path):
    from sim.config import ScenarioConfig, SuiteConfig, ValidateConfig
    from sim.validate import evaluate

    suite = SuiteConfig(name="x", scenarios={"flat": ScenarioConfig(levels=True, episodes=4)})
    with pytest.raises(ValueError, match="scenario.levels: needs a heightfield terrain with at least 2 columns"):
        evaluate(ValidateConfig(policy=str(WALKER), suite=suite, episode_s=1.0, video=False))


def test_terrain_walk_curve_over_policies():
    """bench/terrain_walk.py scores several policies (a checkpoint curve) on chosen terrains, and names a bad one."""
    proc = run_script("bench/terrain_walk.py", str(WALKER), str(WALKER), "--terrain-only", "--only", "rough_5cm",
                      "--episodes", "2", check=True)  # fmt: skip
    rows = [line.split() for line in proc.stdout.splitlines() if line.startswith("rough_5cm")]
    assert [r[1] for r in rows] == ["up", "down", "up", "down"]  # one table per policy, only the terrain asked for
    assert rows[:2] == rows[2:]  # the same policy scores the same: evaluation is seeded
    assert all(r[2] == "0.0%" and float(r[3]) < 0.3 for r in rows)  # the release policy walks over 5 cm bumps
    assert "fixed commands" not in proc.stdout
    bad = run_script("bench/terrain_walk.py", str(WALKER), "--only", "stairs_20cm")
    assert bad.returncode == 2 and "--only: unknown terrain(s) stairs_20cm; accepted: slopes_20deg" in bad.stderr
    few = run_script("bench/terrain_walk.py", str(WALKER), "--flat-episodes", "0")
    assert few.returncode == 2 and "argument --flat-episodes: 0: must be > 0" in few.stderr


def test_flat_margin_verdict_states_its_noise():
    """bench/terrain_walk.py's flat margin: the difference of two fall shares with its 95 % interval; a verdict whose
    line lies inside the interval says so (128 episodes cannot resolve a 2-point margin near 8 %; 1024 nearly can)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("terrain_walk", REPO / "bench" / "terrain_walk.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    half, verdict = bench.margin_verdict(0.086, 0.062, 128)
    assert verdict == "NOT MET (within noise)" and half == pytest.approx(1.96 * ((0.086 * 0.914 + 0.062 * 0.938) / 128) ** 0.5)
    assert bench.margin_verdict(0.095, 0.085, 1024)[1] == "MET (within noise)"
    assert bench.margin_verdict(0.213, 0.085, 1024)[1] == "NOT MET"  # 12.8 points over, interval ±3.0
    assert bench.margin_verdict(0.0, 0.0, 128) == (pytest.approx(1.96 * (2 / 128**3) ** 0.5), "MET")
