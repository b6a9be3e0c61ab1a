"""Managers compose named terms from config: the term name is the config key, the registry key and the log tag.

A term is a function `(state, **params)` or, when it keeps state, a class built once as `cls(arg, **params)` with
`reset(ids)`; command, event and curriculum terms are classes built with the task they act on. Parameters are
checked against the term's signature at start-up, so a typo fails with the valid choices, not an hour later.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import numpy as np

from envs.config import EventTermConfig, ObsTermConfig, RewardTermConfig
from envs.mdp import commands, curriculum, events, observations, rewards, terminations
from envs.mdp.ranges import check_range
from envs.mdp.state import State


def _functions(module: ModuleType) -> dict[str, Callable]:
    return {name: fn for name, fn in inspect.getmembers(module, inspect.isfunction)
            if fn.__module__ == module.__name__ and not name.startswith("_")}  # fmt: skip


OBSERVATIONS = _functions(observations)
REWARDS = {**_functions(rewards), "feet_air_time": rewards.FeetAirTime, "gait_contact": rewards.GaitContact,
           "joint_deviation_l1": rewards.JointDeviationL1, "single_stance_air_time": rewards.SingleStanceAirTime}  # fmt: skip
TERMINATIONS = _functions(terminations)
COMMANDS, EVENTS, CURRICULUM = commands.TERMS, events.TERMS, curriculum.TERMS


def resolve_term(registry: Mapping[str, Callable], name: str, params: Mapping, where: str) -> Callable:
    """Look up a term and check its parameters now, so a typo fails at start-up with the valid choices."""
    if name not in registry:
        raise ValueError(f"{where}: unknown term '{name}'; accepted: {', '.join(sorted(registry))}")
    term = registry[name]
    signature = inspect.signature(term)  # a class's is its __init__'s without self
    try:
        signature.bind(None, **params)
    except TypeError as err:
        accepted = list(signature.parameters)[1:]
        raise ValueError(f"{where}.{name}.params: {err}; accepted: {accepted or 'none'}") from None
    return term


def build_term(registry: Mapping[str, Callable], name: str, params: Mapping, where: str, arg: Any) -> Callable:
    """The term as a callable: a function with its parameters bound, or a class built with `arg`."""
    term = resolve_term(registry, name, params, where)
    if not inspect.isclass(term):
        return functools.partial(term, **params)
    try:
        return term(arg, **params)
    except ValueError as err:  # a term that cannot serve this robot or task: name the config entry
        if str(err).startswith(("env.", "robot.", "terrain.")):
            raise  # it named its own field already
        raise ValueError(f"{where}.{name}: {err}") from None


class _Terms:
    """Terms of one kind in config order; resets the ones that keep state."""

    def __init__(self, registry: Mapping[str, Callable], cfg: Mapping[str, Any], where: str, arg: Any,
                 keep: Callable[[Any], bool] = lambda term_cfg: True) -> None:  # fmt: skip
        self.names = list(cfg)
        self.cfg = dict(cfg)
        self.terms = {n: build_term(registry, n, cfg[n].params, where, arg) for n in self.names if keep(cfg[n])}
        if isinstance(arg, State):  # run each function term once on the probe: one that cannot serve this robot
            for name, term in self.terms.items():  # or task (no feet, no gait clock) fails now, named
                if isinstance(term, functools.partial):
                    try:
                        term(arg)
                    except ValueError as err:
                        raise ValueError(f"{where}.{name}: {err}") from None

    def reset(self, ids: np.ndarray) -> None:
        for term in self.terms.values():
            if hasattr(term, "reset"):
                term.reset(ids)


class ObservationManager(_Terms):
    """Concatenates observation terms in config order: noise (in the term's units), then scale, then clip."""

    def __init__(self, cfg: Mapping[str, ObsTermConfig], where: str, probe: State) -> None:
        super().__init__(OBSERVATIONS, cfg, where, probe)
        for name in self.names:
            history = cfg[name].history
            if isinstance(history, bool) or not isinstance(history, int) or history < 1:
                raise ValueError(f"{where}.{name}.history: {history!r}; accepted: an integer >= 1 (policy steps "
                                 "stacked, 1: the current value only)")  # fmt: skip
        frames = {n: self.terms[n](probe).shape for n in self.names}
        self.frame_sizes = [frames[n][1] for n in self.names]
        self.histories = [cfg[n].history for n in self.names]
        self.sizes = [f * h for f, h in zip(self.frame_sizes, self.histories)]
        self.dim = int(sum(self.sizes))
        self._stacks = {n: np.zeros((frames[n][0], cfg[n].history, frames[n][1]), dtype=np.float32)
                        for n in self.names if cfg[n].history > 1}  # fmt: skip

    def compute(self, s: State, rng: np.random.Generator | None, noise_scale: float,
                fresh: np.ndarray | slice | None = None) -> np.ndarray:  # fmt: skip
        """The (n, dim) float32 observation; noise only when rng is given and noise_scale > 0. Terms with a
        history advance one step in every environment; `fresh` instead names the environments `s` holds
        (new episodes), whose histories restart filled with this value."""
        parts = []
        for name in self.names:
            term = self.cfg[name]
            value = self.terms[name](s)
            if rng is not None and term.noise > 0 and noise_scale > 0:
                value = value + rng.uniform(-1.0, 1.0, size=value.shape) * (term.noise * noise_scale)
            if term.scale != 1.0:
                value = value * term.scale
            if term.clip is not None:
                value = np.clip(value, -term.clip, term.clip)
            if name in self._stacks:
                value = self._stacked(self._stacks[name], value, fresh)
            parts.append(value)
        return np.concatenate(parts, axis=1, dtype=np.float32, casting="same_kind")

    @staticmethod
    def _stacked(stack: np.ndarray, value: np.ndarray, fresh: np.ndarray | slice | None) -> np.ndarray:
        """Push `value` into the (n, history, size) stack, or refill the `fresh` rows with it; flat, oldest first."""
        if fresh is None:
            stack[:, :-1] = stack[:, 1:]  # NumPy copies overlapping slices safely
            stack[:, -1] = value
            rows = stack
        else:
            stack[fresh] = value[:, None, :]
            rows = stack[fresh]
        return rows.reshape(len(rows), -1)

    def schema(self) -> list[dict]:
        """Terms in order with their sizes, scales, noise, units and history (when > 1: that many steps of the
        term, oldest first): the observation contract."""
        return [{"name": n, "size": size, "scale": self.cfg[n].scale, "noise": self.cfg[n].noise, "clip": self.cfg[n].clip,
                 "units": observations.UNITS.get(n, ""), "convention": observations.CONVENTIONS.get(n, ""),
                 **({"params": dict(self.cfg[n].params)} if self.cfg[n].params else {}),
                 **({"history": h} if h > 1 else {})}
                for n, size, h in zip(self.names, self.sizes, self.histories)]  # fmt: skip


class RewardManager(_Terms):
    """Weighted sum of reward terms, multiplied by the policy dt in this one place; zero weights are not built."""

    def __init__(self, cfg: Mapping[str, RewardTermConfig], where: str, probe: State,
                 floor: float | None = None) -> None:  # fmt: skip
        super().__init__(REWARDS, cfg, where, probe, keep=lambda t: t.weight != 0.0)
        for name in self.names:  # a zero-weight term is still checked
            resolve_term(REWARDS, name, cfg[name].params, where)
        self.floor = floor

    def compute(self, s: State) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Total reward (n,) and each weighted term (n,) for logging; with a floor, the terms but `termination`
        are summed and clipped at it, then `termination` is added."""
        total = np.zeros(s.num_envs)
        parts = {}
        for name, term in self.terms.items():
            value = term(s) * (self.cfg[name].weight * s.dt)
            parts[name] = value
            if name != "termination" or self.floor is None:
                total += value
        if self.floor is not None:
            total = np.maximum(total, self.floor) + parts.get("termination", 0.0)
        return total, parts


class TerminationManager(_Terms):
    """Any of the termination terms ends an episode as a failure."""

    def __init__(self, cfg: Mapping[str, Any], where: str, probe: State) -> None:
        super().__init__(TERMINATIONS, cfg, where, probe)

    def compute(self, s: State) -> np.ndarray:
        done = np.zeros(s.num_envs, dtype=bool)
        for term in self.terms.values():
            done |= term(s)
        return done


class CommandManager(_Terms):
    """Command terms: drawn at reset, resampled on their own timers while an episode runs."""

    def __init__(self, cfg: Mapping[str, Any], task: Any) -> None:
        super().__init__(COMMANDS, cfg, "env.commands", task)

    def step(self, running: np.ndarray) -> None:
        for term in self.terms.values():
            term.step(running)


class EventManager(_Terms):
    """Event terms: reset terms at every episode start (model parameters before state), interval terms each
    time an environment's own timer runs out."""

    MODES = ("reset", "interval")

    def __init__(self, cfg: Mapping[str, EventTermConfig], task: Any) -> None:
        for name, term in cfg.items():
            if term.mode not in self.MODES:
                raise ValueError(f"env.events.{name}.mode: unknown '{term.mode}'; accepted: {', '.join(self.MODES)}")
            if (term.mode == "interval") != (term.interval_s is not None):
                raise ValueError(f"env.events.{name}.interval_s: give it with mode interval, and only then")
            check_range(f"env.events.{name}.interval_s", term.interval_s, non_negative=True)
        super().__init__(EVENTS, cfg, "env.events", task)
        self.task = task
        self.on_reset = sorted((n for n in self.names if cfg[n].mode == "reset"), key=lambda n: self.terms[n].phase)
        self.timers = {n: np.full(task.num_envs, np.inf) for n in self.names if cfg[n].mode == "interval"}
        # each interval term's [low, high] seconds between firings (a curriculum term may change it)
        self.intervals = {n: list(cfg[n].interval_s) for n in self.timers}

    def reset(self, ids: np.ndarray) -> None:
        for name in self.on_reset:
            self.terms[name](ids)

    def schedule(self, ids: np.ndarray) -> None:
        """Draw each interval term's first firing time for environments starting an episode."""
        for name, timer in self.timers.items():
            low, high = self.intervals[name]
            timer[ids] = self.task.rng.uniform(low, high, size=len(ids))

    def step(self) -> None:
        """Advance the timers one policy step and fire the interval terms that are due."""
        for name, timer in self.timers.items():
            timer -= self.task.dt
            due = np.flatnonzero(timer <= 0)
            if len(due):
                self.terms[name](due)
                low, high = self.intervals[name]
                timer[due] = self.task.rng.uniform(low, high, size=len(due))


class CurriculumManager(_Terms):
    """Curriculum terms, called for environments that reset, before their next episode is set up."""

    def __init__(self, cfg: Mapping[str, Any], task: Any) -> None:
        super().__init__(CURRICULUM, cfg, "env.curriculum", task)

    def reset(self, ids: np.ndarray) -> None:
        for term in self.terms.values():
            term(ids)

    def log(self) -> dict[str, float]:
        """The scalar state of the terms that report one (the push speed and its fall share), for the training log."""
        return {k: float(v) for term in self.terms.values() if hasattr(term, "log") for k, v in term.log().items()}

    def state(self) -> dict[str, Any]:
        """What the terms have learned about the robots (terrain levels, the grown push speed), for a checkpoint:
        a resumed run goes on from there instead of the easiest row and the gentlest kick."""
        return {name: term.state() for name, term in self.terms.items() if hasattr(term, "state")}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore state(); terms the checkpoint does not name keep their start."""
        for name, term in self.terms.items():
            if name in state and hasattr(term, "load_state"):
                term.load_state(state[name])
