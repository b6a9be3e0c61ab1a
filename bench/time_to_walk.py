"""Time to walk: how long `python train.py` takes until its policy walks for good.

    python bench/time_to_walk.py [--seeds 0,1,2] [--out DIR] [--episodes 128] [--every 1000000] [train.py overrides ...]
    python bench/time_to_walk.py --check RUN_DIR [RUN_DIR ...]     (score runs that already have checkpoints)

Each seed runs train.py as a user would (plus a checkpoint every 1M steps, all kept; `--every 500000` halves the
grid, which a target of a few minutes needs, and every one of the finer checkpoints must pass), then every checkpoint
gets the walking check of bench/quadruped_walk.py (vx/vy RMSE <= 0.25 m/s, >= 95% fall-free over 128
10-s episodes with standard randomization). Time to walk is the wall time, from launching train.py, of the
first checkpoint from which every later checkpoint passes. Checks run after training, so they cost it nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common.cli import positive, script  # noqa: E402
from envs import task_config  # noqa: E402
from envs.tracking import track_velocity  # noqa: E402
from sim.policy import load_policy  # noqa: E402

EVERY = 1_000_000


def train(seed: int, run_dir: Path, overrides: list[str], every: int = EVERY) -> float:
    """Run train.py for one seed with a checkpoint every `every` steps; return its launch time (epoch seconds)."""
    cmd = [sys.executable, str(REPO / "train.py"), f"seed={seed}", f"checkpoint_every={every}", "keep_checkpoints=0",
           f"hydra.run.dir={run_dir}", "progress=false", *overrides]  # fmt: skip
    start = time.time()
    subprocess.run(cmd, check=True)
    (run_dir / "launch_time.txt").write_text(f"{start}\n")
    return start


def score(run_dir: Path, episodes: int, yaw_rmse: float | None = None) -> dict:
    """Walking check of every checkpoint of a run, and the time to walk (with `yaw_rmse`, the yaw-rate RMSE
    must be at most that too: the biped's target is 0.3 rad/s)."""
    launch = run_dir / "launch_time.txt"
    if launch.is_file():
        start = float(launch.read_text())
    else:  # a run this bench did not launch: from train.py's own start (Python start-up not counted)
        start = datetime.fromisoformat(json.loads((run_dir / "run.json").read_text())["start_time"]).timestamp()
    rows = []
    for ckpt in sorted((run_dir / "checkpoints").glob("step_*")):
        policy = load_policy(ckpt)
        result = track_velocity(policy, task_config(policy.cfg), episodes=episodes)
        wall = (ckpt / "meta.json").stat().st_mtime - start
        walks = result.walks and (yaw_rmse is None or result.yaw_rmse <= yaw_rmse)
        rows.append({"step": int(ckpt.name.split("_")[1]), "wall_s": wall, "walks": walks,
                     "vx_rmse": result.vx_rmse, "vy_rmse": result.vy_rmse, "yaw_rmse": result.yaw_rmse,
                     "fall_free": result.fall_free_share})  # fmt: skip
        print(
            f"  {run_dir.name} step {rows[-1]['step']:>10,}  {wall:6.0f} s  {result.line()}"
            + ("" if yaw_rmse is None else f"  yaw <= {yaw_rmse}: {'yes' if walks else 'NO'}"),
            flush=True,
        )
    first = None
    for i in range(len(rows)):
        if all(r["walks"] for r in rows[i:]):
            first = rows[i]
            break
    return {"run": str(run_dir), "checkpoints": rows, "time_to_walk_s": first["wall_s"] if first else None,
            "steps_to_walk": first["step"] if first else None}  # fmt: skip


def seed_list(text: str) -> list[int]:
    """--seeds: comma-separated integers."""
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of integers (e.g. 0,1,2)") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=seed_list, default=[0, 1, 2], help="comma-separated, e.g. 0,1,2")
    parser.add_argument("--out", type=Path, default=Path("bench_runs/time_to_walk") / time.strftime("%Y%m%d-%H%M%S"))
    parser.add_argument("--episodes", type=positive(int), default=128)
    parser.add_argument("--check", nargs="+", type=Path, help="score these run directories instead of training")
    parser.add_argument("--yaw-rmse", type=float, help="also require this yaw-rate RMSE (the biped: 0.3)")
    parser.add_argument("--every", type=positive(int), default=EVERY, help="steps between checkpoints (default 1M)")
    args, overrides = parser.parse_known_args()
    if args.check:
        runs = args.check
    else:
        runs = [args.out / f"seed_{s}" for s in args.seeds]
        for seed, run_dir in zip(args.seeds, runs, strict=True):
            train(seed, run_dir, overrides, args.every)
    results = [score(r, args.episodes, args.yaw_rmse) for r in runs]
    times = [r["time_to_walk_s"] for r in results]
    for r in results:
        t = r["time_to_walk_s"]
        print(
            f"{r['run']}: "
            + (f"walks for good from step {r['steps_to_walk']:,} at {t:.0f} s" if t else "never walked for good")
        )
    if all(t is not None for t in times):
        print(f"time to walk: median {np.median(times):.0f} s, worst {max(times):.0f} s over {len(times)} seeds "
              f"(target: median <= 180 s, worst <= 300 s)")  # fmt: skip
    else:
        print(f"time to walk: {sum(t is None for t in times)} of {len(times)} seeds never walked for good")
    if not args.check:
        (args.out / "time_to_walk.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    script(main)
