"""Training callbacks: checkpoints, deterministic evaluation, progress, and per-term env statistics."""

from __future__ import annotations

import copy
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecEnv, VecNormalize
from tqdm import tqdm

from common.io import atomic_write

EVAL_HEADER = "step,mean_return,std_return,mean_length\n"


class PeriodicCallback(BaseCallback):
    """Calls `fn()` each time `every` more environment steps have been taken."""

    def __init__(self, every: int, fn: Callable[[], None]) -> None:
        super().__init__()
        self.every = every
        self.fn = fn
        self._next = None

    def _on_step(self) -> bool:
        if self._next is None:
            self._next = (self.num_timesteps // self.every + 1) * self.every
        if self.num_timesteps >= self._next:
            self.fn()
            self._next = (self.num_timesteps // self.every + 1) * self.every
        return True


class EvalCallback(PeriodicCallback):
    """Deterministic evaluation on a separate env: appends eval.csv, logs eval/, keeps best_model.zip."""

    def __init__(self, eval_env: VecEnv, every: int, episodes: int, run_dir: Path) -> None:
        super().__init__(every, self._evaluate)
        self.eval_env = eval_env
        self.episodes = episodes
        self.csv = Path(run_dir) / "eval.csv"
        self.best_path = Path(run_dir) / "best_model.zip"
        self.best = -np.inf

    def _init_callback(self) -> None:
        # read when training starts: a resume has cut eval.csv back to its checkpoint by then
        rows = self.csv.read_text().splitlines()[1:] if self.csv.is_file() else []
        self.best = max((float(r.split(",")[1]) for r in rows), default=-np.inf)

    def finish(self) -> None:
        """A last evaluation at the final step unless one was just made: every run ends with an eval.csv row."""
        self.num_timesteps = self.model.num_timesteps
        rows = self.csv.read_text().splitlines()[1:] if self.csv.is_file() else []
        if not rows or int(rows[-1].split(",")[0]) < self.num_timesteps:
            self._evaluate()

    def _evaluate(self) -> None:
        train_env = self.model.get_env()
        if isinstance(self.eval_env, VecNormalize) and isinstance(train_env, VecNormalize):
            self.eval_env.obs_rms = copy.deepcopy(train_env.obs_rms)
        returns, lengths = evaluate_policy(
            self.model, self.eval_env, n_eval_episodes=self.episodes, deterministic=True, return_episode_rewards=True
        )
        mean, std, length = float(np.mean(returns)), float(np.std(returns)), float(np.mean(lengths))
        text = self.csv.read_text() if self.csv.is_file() else EVAL_HEADER
        atomic_write(self.csv, text + f"{self.num_timesteps},{mean:.6f},{std:.6f},{length:.2f}\n")
        self.logger.record("eval/mean_return", mean)
        self.logger.record("eval/std_return", std)
        self.logger.record("eval/mean_length", length)
        if mean > self.best:
            self.best = mean
            tmp = self.best_path.with_name(".best_model.tmp.zip")
            self.model.save(tmp)
            os.replace(tmp, self.best_path)


def truncate_eval_csv(run_dir: Path, step: int) -> None:
    """Drop evaluation rows past `step` (a resume replays those steps)."""
    csv = Path(run_dir) / "eval.csv"
    if not csv.is_file():
        return
    lines = csv.read_text().splitlines()
    kept = [lines[0]] + [row for row in lines[1:] if int(row.split(",")[0]) <= step]
    atomic_write(csv, "\n".join(kept) + "\n")


class ProgressCallback(BaseCallback):
    """A progress bar with steps/s and ETA; plain periodic lines when stdout is not a terminal."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = total
        self.bar: tqdm | None = None
        self._last = 0

    def _on_training_start(self) -> None:
        tty = sys.stderr.isatty()
        self.bar = tqdm(total=self.total, initial=self.num_timesteps, unit="step", unit_scale=True, dynamic_ncols=True,
                        mininterval=0.5 if tty else 30.0, smoothing=0.05, desc="train")  # fmt: skip
        self._last = self.num_timesteps

    def _on_step(self) -> bool:
        if self.bar is not None:
            self.bar.update(self.num_timesteps - self._last)
            self._last = self.num_timesteps
        return True

    def _on_training_end(self) -> None:
        if self.bar is not None:
            self.bar.close()


class EnvStatsCallback(BaseCallback):
    """Logs reward/<term> per episode, physics/resets, the terrain level (mean, spread, per tile type) and the other
    curriculum terms' values (e.g. curriculum/push_velocity) from the env's infos."""

    def __init__(self) -> None:
        super().__init__()
        self.terms: dict[str, list[float]] = defaultdict(list)
        self.levels: list[tuple[str, int]] = []
        self.curriculum: dict[str, float] = {}
        self.resets = 0
        self._start = time.perf_counter()
        self._start_steps = 0

    def _on_training_start(self) -> None:
        self._start = time.perf_counter()
        self._start_steps = self.num_timesteps

    def _on_rollout_start(self) -> None:
        # the task's step-scheduled terms (env.curriculum.push_schedule) read how far training has come; a resumed
        # run tells it the restored count
        if self.training_env.has_attr("training_steps"):
            self.training_env.set_attr("training_steps", self.model.num_timesteps)

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", []):
            if "episode_terms" in info:
                for name, value in info["episode_terms"].items():
                    self.terms[name].append(value)
                self.levels.append((info.get("terrain_kind", "plane"), info.get("terrain_level", 0)))
                self.curriculum.update(info.get("curriculum", {}))
            if info.get("physics_reset"):
                self.resets += 1
        return True

    def _on_rollout_end(self) -> None:
        for name, values in self.terms.items():
            self.logger.record(f"reward/{name}", float(np.mean(values)))
        if self.levels:
            levels = np.array([level for _, level in self.levels], dtype=np.float64)
            self.logger.record("curriculum/terrain_level", float(levels.mean()))
            self.logger.record("curriculum/terrain_level_std", float(levels.std()))
            kinds = {kind for kind, _ in self.levels}
            for kind in sorted(kinds) if len(kinds) > 1 else []:  # a mixed terrain: each tile type's mean level
                self.logger.record(f"curriculum/level_{kind}", float(np.mean([v for k, v in self.levels if k == kind])))
        for name, value in self.curriculum.items():
            self.logger.record(f"curriculum/{name}", value)
        self.logger.record("physics/resets", self.resets)
        elapsed = time.perf_counter() - self._start
        self.logger.record("charts/steps_per_second", (self.num_timesteps - self._start_steps) / max(elapsed, 1e-9))
        self.terms.clear()
        self.levels.clear()
