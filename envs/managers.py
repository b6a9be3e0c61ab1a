"""Managers compose named terms from config: the term name is the config key and the log tag."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from types import ModuleType

import numpy as np

from envs.config import ObsTermConfig, RewardTermConfig, TerminationConfig
from envs.mdp import observations, rewards, terminations
from envs.mdp.state import State


def _terms(module: ModuleType) -> dict[str, Callable]:
    return {
        name: fn
        for name, fn in inspect.getmembers(module, inspect.isfunction)
        if fn.__module__ == module.__name__ and not name.startswith("_")
    }


OBSERVATIONS = _terms(observations)
REWARDS = _terms(rewards)
TERMINATIONS = _terms(terminations)


def resolve_term(registry: dict[str, Callable], name: str, params: Mapping, where: str) -> Callable:
    """Look up a term and check its parameters now, so a typo fails at start-up with the valid choices."""
    if name not in registry:
        raise ValueError(f"{where}: unknown term '{name}'; accepted: {', '.join(sorted(registry))}")
    fn = registry[name]
    try:
        inspect.signature(fn).bind(None, **params)
    except TypeError as err:
        accepted = [p for p in inspect.signature(fn).parameters if p != "s"]
        raise ValueError(f"{where}.{name}.params: {err}; accepted: {accepted or 'none'}") from None
    return fn


class ObservationManager:
    """Concatenates observation terms in config order: noise (in the term's units), then scale, then clip."""

    def __init__(self, cfg: Mapping[str, ObsTermConfig], where: str, probe: State) -> None:
        self.names = list(cfg)
        self.cfg = dict(cfg)
        self.fns = [resolve_term(OBSERVATIONS, n, cfg[n].params, where) for n in self.names]
        self.sizes = [fn(probe, **self.cfg[n].params).shape[1] for fn, n in zip(self.fns, self.names)]
        self.dim = int(sum(self.sizes))

    def compute(self, s: State, rng: np.random.Generator | None, noise_scale: float) -> np.ndarray:
        """The (n, dim) float32 observation; noise only when rng is given and noise_scale > 0."""
        parts = []
        for name, fn in zip(self.names, self.fns):
            term = self.cfg[name]
            value = fn(s, **term.params)
            if rng is not None and term.noise > 0 and noise_scale > 0:
                value = value + rng.uniform(-1.0, 1.0, size=value.shape) * (term.noise * noise_scale)
            value = value * term.scale
            if term.clip is not None:
                value = np.clip(value, -term.clip, term.clip)
            parts.append(value)
        return np.concatenate(parts, axis=1).astype(np.float32)

    def schema(self) -> list[dict]:
        """Terms in order with their sizes, scales, noise and units: the observation contract."""
        return [
            {
                "name": n,
                "size": size,
                "scale": self.cfg[n].scale,
                "noise": self.cfg[n].noise,
                "clip": self.cfg[n].clip,
                "units": observations.UNITS.get(n, ""),
            }  # fmt: skip
            for n, size in zip(self.names, self.sizes)
        ]


class RewardManager:
    """Weighted sum of reward terms, multiplied by the policy dt in this one place."""

    def __init__(self, cfg: Mapping[str, RewardTermConfig], where: str) -> None:
        self.names = list(cfg)
        self.cfg = dict(cfg)
        self.fns = [resolve_term(REWARDS, n, cfg[n].params, where) for n in self.names]

    def compute(self, s: State) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Total reward (n,) and each weighted term (n,) for logging."""
        total = np.zeros(s.num_envs)
        parts = {}
        for name, fn in zip(self.names, self.fns):
            term = self.cfg[name]
            if term.weight == 0.0:
                continue
            value = fn(s, **term.params) * (term.weight * s.dt)
            parts[name] = value
            total += value
        return total, parts


class TerminationManager:
    """Any of the termination terms ends an episode as a failure."""

    def __init__(self, cfg: Mapping[str, TerminationConfig], where: str) -> None:
        self.names = list(cfg)
        self.cfg = dict(cfg)
        self.fns = [resolve_term(TERMINATIONS, n, cfg[n].params, where) for n in self.names]

    def compute(self, s: State) -> np.ndarray:
        done = np.zeros(s.num_envs, dtype=bool)
        for name, fn in zip(self.names, self.fns):
            done |= fn(s, **self.cfg[name].params)
        return done
