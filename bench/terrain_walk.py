"""Does a rough-terrain policy climb? Issue 13's targets, each terrain at the target difficulty, up and down.

    python bench/terrain_walk.py <run | checkpoint | bundle> [--flat <policy>] [--episodes N]
    python bench/terrain_walk.py RUN/checkpoints/step_* --terrain-only --only stairs_15cm,stairs_10cm   (a curve)

Blind targets: slopes of 20 deg and stairs of 10 cm (31 cm treads) up and down at <= 10 % falls, rough ground
(bumps to 5 cm) at <= 5 %, vx RMSE <= 0.3 m/s on each, walking forward at 0.5 m/s. Perceptive target
(a policy with the actor height scan): stairs of 15 cm at <= 10 %. With --flat, the nominal and robustness
scenarios on flat ground side by side (the terrain policy's alone without --flat): the terrain policy may fall at
most 2 points more than the flat one. Each difference comes with its 95 % interval: at 128 episodes a push fall
share near 8 % is known to about ±5 points, so a verdict inside the interval says "(within noise)" (pushes at
--flat-episodes 1024 resolve about ±2.5). Then fixed commands on flat ground, slow ones included.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.cli import positive, script  # noqa: E402
from envs import task_config  # noqa: E402
from envs.tracking import FIXED_COMMANDS, hold_commands  # noqa: E402
from sim.config import ScenarioConfig, SuiteConfig, ValidateConfig, load_suite  # noqa: E402
from sim.policy import load_policy  # noqa: E402
from sim.validate import evaluate  # noqa: E402

FORWARD = {"forward": [0.5, 0.0, 0.0]}
TERRAINS = {  # name: (terrain changes, fall-rate target); one level, a hill and a pit column: down and up
    "slopes_20deg": ({"kind": "slopes", "slopes": {"slope": [0.349, 0.349]}}, 0.10),
    "stairs_10cm": ({"kind": "stairs", "stairs": {"step_height": [0.10, 0.10], "step_width": 0.31}}, 0.10),
    "stairs_15cm": ({"kind": "stairs", "stairs": {"step_height": [0.15, 0.15], "step_width": 0.31}}, 0.10),
    "rough_5cm": ({"kind": "rough", "rough": {"height": [0.05, 0.05]}}, 0.05),
}
VX_RMSE = 0.3
SLOW = {"forward 0.3": (0.3, 0.0, 0.0), "back 0.5": (-0.5, 0.0, 0.0)}
"""Besides FIXED_COMMANDS: a terrain policy that stands at slow commands stops for good at the first step edge."""
FLAT_MARGIN = 0.02


def terrain_suite(episodes: int, only: list[str] | None = None) -> SuiteConfig:
    scenarios = {name: ScenarioConfig(description=name, terrain={**change, "n_levels": 1, "n_cols": 2}, levels=True,
                                      episodes=episodes, commands=FORWARD)
                 for name, (change, _) in TERRAINS.items() if only is None or name in only}  # fmt: skip
    return SuiteConfig(name="terrain_targets", scenarios=scenarios)


def terrain_table(policy: str, episodes: int, only: list[str] | None = None) -> None:
    """Falls and vx RMSE of one policy on each target terrain, up and down, against the targets."""
    report = evaluate(ValidateConfig(policy=policy, suite=terrain_suite(episodes, only), video=False))
    print(f"{'terrain':14} {'direction':9} {'falls':>7} {'vx RMSE':>8} {'speed':>6}  target   (speed: share of the "
          f"commanded speed walked; a policy that stops at an edge shows near 0)")
    for name, scenario in report["scenarios"].items():
        target, level = TERRAINS[name][1], scenario["levels"]["0"]
        for direction in ("up", "down"):
            m = level[direction]
            ok = m["fall_rate"] <= target and (m["vx_rmse"] or 0.0) <= VX_RMSE
            print(f"{name:14} {direction:9} {100 * m['fall_rate']:6.1f}% {m['vx_rmse']:8.3f} {m['speed_ratio']:6.2f}  "
                  f"<= {100 * target:.0f}% falls, vx <= {VX_RMSE}: {'MET' if ok else 'NOT MET'}")  # fmt: skip


def margin_verdict(ours: float, flat: float, episodes: int, margin: float = FLAT_MARGIN) -> tuple[float, str]:
    """The 95 % half-width of the fall-share difference (two independent binomial shares of `episodes` each) and
    the verdict on `ours <= flat + margin`: MET or NOT MET, "(within noise)" when the interval straddles the line."""
    var = sum(max(p * (1 - p), 1.0 / episodes**2) for p in (ours, flat)) / episodes  # never a zero-width interval
    half = 1.96 * var**0.5
    diff = ours - flat
    verdict = "MET" if diff <= margin else "NOT MET"
    return half, verdict + (" (within noise)" if abs(diff - margin) < half else "")


def flat_suite() -> SuiteConfig:
    """The nominal and robustness scenarios on flat ground for both policies (a scenario otherwise runs on the
    policy's own training terrain, which would pit the terrain policy's stairs against the flat policy's floor)."""
    nominal, robustness = load_suite("nominal"), load_suite("robustness")
    scenarios = {**nominal.scenarios, **robustness.scenarios}
    for scenario in scenarios.values():
        scenario.terrain = {"kind": "plane"}
    return SuiteConfig(name="flat", scenarios=scenarios)


def flat_falls(policy: str, episodes: int) -> dict[str, float]:
    """Fall share of one policy in each flat-ground scenario."""
    report = evaluate(ValidateConfig(policy=policy, suite=flat_suite(), video=False, episodes=episodes))
    return {name: scenario["metrics"]["fall_rate"] for name, scenario in report["scenarios"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policy", nargs="+", help="one or more policies; several (checkpoints) give a curve")
    parser.add_argument("--flat", help="a flat-ground policy to compare the nominal and robustness falls with")
    parser.add_argument("--episodes", type=positive(int), default=64, help="episodes per terrain, half up and half down")
    parser.add_argument("--flat-episodes", type=positive(int), default=128,
                        help="episodes per flat scenario: a 2-point margin needs many (at 32 one fall is 3.1 points)")
    parser.add_argument("--terrain-only", action="store_true", help="skip the fixed commands and flat scenarios")
    parser.add_argument("--only", help=f"comma-separated terrains of {', '.join(TERRAINS)} (default: all)")
    args = parser.parse_args()
    only = None if args.only is None else args.only.split(",")
    unknown = sorted(set(only or []) - set(TERRAINS))
    if unknown:
        parser.error(f"--only: unknown terrain(s) {', '.join(unknown)}; accepted: {', '.join(TERRAINS)}")
    if len(args.policy) > 1 and not args.terrain_only:
        parser.error("several policies give a terrain curve: add --terrain-only")
    for policy in args.policy:
        if len(args.policy) > 1:
            print(f"\n{policy}")
        terrain_table(policy, args.episodes, only)
    if args.terrain_only:
        return
    policy = load_policy(args.policy[0])
    print("\nfixed commands on flat ground, the training's randomization (mean velocity of the last 5 s):")
    flat_ground = task_config(policy.cfg, terrain={"kind": "plane"})
    for held in hold_commands(policy, flat_ground, commands={**FIXED_COMMANDS, **SLOW}):
        print(held.line())
    ours = flat_falls(args.policy[0], args.flat_episodes)
    flat = flat_falls(args.flat, args.flat_episodes) if args.flat else {}
    print(f"\n{'scenario':14} {'terrain policy':>15} {'flat policy':>12} {'difference':>16}  within "
          f"{100 * FLAT_MARGIN:.0f} points ({args.flat_episodes} episodes each; 95 % interval of the difference)")
    for name, a in ours.items():
        if flat:
            b = flat[name]
            half, verdict = margin_verdict(a, b, args.flat_episodes)
            cell = f"{100 * b:11.1f}% {100 * (a - b):+8.1f} ± {100 * half:4.1f}"
        else:  # no falls on flat ground meets the target whatever the flat policy does
            cell, verdict = f"{'-':>12} {'':>16}", "MET" if a == 0 else "needs --flat"
        print(f"{name:14} {100 * a:14.1f}% {cell}  {verdict}")


if __name__ == "__main__":
    script(main)
