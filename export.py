"""Onboard computer: `python export.py policy=<run_dir> device=<profile>` writes a bundle (configs/export/)."""

from onboard.cli import main

if __name__ == "__main__":
    main()
