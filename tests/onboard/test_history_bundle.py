"""A policy whose observation stacks past steps (`history` on a term): the manifest states the stack and the
NumPy runtime rebuilds it from one reading per policy step, exactly as the task did."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from onboard.runtime import load_bundle
from tests.conftest import train_in_process
from tests.onboard.test_export import export_config

HISTORY = ("env.observations.projected_gravity.history=3", "env.observations.joint_vel.history=2")


@pytest.fixture(scope="module")
def stacked_bundle(tmp_path_factory) -> Path:
    from onboard.exporter import export

    root = tmp_path_factory.mktemp("history")
    run_dir = train_in_process(root / "run", "total_timesteps=1024", "num_envs=16", "algo.hyperparams.batch_size=128",
                               "eval_every=0", "checkpoint_every=0", *HISTORY)  # fmt: skip
    export(export_config(f"policy={run_dir}", "closed_loop_episodes=4"),
           root / "bundle")  # fmt: skip
    return root / "bundle"


def test_the_manifest_states_each_stack_and_the_runtime_rebuilds_it_step_by_step(stacked_bundle):
    from common.io import load_run_config
    from envs import task_config
    from envs.task import LocomotionTask

    manifest = json.loads((stacked_bundle / "manifest.json").read_text())
    terms = {t["name"]: t for t in manifest["observation"]["terms"]}
    assert (terms["projected_gravity"]["history"], terms["projected_gravity"]["size"]) == (3, 9)
    assert (terms["joint_vel"]["history"], terms["joint_vel"]["size"]) == (2, 24)
    assert "history" not in terms["joint_pos_rel"] and manifest["observation"]["size"] == sum(
        t["size"] for t in terms.values()
    )
    policy = load_bundle(stacked_bundle)
    task = LocomotionTask(task_config(load_run_config(stacked_bundle), randomization="none"), num_envs=2, seed=3,
                          nthread=1)  # fmt: skip
    obs = task.reset()["policy"]
    s = task._state(*task.sim.rows(), terminated=np.zeros(2, dtype=bool))
    rng = np.random.default_rng(0)
    for step in range(6):
        inputs = {"gyro": s.base_ang_vel[0], "quat": s.base_quat[0], "command": s.command[0],
                  "joint_pos": s.joint_pos[0], "joint_vel": s.joint_vel[0], "previous_action": s.action[0]}  # fmt: skip
        np.testing.assert_array_equal(policy.observation(inputs), obs[0], err_msg=f"step {step}")
        result = task.step(rng.uniform(-0.3, 0.3, (2, 12)))
        assert not (result.terminated | result.truncated).any()
        obs, s = result.obs["policy"], task.last_state
    assert not np.array_equal(policy.history[list(terms).index("joint_vel")][0], inputs["joint_vel"])
    policy.reset_history()  # as the robot loop does when the policy takes over: every slot the first reading
    fresh = policy.observation(inputs)
    start = sum(t["size"] for t in list(terms.values())[: list(terms).index("projected_gravity")])
    stack = fresh[start : start + 9].reshape(3, 3)
    assert (stack == stack[-1]).all() and not np.array_equal(stack, obs[0, start : start + 9].reshape(3, 3))
