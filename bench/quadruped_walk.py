"""Does a trained quadruped walk? Velocity-tracking RMSE and fall-free share over 10-second episodes.

    python bench/quadruped_walk.py <run_dir | checkpoint_dir | bundle_dir> [episodes]

Targets (envs.tracking.WALK_TARGETS): vx and vy RMSE <= 0.25 m/s and >= 95% of episodes without a fall,
with the run's own (standard) randomization. train.py prints the same check at its end.
"""

import json
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from envs import task_config  # noqa: E402
from envs.tracking import track_velocity  # noqa: E402
from sim.policy import load_policy  # noqa: E402


def main() -> None:
    policy = load_policy(sys.argv[1])
    episodes = int(sys.argv[2]) if len(sys.argv) > 2 else 128
    result = track_velocity(policy, task_config(policy.cfg), episodes=episodes)
    print(json.dumps(asdict(result), indent=2))
    print(result.line())


if __name__ == "__main__":
    main()
