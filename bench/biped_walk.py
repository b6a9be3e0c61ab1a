"""Does a trained biped walk? Velocity-tracking RMSE and fall-free share over 10-second episodes, then fixed
commands held.

    python bench/biped_walk.py <run_dir | checkpoint_dir | bundle_dir> [episodes]

Targets (issue 12): vx and vy RMSE <= 0.25 m/s, yaw-rate RMSE <= 0.3 rad/s and >= 95% of episodes without a
fall, with the run's own (standard) randomization and commands (biped_flat: vx -0.5..1.0, vy +-0.3, yaw +-1.0).
Then each of BIPED_COMMANDS (both sides of each lateral and turning command) is held for 16 10-s episodes:
the mean velocity over the last 5 s must be within 0.1 of the command, with no fall.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quadruped_walk import parse, report  # noqa: E402

from common.cli import script  # noqa: E402

BIPED_COMMANDS = {"forward 0.5": (0.5, 0.0, 0.0), "forward 1.0": (1.0, 0.0, 0.0), "backward 0.3": (-0.3, 0.0, 0.0),
                  "left 0.3": (0.0, 0.3, 0.0), "right 0.3": (0.0, -0.3, 0.0), "turn left 0.8": (0.0, 0.0, 0.8),
                  "turn right 0.8": (0.0, 0.0, -0.8), "stand": (0.0, 0.0, 0.0)}  # fmt: skip
"""Each side's command and its mirror image: a policy that turns one way only shows it here."""
YAW_TARGET = 0.3


def main() -> None:
    args = parse(sys.argv[1:], __doc__)
    report(args.policy, args.episodes, BIPED_COMMANDS, YAW_TARGET)


if __name__ == "__main__":
    script(main)
