"""Simulation computer: `python validate.py policy=<run_dir|bundle_dir> suite=<name>` (configs/validate.yaml)."""

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from sim.config import register

register()


@hydra.main(version_base="1.3", config_path="configs", config_name="validate")
def main(cfg: DictConfig) -> None:
    from sim.validate import main as validate

    out = Path(HydraConfig.get().runtime.output_dir)
    try:
        code = validate(cfg, out)
    except (ValueError, FileNotFoundError) as err:
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    sys.exit(code)


if __name__ == "__main__":
    main()
