"""The one rollout loop: a policy drives a batched task, step by step. Validation, tracking, video and
export's calibration and closed-loop checks all read their trajectories from it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.mdp.state import State
from envs.task import LocomotionTask, StepResult


@dataclass
class Step:
    """One policy step of every environment."""

    index: int
    obs: np.ndarray
    """The policy observation the actions were computed from, (n, obs_dim)."""
    actions: np.ndarray
    command: np.ndarray
    """The command in force during the step, (n, 3)."""
    result: StepResult
    state: State
    """What the step did, before any reset (`task.last_state`)."""


def policy_obs(obs: Any) -> np.ndarray:
    """The actor's part of a task observation (the critic's privileged part never reaches a policy)."""
    return obs["policy"] if isinstance(obs, dict) else obs


def check_obs_size(policy: Any, task: LocomotionTask) -> None:
    """Refuse a policy whose input size differs from the task's observation, naming the task's terms."""
    if task.obs_manager.dim != policy.obs_dim:
        raise ValueError(f"policy: it takes {policy.obs_dim} observations but the env gives {task.obs_manager.dim} "
                         f"({', '.join(t['name'] for t in task.observation_schema())})")  # fmt: skip


def rollout(policy: Callable[[np.ndarray], np.ndarray], task: LocomotionTask, steps: int,
            first_obs: Any = None) -> Iterator[Step]:  # fmt: skip
    """Yield `steps` policy steps from a reset (or from `first_obs`, the caller's own reset); environments
    reset as the task's autoreset says."""
    obs = policy_obs(task.reset() if first_obs is None else first_obs)
    for index in range(steps):
        command = task.command.copy()
        actions = np.asarray(policy(obs), dtype=np.float64)
        result = task.step(actions)
        yield Step(index, obs, actions, command, result, task.last_state)
        obs = policy_obs(result.obs)
