"""Named presets from `configs/` (robot, randomization, terrain, env), loaded without Hydra.

The YAML files under `configs/` are the single home of presets: Hydra composes them for `train.py`, and
this loader reads the same files so that `envs.make_vec` and the Gymnasium ids work on their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from omegaconf import OmegaConf

from envs.config import EnvConfig, RandomizationConfig, RobotConfig, TerrainConfig

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
SCHEMAS: dict[str, type] = {
    "robot": RobotConfig,
    "randomization": RandomizationConfig,
    "terrain": TerrainConfig,
    "env": EnvConfig,
}
T = TypeVar("T")


def available(group: str) -> list[str]:
    """Names of the presets of a config group."""
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))


def load(group: str, name: str, schema: type | None = None) -> Any:
    """The preset `configs/<group>/<name>.yaml` as its dataclass (the group's schema unless given)."""
    path = CONFIGS / group / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"{group}: unknown preset '{name}'; accepted: {', '.join(available(group))}")
    schema = schema or SCHEMAS[group]
    raw = OmegaConf.load(path)
    # a preset may extend another of its group (Hydra's defaults list); other entries are Hydra's alone
    bases = [load(group, d, schema) for d in raw.pop("defaults", []) if isinstance(d, str) and d != "_self_"]
    merged = OmegaConf.merge(OmegaConf.structured(schema), *bases, raw)
    return OmegaConf.to_object(merged)


def coerce(value: Any, schema: type[T], group: str) -> T:
    """Accept a dataclass, a preset name or a dict for a config group; return the dataclass."""
    if isinstance(value, schema):
        return value
    if isinstance(value, str):
        return load(group, value)
    merged = OmegaConf.merge(OmegaConf.structured(schema), OmegaConf.create(dict(value)))
    return OmegaConf.to_object(merged)
