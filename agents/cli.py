"""`python train.py` / `locoforge-train`: compose configs/train.yaml with Hydra and train."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from agents.config import TrainConfig, register
from common.cli import error_line, run, term_groups
from common.io import keep_file_size_errors
from configs import ROOT as CONFIGS
from envs.presets import register as register_task

register()
register_task()


def main() -> None:
    run(_main, groups=term_groups(TrainConfig))


def _sweep(cfg: DictConfig, out: Path) -> None:
    """`+sweep=<preset>`: this worker's trials, then the results table and the best config."""
    from agents.tune import tune

    try:
        result = tune(cfg, out)
    except ValueError as err:
        print(f"error: {str(err).splitlines()[0]}", file=sys.stderr)
        sys.exit(2)
    print(f"sweep: {result['complete']}/{result['trials']} trials complete; table {result['table']}")
    if result["best"] is not None:
        best = result["best"]
        print(f"best: trial {best['trial']} value {best['value']:.4g} {best['params']}")
        print(
            f"train with it: python train.py --config-dir {Path(result['experiment']).parent.parent} "
            f"+experiment={Path(result['experiment']).stem}"
        )


@hydra.main(version_base="1.3", config_path=str(CONFIGS), config_name="train")
def _main(cfg: DictConfig) -> None:
    from agents.checkpoint import CheckpointError
    from agents.trainer import train

    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    keep_file_size_errors()
    if cfg.sweep is not None:
        _sweep(cfg, run_dir)
        return
    try:
        run = train(cfg, run_dir, list(hc.overrides.task), {k: str(v) for k, v in hc.runtime.choices.items()})
    except (ValueError, FileNotFoundError, CheckpointError, OSError) as err:
        message = error_line(err, run_dir)
        if message is None:
            raise
        if run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()  # made by Hydra for this call only
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    if "walk_check" in run:
        from envs.tracking import TrackingResult

        fields = {k: v for k, v in run["walk_check"].items() if k != "walks"}
        print(f"walking check: {TrackingResult(**fields).line()}")
    print(
        f"run dir: {run_dir if not cfg.resume else cfg.resume}  steps: {run['steps_done']}  "
        f"steps/s: {run['steps_per_second']:.0f}  params: {run['params_hash'][:12]}"
    )
