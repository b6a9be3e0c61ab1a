"""Hydra composition of the shipped `configs/` from library code, also from inside a running Hydra app."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

from configs import ROOT as CONFIGS


def available(group: str, root: Path = CONFIGS) -> list[str]:
    """Names of the presets of a config group (`configs/<group>/*.yaml`)."""
    return sorted(p.stem for p in (root / group).glob("*.yaml"))


def compose(config_name: str, overrides: Sequence[str] = (), root: Path = CONFIGS,
            return_hydra_config: bool = False) -> DictConfig:  # fmt: skip
    """Compose `<root>/<config_name>.yaml` with Hydra's defaults lists and overrides.

    Hydra keeps one global instance; a running app (validate.py, export.py) is set aside and restored, so
    library code can compose the same files the command line does.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    running = GlobalHydra.instance().hydra
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(str(root), version_base="1.3"):
            return hydra_compose(config_name, overrides=list(overrides), return_hydra_config=return_hydra_config)
    finally:
        GlobalHydra.instance().hydra = running
