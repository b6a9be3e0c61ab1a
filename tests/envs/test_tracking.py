"""envs/tracking.py: the walking check measures what a policy does against the commands it was given."""

from __future__ import annotations

import numpy as np
import pytest

from envs import task_config
from envs.tracking import WALK_TARGETS, TrackingResult, track_velocity


class Stand:
    """Holds the default pose: zero actions."""

    obs_dim = 45

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return np.zeros((len(obs), 12))


def cfg(vx: float):
    return task_config("quadruped_flat", randomization="none", commands={"velocity": {"params": {
        "vx": [vx, vx], "vy": [0.0, 0.0], "yaw_rate": [0.0, 0.0], "standing_share": 0.0}}})  # fmt: skip


def test_standing_still_tracks_a_zero_command_and_misses_a_forward_one_by_its_speed():
    still = track_velocity(Stand(), cfg(0.0), episodes=4, episode_s=2.0, warmup_s=0.5)
    assert still.fall_free_share == 1.0 and still.vx_rmse < 0.05 and still.vy_rmse < 0.05 and still.walks
    ahead = track_velocity(Stand(), cfg(0.8), episodes=4, episode_s=2.0, warmup_s=0.5)
    assert ahead.vx_rmse == pytest.approx(0.8, abs=0.05) and ahead.mean_speed_command == pytest.approx(0.8)
    assert not ahead.walks and "NOT YET" in ahead.line()


@pytest.mark.parametrize("field,bad", [("vx_rmse", 0.26), ("vy_rmse", 0.26), ("fall_free_share", 0.94)])
def test_each_target_alone_decides_the_verdict(field, bad):
    good = {"episodes": 128, "fall_free_share": 1.0, "vx_rmse": 0.1, "vy_rmse": 0.1, "yaw_rmse": 0.2,
            "mean_speed_command": 0.5}  # fmt: skip
    assert TrackingResult(**good).walks
    assert not TrackingResult(**{**good, field: bad}).walks
    assert TrackingResult(**{**good, field: WALK_TARGETS[field]}).walks


def test_holding_fixed_commands_measures_the_mean_velocity_and_the_falls():
    from envs.tracking import FIXED_COMMANDS, hold_commands

    results = hold_commands(Stand(), cfg(0.0), episodes=2, episode_s=2.0, last_s=1.0)
    assert [r.name for r in results] == list(FIXED_COMMANDS) and all(r.episodes == 2 for r in results)
    by_name = {r.name: r for r in results}
    assert by_name["stand"].holds and by_name["stand"].falls == 0 and "-> OK" in by_name["stand"].line()
    assert np.abs(by_name["forward 1.0"].measured).max() < 0.05  # a robot that stands still does not go forward
    assert not by_name["forward 1.0"].holds and not by_name["lateral 0.4"].holds and not by_name["turn 0.8"].holds


def test_zero_share_trains_pure_commands_but_the_walking_check_draws_whole_ranges(quiet_task):
    task = quiet_task(4000, commands={"velocity": {"params": {"zero_share": [0.2, 0.5, 0.5], "standing_share": 0.0}}})
    zero = task.command == 0
    np.testing.assert_allclose(zero.mean(axis=0), [0.2, 0.5, 0.5], atol=0.03)
    assert abs((zero[:, 0] & zero[:, 1]).mean() - 0.1) < 0.02  # pure turns: 0.2 x 0.5
    never = task_config(
        "quadruped_flat", randomization="none", commands={"velocity": {"params": {"zero_share": [1, 1, 1]}}}
    )
    result = track_velocity(Stand(), never, episodes=8, episode_s=1.0, warmup_s=0.2)
    assert result.mean_speed_command > 0.2  # the check's commands are not zeroed
    with pytest.raises(ValueError, match=r"env.commands.velocity.params.zero_share: three shares in \[0, 1\]"):
        quiet_task(2, commands={"velocity": {"params": {"zero_share": [0.5, 1.5, 0]}}})
