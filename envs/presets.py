"""Task configs composed by Hydra from the shipped `configs/` (the same files and defaults lists as train.py).

`task_config` is the one way from any config source to a typed `TaskConfig`: the presets of a task, train.py's
composed config, or a run's saved config.yaml, with overrides by preset name, YAML file, dict or dataclass.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import OmegaConf

from common.configs import available, compose
from envs.config import LEGACY_TERRAIN_KEYS, EnvConfig, EventTermConfig, RobotConfig, TaskConfig, TerrainConfig

SCHEMAS: dict[str, type] = {"env": EnvConfig, "robot": RobotConfig, "terrain": TerrainConfig}
GROUPS = ("env", "robot", "terrain", "randomization")
"""Hydra groups a caller may choose by preset name; `randomization` presets fill env.events and env.obs_noise_scale."""
T = TypeVar("T")


def register() -> None:
    """Make the TaskConfig schema available to Hydra as `task_schema` (configs/task.yaml starts from it)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="task_schema", node=TaskConfig)


def typed(value: Any, schema: type[T], where: str, base: Any = None) -> T:
    """A dataclass from a mapping merged over `base` (a dataclass; the schema's defaults if None); a wrong key or
    type fails in one line."""
    if isinstance(value, schema):
        return copy.deepcopy(value)
    if schema is TerrainConfig and isinstance(value, Mapping):
        value = upgrade_terrain(value)
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema if base is None else base), value)
        return OmegaConf.to_object(merged)
    except Exception as err:  # omegaconf's messages run over several lines: keep the first
        raise ValueError(f"{where}: {str(err).splitlines()[0]}") from None


def upgrade_terrain(value: Mapping) -> dict:
    """A terrain mapping of a run written before tile sections (flat `slope`, `step_height`, ...) in today's
    layout, so that the policies of earlier runs still validate and export."""
    value = dict(OmegaConf.to_container(value) if OmegaConf.is_config(value) else value)
    for old, (section, name) in LEGACY_TERRAIN_KEYS.items():
        if old in value:
            value[section] = {**value.get(section, {}), name: value.pop(old)}
    return value


def _compose_task(choices: list[str]) -> TaskConfig:
    register()
    from hydra.errors import HydraException

    try:
        cfg = compose("task", choices)
    except HydraException as err:
        for choice in choices:
            group, name = choice.split("=", 1)
            if name not in available(group):
                raise ValueError(f"{group}: unknown preset '{name}'; accepted: {', '.join(available(group))}") from None
        raise ValueError(f"task config: {str(err).splitlines()[0]}") from None
    return OmegaConf.to_object(cfg)


def load(group: str, name: str) -> Any:
    """The preset `configs/<group>/<name>.yaml` of a task section, composed and typed."""
    if group not in SCHEMAS:
        raise ValueError(f"task config: unknown section '{group}'; accepted: {', '.join(SCHEMAS)}")
    return getattr(_compose_task([f"{group}={name}"]), group)


def randomization(name: str) -> tuple[dict[str, EventTermConfig], float]:
    """A randomization preset's event terms and observation noise scale."""
    env = _compose_task([f"randomization={name}"]).env
    return env.events, env.obs_noise_scale


def _is_yaml_file(value: Any) -> bool:
    return isinstance(value, (str, Path)) and str(value).endswith((".yaml", ".yml"))


def _section(group: str, value: Any, current: Any) -> Any:
    """A section override: a dataclass, a preset name, a YAML file (the whole section), or a dict over `current`
    (a robot dict with another `mjcf` is a whole robot)."""
    schema = SCHEMAS[group]
    if isinstance(value, schema):
        return copy.deepcopy(value)
    if _is_yaml_file(value):
        path = Path(value)
        if not path.is_file():
            raise ValueError(f"{group}: '{value}' is not a file")
        return typed(OmegaConf.load(path), schema, f"{group} ({path})")
    if isinstance(value, str):
        return load(group, value)
    if isinstance(value, Mapping) or OmegaConf.is_dict(value):
        # a dict naming another robot file is a whole robot (its gain patterns must not mix with the preset's)
        whole = group == "robot" and "mjcf" in value and value["mjcf"] != getattr(current, "mjcf", None)
        return typed(value, schema, group, base=None if whole else current)
    raise ValueError(
        f"{group}: give a preset name, a YAML file, a dict or a {schema.__name__}, got {type(value).__name__}"
    )


def task_config(source: Any = None, **overrides: Any) -> TaskConfig:
    """The typed config of a task.

    Args:
        source: None or an env preset name (composed from configs/task.yaml with its defaults), a TaskConfig,
            or a mapping holding env, robot, randomization and terrain (train.py's config, a run's config.yaml).
        **overrides: `env`, `robot`, `terrain` as a preset name, a YAML file, a dict merged over the section or a
            dataclass; `randomization` as a preset name (its events and noise scale replace env's); any EnvConfig
            field (`sim`, `commands`, `events`, `rewards`, ...) merged into env.
    """
    env_fields = {f.name for f in dataclasses.fields(EnvConfig)}
    unknown = [k for k in overrides if k not in GROUPS and k not in env_fields]
    if unknown:
        raise ValueError(f"task config: unknown override(s) {unknown}; accepted: {', '.join(GROUPS)}, "
                         f"{', '.join(sorted(env_fields))}")  # fmt: skip
    preset = overrides.get("randomization")
    if preset is not None and not isinstance(preset, str):
        raise ValueError("randomization: give a preset name (none, standard, strong); change single terms with "
                         "events={'push': {'interval_s': [4, 8]}}")  # fmt: skip
    if source is None or isinstance(source, str):
        # preset names go to Hydra together, so that an env preset's defaults (its terrain) and the caller's
        # explicit choices combine as they do on train.py's command line
        choices = [f"env={source}"] if source else []
        for group in GROUPS:
            value = overrides.get(group)
            if isinstance(value, str) and not _is_yaml_file(value):
                choices.append(f"{group}={overrides.pop(group)}")
        cfg = _compose_task(choices)
    elif isinstance(source, TaskConfig):
        cfg = copy.deepcopy(source)
    else:
        missing = [g for g in SCHEMAS if g not in source]
        if missing:
            raise ValueError(f"task config: sections {missing} missing; a task needs {', '.join(SCHEMAS)}")
        cfg = TaskConfig(**{g: typed(source[g], SCHEMAS[g], g) for g in SCHEMAS})
    if "randomization" in overrides:  # a preset over a given config: its events and noise replace env's
        cfg.env.events, cfg.env.obs_noise_scale = randomization(overrides.pop("randomization"))
    for group in SCHEMAS:
        if group in overrides:
            setattr(cfg, group, _section(group, overrides.pop(group), getattr(cfg, group)))
    if overrides:  # EnvConfig fields; a partial dict (sim={"decimation": 10}) keeps the other fields
        cfg.env = typed(overrides, EnvConfig, "env", base=cfg.env)
    return cfg


__all__ = ["GROUPS", "SCHEMAS", "available", "load", "randomization", "register", "task_config", "typed"]
