"""Drive a trained robot: `python play.py policy=<run_dir|bundle_dir> viewer=<browser|window|headless>`."""

from sim.cli import play

if __name__ == "__main__":
    play()
