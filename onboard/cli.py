"""`python export.py` / `locoforge-export`: compose configs/export/export.yaml with Hydra and write a bundle.

The device profiles live in configs/export/device/, off train.py's search path, so that train.py's
`device=cpu|cuda` and export's `device=<profile>` never meet.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from common.cli import run
from common.io import keep_file_size_errors
from configs import ROOT as CONFIGS
from onboard.exporter import register

register()


_rejected = False


def main() -> None:
    run(_main, lambda: _rejected)  # 1 is the answer "an artifact was rejected in closed loop"


@hydra.main(version_base="1.3", config_path=str(CONFIGS / "export"), config_name="export")
def _main(cfg: DictConfig) -> None:
    global _rejected
    from onboard.exporter import export

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    out = Path(cfg.out) if cfg.out else run_dir / "bundle"
    keep_file_size_errors()
    try:
        manifest = export(OmegaConf.to_object(cfg), out)
    except (ValueError, FileNotFoundError) as err:
        if run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    for name, r in manifest["closed_loop"].items():
        print(
            f"closed loop {name:10}  delay {r['delay_ms']:6.2f} ms  return {r['mean_return']:8.3f} "
            f"({r['return_ratio']:.3f} x fp32)  falls {r['fall_rate']:.1%}  {'accepted' if r['accepted'] else 'REJECTED'}"
        )
    print(f"bundle: {out}")
    if manifest["rejected"]:
        _rejected = True
        print(f"error: rejected in closed loop: {', '.join(manifest['rejected'])}", file=sys.stderr)
        sys.exit(1)
