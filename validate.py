"""Simulation computer: `python validate.py policy=<run_dir|bundle_dir> suite=<name>` (configs/validate.yaml)."""

import os
import sys
from pathlib import Path

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("MUJOCO_GL", "egl")  # headless: offscreen rendering for the video (set before mujoco loads)

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
    main.gates_failed = code == 1
    sys.exit(code)


if __name__ == "__main__":
    try:
        main()
    except SystemExit as exit_:
        # Hydra exits 1 on its own config errors (unknown suite, bad override): that is bad input, 2 like ours;
        # 1 stays the answer "a gate failed"
        if exit_.code == 1 and not getattr(main, "gates_failed", False):
            sys.exit(2)
        raise
