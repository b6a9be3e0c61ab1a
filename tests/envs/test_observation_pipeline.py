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
