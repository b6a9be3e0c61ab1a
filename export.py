"""Onboard computer: `python export.py policy=<run_dir> device=<profile>` writes a bundle (configs/export/)."""

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from onboard.exporter import register

register()


@hydra.main(version_base="1.3", config_path="configs/export", config_name="export")
def main(cfg: DictConfig) -> None:
    from onboard.exporter import export

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    out = Path(cfg.out) if cfg.out else run_dir / "bundle"
    try:
        manifest = export(OmegaConf.to_object(cfg), out)
    except (ValueError, FileNotFoundError) as err:
        if run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    loop = manifest["closed_loop"]
    for name, r in loop.items():
        print(
            f"closed loop {name:10}  delay {r['delay_ms']:6.2f} ms  return {r['mean_return']:8.3f} "
            f"({r['return_ratio']:.3f} x fp32)  falls {r['fall_rate']:.1%}  {'accepted' if r['accepted'] else 'REJECTED'}"
        )
    print(f"bundle: {out}")
    if manifest["rejected"]:
        print(f"error: rejected in closed loop: {', '.join(manifest['rejected'])}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
