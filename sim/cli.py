"""`python validate.py` / `locoforge-validate` (configs/validate.yaml) and `python play.py` / `locoforge-play`
(configs/play.yaml): compose the config with Hydra and run.

Exit codes: 0 every gate passed, 1 a gate failed, 2 bad input (Hydra's own config errors included).
"""

from __future__ import annotations

import sys
from pathlib import Path

from common.gl import headless_default

headless_default()  # offscreen rendering for the video, chosen before mujoco loads

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from common.cli import error_line, run, term_groups  # noqa: E402
from common.io import keep_file_size_errors  # noqa: E402
from configs import ROOT as CONFIGS  # noqa: E402
from onboard.runtime import BundleError  # noqa: E402
from sim.config import ValidateConfig, register  # noqa: E402

register()
_gates_failed = False


@hydra.main(version_base="1.3", config_path=str(CONFIGS), config_name="validate")
def _main(cfg: DictConfig) -> None:
    global _gates_failed
    from sim.validate import main as validate

    out = Path(HydraConfig.get().runtime.output_dir)
    keep_file_size_errors()
    try:
        code = validate(cfg, out)
    except (ValueError, FileNotFoundError, BundleError, OSError) as err:
        message = error_line(err, out)
        if message is None:
            raise
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    _gates_failed = code == 1
    sys.exit(code)


def main() -> None:
    run(_main, lambda: _gates_failed, term_groups(ValidateConfig))  # 1 is the answer "a gate failed"


@hydra.main(version_base="1.3", config_path=str(CONFIGS), config_name="play")
def _play(cfg: DictConfig) -> None:
    from omegaconf import OmegaConf

    from sim.play import main as play_main

    try:
        code = play_main(OmegaConf.to_object(cfg))
    except (ValueError, FileNotFoundError, BundleError) as err:
        print(f"error: {str(err).splitlines()[0]}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        code = 0
    sys.exit(code)


def play() -> None:
    """`python play.py` / `locoforge-play`."""
    run(_play)
