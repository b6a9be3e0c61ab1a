"""Curriculum terms: called for the environments that reset, before their next episode is set up."""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.mdp.ranges import check_range


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

    def state(self) -> dict[str, np.ndarray]:
        return {"levels": self.task.levels.copy()}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Put each robot back on its level; a checkpoint of another number of environments is refused."""
        levels, task = np.asarray(state["levels"]), self.task
        if levels.shape != task.levels.shape:
            raise ValueError(f"env.curriculum.terrain_levels: the checkpoint has levels for {levels.size} "
                             f"environments, this run has {task.num_envs}")  # fmt: skip
        task.levels[:] = np.clip(levels, 0, task.terrain.n_levels - 1)
        task.origins[:] = task.terrain.tile_origin(task.levels, task.cols)


class PushVelocity:
    """Raises the push event's kick speed a step at a time while robots rarely fall, and lowers it when they
    often do: a policy first learns to walk under gentle kicks, then meets the validation's hard ones."""

    def __init__(self, task: Any, end: float = 1.0, step: float = 0.05, window: int = 500,
                 raise_below: float = 0.1, lower_above: float = 0.2) -> None:  # fmt: skip
        """Args: end: the kick speed to grow to (m/s), from the push event's own velocity; step: change per
        decision (m/s); window: finished episodes per decision; raise_below / lower_above: fall shares of the
        window under which the kicks grow and above which they shrink (never below the start)."""
        where = "env.curriculum.push_velocity"
        push = task.events.terms.get("push")
        if push is None:
            raise ValueError(f"{where}: needs an env.events.push term to act on; events: {list(task.events.terms)}")
        if not (end >= push.velocity and step > 0 and window >= 1 and 0 <= raise_below <= lower_above <= 1):
            raise ValueError(f"{where}.params: need end >= the push velocity ({push.velocity}), step > 0, window >= 1 "
                             f"and 0 <= raise_below <= lower_above <= 1; got end={end}, step={step}, window={window}, "
                             f"raise_below={raise_below}, lower_above={lower_above}")  # fmt: skip
        self.task, self.push, self.start, self.end, self.step = task, push, push.velocity, end, step
        self.window, self.raise_below, self.lower_above = window, raise_below, lower_above
        self.episodes = self.falls = 0
        self.fall_share = float("nan")  # of the last decided window

    def log(self) -> dict[str, float]:
        """The kick speed now (m/s) and the fall share it was last decided on, for the training log."""
        return {"push_velocity": self.push.velocity, "push_fall_share": self.fall_share}

    def state(self) -> dict[str, float]:
        return {"velocity": self.push.velocity, "episodes": self.episodes, "falls": self.falls,
                "fall_share": self.fall_share}  # fmt: skip

    def load_state(self, state: dict[str, float]) -> None:
        self.push.velocity = float(state["velocity"])
        self.episodes, self.falls, self.fall_share = int(state["episodes"]), int(state["falls"]), state["fall_share"]

    def __call__(self, ids: np.ndarray) -> None:
        task = self.task
        ids = ids[task.episode_step[ids] > 0]  # environments that ran an episode
        if task.last_state is None or len(ids) == 0:
            return
        self.episodes += len(ids)
        self.falls += int(task.last_state.terminated[ids].sum())
        if self.episodes < self.window:
            return
        share = self.fall_share = self.falls / self.episodes
        if share < self.raise_below:
            self.push.velocity = min(self.push.velocity + self.step, self.end)
        elif share > self.lower_above:
            self.push.velocity = max(self.push.velocity - self.step, self.start)
        self.episodes = self.falls = 0


class PushSchedule:
    """From a training step on, the push event kicks harder and more often: one run first learns to walk under
    gentle kicks, then goes on under hard ones (the staged push fine-tune as a single command). Training tells
    the task its step count (`task.training_steps`); an evaluation or validation task never switches, and a task
    without a push event (randomization=none) has nothing to switch."""

    def __init__(self, task: Any, at_steps: int, velocity: float, interval_s: list[float] | None = None) -> None:
        """Args: at_steps: training steps (all environments together) from which the kicks change; velocity: the
        kick speed from then on (m/s); interval_s: the push event's new [low, high] interval (s), or None to keep it."""
        where = "env.curriculum.push_schedule"
        push = task.events.terms.get("push")  # None without pushes (randomization=none): nothing to schedule
        if push is not None and "push" not in task.events.intervals:
            raise ValueError(f"{where}: needs env.events.push in interval mode, got mode reset")
        if at_steps < 0 or velocity < 0:
            raise ValueError(f"{where}.params: need at_steps >= 0 and velocity >= 0; got at_steps={at_steps}, "
                             f"velocity={velocity}")  # fmt: skip
        if interval_s is not None:
            check_range(f"{where}.params.interval_s", interval_s, non_negative=True)
        self.task, self.push, self.at_steps, self.velocity = task, push, int(at_steps), float(velocity)
        self.interval = None if interval_s is None else [float(v) for v in interval_s]

    def log(self) -> dict[str, float]:
        """The kick speed now (m/s), for the training log."""
        return {} if self.push is None else {"push_velocity": self.push.velocity}

    def __call__(self, ids: np.ndarray) -> None:
        if self.push is None or self.task.training_steps < self.at_steps:
            return
        self.push.velocity = self.velocity  # idempotent: the switch is read off the step count, not kept
        if self.interval is not None:
            self.task.events.intervals["push"] = self.interval


TERMS = {"terrain_levels": TerrainLevels, "push_velocity": PushVelocity, "push_schedule": PushSchedule}
