"""The observation a policy gets is each term's value with uniform noise in the term's own units, then its scale,
then its clip, in config order: the contract export.py writes down and a robot reproduces."""

from __future__ import annotations

import numpy as np
import pytest

import envs


def _stepped(env_id: str, n: int = 16):
    venv = envs.make_vec(env_id, num_envs=n, seed=5)
    venv.reset()
    rng = np.random.default_rng(1)
    for _ in range(4):
        venv.step(np.clip(rng.normal(0, 0.5, (n, venv.task.scene.num_joints)), -1, 1))
    task = venv.task
    return task, task._state(*task.sim.rows(), terminated=np.zeros(n, dtype=bool))


def _observation_term_by_term(manager, s, rng: np.random.Generator | None, noise_scale: float) -> np.ndarray:
    parts = []
    for name in manager.names:
        term, value = manager.cfg[name], np.asarray(manager.terms[name](s), dtype=np.float64)
        if rng is not None and term.noise > 0 and noise_scale > 0:
            value = value + rng.uniform(-1.0, 1.0, size=value.shape) * (term.noise * noise_scale)
        value = value * term.scale
        if term.clip is not None:
            value = np.clip(value, -term.clip, term.clip)
        parts.append(value)
    return np.concatenate(parts, axis=1).astype(np.float32)


@pytest.mark.parametrize("env_id", ["LocoForge/BipedFlat-v0", "LocoForge/QuadrupedRoughScan-v0"])
def test_observations_equal_term_by_term_arithmetic(env_id):
    task, s = _stepped(env_id)
    manager = task.obs_manager
    terms = [manager.cfg[n] for n in manager.names]
    assert any(t.noise > 0 and t.scale != 1.0 for t in terms)  # the presets exercise noise and scale together
    clip = max((t.clip for t in terms if t.clip is not None), default=None)
    if env_id.endswith("RoughScan-v0"):
        assert clip == 1.0
        s.base_pos[:, 2] += 3.0  # the scan reads the ground 3 m further down: past its clip of 1 m
    for noise_scale in (1.0, 0.5, 0.0):
        got = manager.compute(s, np.random.default_rng(7), noise_scale)
        want = _observation_term_by_term(manager, s, np.random.default_rng(7), noise_scale)
        np.testing.assert_array_equal(got, want)
    noiseless = manager.compute(s, None, 1.0)
    np.testing.assert_array_equal(noiseless, _observation_term_by_term(manager, s, None, 1.0))
    assert not np.array_equal(noiseless, manager.compute(s, np.random.default_rng(7), 1.0))
    if clip is not None:
        np.testing.assert_array_equal(np.abs(noiseless).max(axis=1), clip)  # every row reaches its clip


def test_a_term_history_stacks_past_steps_oldest_first_and_restarts_with_each_episode(quiet_task):
    task = quiet_task(n=3, observations={"projected_gravity": {"history": 3}, "joint_vel": {"history": 2}})
    m = task.obs_manager
    assert m.frame_sizes[m.names.index("projected_gravity")] == 3 and m.sizes[m.names.index("projected_gravity")] == 9
    start = sum(m.sizes[: m.names.index("projected_gravity")])
    grav = slice(start, start + 9)
    obs = task.reset()["policy"]
    frames = obs[:, grav].reshape(3, 3, 3)
    assert (frames == frames[:, -1:]).all() and np.abs(frames[:, -1, 2] + 1.0).max() < 0.05  # filled, upright
    rng, seen = np.random.default_rng(0), [obs]
    for _ in range(3):
        seen.append(task.step(rng.uniform(-0.5, 0.5, (3, 12))).obs["policy"])
    now, before = seen[-1][:, grav].reshape(3, 3, 3), seen[-2][:, grav].reshape(3, 3, 3)
    np.testing.assert_array_equal(now[:, :2], before[:, 1:])  # slots move one step back in time
    assert not np.array_equal(now[:, 2], now[:, 1])
    newest = m.terms["projected_gravity"](task.last_state) * m.cfg["projected_gravity"].scale  # no noise, no delay
    np.testing.assert_array_equal(now[:, 2], newest.astype(np.float32))
    task.episode_step[1] = task.max_episode_steps - 1  # env 1's episode ends on the next step; 0 and 2 go on
    result = task.step(np.zeros((3, 12)))
    assert result.truncated.tolist() == [False, True, False]
    after = result.obs["policy"][:, grav].reshape(3, 3, 3)
    assert (after[1] == after[1, -1]).all()  # the new episode starts with its first frame in every slot
    last = result.terminal_obs["policy"][0, grav].reshape(3, 3)  # the ended episode's last observation
    np.testing.assert_array_equal(last[:2], now[1, 1:])
    assert not (after[0] == after[0, -1]).all()


def test_a_stacked_term_mirrors_each_of_its_steps_like_the_single_frame(quiet_task):
    from envs import task_config
    from envs.task import LocomotionTask

    histories = {"projected_gravity": 3, "joint_pos_rel": 2, "previous_action": 2}
    stacked = LocomotionTask(task_config("biped_flat", randomization="none",
                                         observations={k: {"history": h} for k, h in histories.items()}),
                             num_envs=2, seed=0, nthread=1)  # fmt: skip
    plain = LocomotionTask(task_config("biped_flat", randomization="none"), num_envs=2, seed=0, nthread=1)
    m, single = stacked.obs_manager, plain.obs_manager
    assert single.names == m.names and single.sizes == m.frame_sizes

    def frame(x: np.ndarray, t: int) -> np.ndarray:  # the plain observation at step t of the stack (2 = newest)
        parts, start = [], 0
        for size, h in zip(m.frame_sizes, m.histories):
            block = x[start : start + size * h].reshape(h, size)
            parts.append(block[max(h - 3 + t, 0)] if h > 1 else block[0])
            start += size * h
        return np.concatenate(parts)

    x = np.random.default_rng(0).normal(size=m.dim)
    big, small = stacked.mirror().obs["policy"], plain.mirror().obs["policy"]
    for t in (1, 2):  # the oldest step of the 3-deep stack exists in only one term, so t=1 and 2 cover both
        np.testing.assert_allclose(frame(x @ big.T, t), frame(x, t) @ small.T)
    np.testing.assert_allclose(big @ big, np.eye(m.dim), atol=1e-12)  # mirroring twice is the identity


@pytest.mark.parametrize("history", [0, -2])
def test_a_history_below_one_is_refused_by_name(quiet_task, history):
    with pytest.raises(ValueError, match=r"^env.observations.joint_vel.history: .*accepted: an integer >= 1"):
        quiet_task(observations={"joint_vel": {"history": history}})
