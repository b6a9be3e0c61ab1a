"""Does a trained quadruped walk? Velocity-tracking RMSE and fall-free share over 10-second episodes.

    python bench/quadruped_walk.py <run_dir> [episodes]

Targets (issue 3): vx and vy RMSE <= 0.25 m/s and >= 95% of episodes without a fall, with the run's
own (standard) randomization.
"""

import json
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.tracking import track_velocity  # noqa: E402


def main() -> None:
    run_dir = Path(sys.argv[1])
    episodes = int(sys.argv[2]) if len(sys.argv) > 2 else 128
    result = track_velocity(run_dir, episodes=episodes)
    print(json.dumps(asdict(result), indent=2))
    ok = result.vx_rmse <= 0.25 and result.vy_rmse <= 0.25 and result.fall_free_share >= 0.95
    print(
        f"vx RMSE {result.vx_rmse:.3f}  vy RMSE {result.vy_rmse:.3f}  fall-free {result.fall_free_share:.1%}  "
        f"-> {'PASS' if ok else 'FAIL'} (targets 0.25 m/s, 95%)"
    )


if __name__ == "__main__":
    main()
