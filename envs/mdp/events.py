"""Domain randomization: per-environment model values written through mujoco.batch's expanded fields."""

from __future__ import annotations

import numpy as np
from mujoco.batch import Batch

from envs.config import RandomizationConfig

RANGES = ("friction", "added_mass", "com_offset", "motor_strength", "kp_scale", "kd_scale",
          "push_interval_s", "action_delay_ms", "obs_delay_ms")  # fmt: skip
NON_NEGATIVE = (
    "friction",
    "motor_strength",
    "kp_scale",
    "kd_scale",
    "push_interval_s",
    "action_delay_ms",
    "obs_delay_ms",
)


def check_range(name: str, value: list | None, non_negative: bool) -> None:
    """Fail with one line unless value is None or [low, high] with low <= high (and low >= 0 if asked)."""
    if value is None:
        return
    if len(value) != 2 or value[0] > value[1] or (non_negative and value[0] < 0):
        floor = "0 <= " if non_negative else ""
        raise ValueError(f"{name}: {list(value)} is not a range; give [low, high] with {floor}low <= high")


def validate(cfg: RandomizationConfig, max_delay_ms: float) -> None:
    """Check every range of a randomization config at start-up."""
    for name in RANGES:
        check_range(f"randomization.{name}", getattr(cfg, name), name in NON_NEGATIVE)
    for name in ("action_delay_ms", "obs_delay_ms"):
        value = getattr(cfg, name)
        if value is not None and value[1] > max_delay_ms + 1e-9:
            raise ValueError(f"randomization.{name}: {value[1]} ms exceeds one policy step ({max_delay_ms} ms)")
    if cfg.push_velocity < 0 or cfg.obs_noise_scale < 0 or cfg.init_joint_noise < 0:
        raise ValueError("randomization.push_velocity, obs_noise_scale, init_joint_noise: must be >= 0")


def _draw(rng: np.random.Generator, bounds: list | None, n: int, default: float, shape: tuple = ()) -> np.ndarray:
    if bounds is None:
        return np.full((n, *shape), default)
    return rng.uniform(bounds[0], bounds[1], size=(n, *shape))


class ModelRandomizer:
    """Writes randomized physical parameters into the rows of the reset simulations."""

    def __init__(self, cfg: RandomizationConfig, batch: Batch, base_body: int, kp: np.ndarray, kd: np.ndarray,
                 torque_limit: np.ndarray) -> None:  # fmt: skip
        self.cfg = cfg
        self.batch = batch
        self.base_body = base_body
        model = batch.model
        self.nominal_friction = model.geom_friction[:, 0].copy()
        self.nominal_mass = float(model.body_mass[base_body])
        self.nominal_ipos = model.body_ipos[base_body].copy()
        self.kp, self.kd, self.torque_limit = kp, kd, torque_limit
        self.friction = batch.expand("geom_friction")
        self.mass = batch.expand("body_mass")
        self.ipos = batch.expand("body_ipos")
        self.gain = batch.expand("actuator_gainprm")
        self.bias = batch.expand("actuator_biasprm")
        self.forcerange = batch.expand("actuator_forcerange")

    def apply(self, ids: np.ndarray, rng: np.random.Generator) -> None:
        """Draw new values for simulations ids and write them; derived constants follow via set_const."""
        n, cfg = len(ids), self.cfg
        self.friction[ids, :, 0] = self.nominal_friction * _draw(rng, cfg.friction, n, 1.0)[:, None]
        self.mass[ids, self.base_body] = self.nominal_mass + _draw(rng, cfg.added_mass, n, 0.0)
        self.ipos[ids, self.base_body] = self.nominal_ipos + _draw(rng, cfg.com_offset, n, 0.0, (3,))
        strength = _draw(rng, cfg.motor_strength, n, 1.0)[:, None]
        kp = self.kp * strength * _draw(rng, cfg.kp_scale, n, 1.0)[:, None]
        kd = self.kd * strength * _draw(rng, cfg.kd_scale, n, 1.0)[:, None]
        self.gain[ids, :, 0] = kp
        self.bias[ids, :, 1] = -kp
        self.bias[ids, :, 2] = -kd
        limit = self.torque_limit * strength
        self.forcerange[ids, :, 0] = -limit
        self.forcerange[ids, :, 1] = limit
        if cfg.added_mass is not None or cfg.com_offset is not None:
            self.batch.set_const(ids)

    def torque_limits(self) -> np.ndarray:
        """Torque limit of each motor in each simulation, (n, nu)."""
        return self.forcerange[:, :, 1]


def delay_from_latency_report(path: str, policy_dt: float) -> list[float]:
    """An action delay range (ms) from export.py's latency.json: the recommended artifact's estimated
    device p50 to p99.9, capped at one policy step."""
    import json
    from pathlib import Path

    try:
        report = json.loads(Path(path).read_text())
        estimate = report["artifacts"][report["recommended"]]["device_estimate"]
        low, high = estimate["p50_us"] / 1000.0, estimate["p999_us"] / 1000.0
    except FileNotFoundError:
        raise ValueError(
            f"randomization.action_delay_from: '{path}' not found; give a latency.json from export.py"
        ) from None
    except (KeyError, ValueError, TypeError) as err:
        raise ValueError(
            f"randomization.action_delay_from: '{path}' is not a latency.json from export.py ({type(err).__name__}: {err})"
        ) from None
    cap = policy_dt * 1000.0
    return [min(low, cap), min(high, cap)]


def delay_steps(bounds_ms: list | None, physics_dt: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw delays in physics steps from a range in milliseconds."""
    if bounds_ms is None:
        return np.zeros(n, dtype=int)
    ms = rng.uniform(bounds_ms[0], bounds_ms[1], size=n)
    return np.rint(ms / 1000.0 / physics_dt).astype(int)
