"""Simulation computer: `python validate.py policy=<run_dir|bundle_dir> suite=<name>` (configs/validate.yaml)."""

from sim.cli import main

if __name__ == "__main__":
    main()
