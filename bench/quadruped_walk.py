"""Does a trained quadruped walk? Velocity-tracking RMSE and fall-free share over 10-second episodes.

    python bench/quadruped_walk.py <run_dir | checkpoint_dir | bundle_dir> [episodes]

Targets (envs.tracking.WALK_TARGETS): vx and vy RMSE <= 0.25 m/s and >= 95% of episodes without a fall,
with the run's own (standard) randomization. train.py prints the same check at its end. Then each fixed
command of envs.tracking.FIXED_COMMANDS (vx 0.5 and 1.0, vy 0.4, yaw rate 0.8, standing) is held for 16
10-s episodes: the mean velocity over the last 5 s must be within 0.1 of the command, with no fall.
"""

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.cli import positive, script  # noqa: E402
from envs import task_config  # noqa: E402
from envs.tracking import hold_commands, track_velocity  # noqa: E402
from sim.policy import load_policy  # noqa: E402


def parse(argv: list[str], description: str) -> argparse.Namespace:
    """The policy to check and the number of episodes of the walking check."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("policy", help="a run directory, one of its checkpoints, or a bundle")
    parser.add_argument("episodes", nargs="?", type=positive(int), default=128, help="of the walking check")
    return parser.parse_args(argv)


def report(path: str, episodes: int, commands: dict | None = None, yaw_target: float | None = None) -> None:
    """The walking check of policy `path` (run, checkpoint or bundle) over `episodes`, then the fixed commands
    (FIXED_COMMANDS unless given); with `yaw_target`, the yaw-rate RMSE must meet it too."""
    policy = load_policy(path)
    result = track_velocity(policy, task_config(policy.cfg), episodes=episodes)
    print(json.dumps(asdict(result), indent=2))
    print(result.line())
    if yaw_target is not None:
        met = result.walks and result.yaw_rmse <= yaw_target
        print(f"targets with yaw RMSE <= {yaw_target}: {'MET' if met else 'NOT MET'}")
    held = hold_commands(policy, task_config(policy.cfg), commands=commands)
    for h in held:
        print(h.line())
    print(f"fixed commands: {sum(h.holds for h in held)}/{len(held)} held within 0.1 with no fall")


def main() -> None:
    args = parse(sys.argv[1:], __doc__)
    report(args.policy, args.episodes)


if __name__ == "__main__":
    script(main)
