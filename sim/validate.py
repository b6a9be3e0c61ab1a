"""`validate(cfg, out)`: load the policy, run the suite, write the report, return the exit code."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from common.io import now, versions
from sim import levels
from sim import report as report_io
from sim.config import ValidateConfig
from sim.policy import load_policy
from sim.runner import clean, run_gym, run_suite, scenario_task


def check(vcfg: ValidateConfig) -> None:
    if vcfg.policy is None:
        raise ValueError(
            "policy: missing; give policy=<run_dir> (from train.py) or policy=<bundle_dir> (from export.py)"
        )
    if vcfg.episodes < 1 or vcfg.episode_s <= 0 or vcfg.warmup_s < 0 or vcfg.extra_action_delay_ms < 0:
        raise ValueError("episodes >= 1, episode_s > 0, warmup_s >= 0 and extra_action_delay_ms >= 0 are required")
    if vcfg.video and vcfg.video_s <= 0:
        raise ValueError(f"video_s: must be > 0 with video=true, got {vcfg.video_s}")
    if vcfg.nthread < 0:
        raise ValueError(f"nthread: must be >= 0 (0: all cores), got {vcfg.nthread}")
    for name, command in vcfg.commands.items():
        if len(command) != 3:
            raise ValueError(f"commands.{name}: give [vx, vy, yaw_rate], got {list(command)}")


def worst_scenario(scenarios: dict[str, Any], vcfg: ValidateConfig) -> str | None:
    """The scenario other than nominal (and the deploy ones, which run no batched task) with the most falls,
    then the worst vx tracking: its video shows what to fix first."""
    names = [n for n in scenarios if n != "nominal" and vcfg.suite.scenarios[n].deploy is None]
    if not names:
        return None
    key = lambda n: (scenarios[n]["metrics"].get("fall_rate") or 0.0, scenarios[n]["metrics"].get("vx_rmse") or 0.0)  # noqa: E731
    return max(names, key=key)


def evaluate(vcfg: ValidateConfig, out: Path | None = None) -> dict[str, Any]:
    """Run the suite and return the report (written into `out` when given)."""
    check(vcfg)
    t0 = time.perf_counter()
    policy = load_policy(vcfg.policy)
    train_cfg = policy.cfg
    if train_cfg.env.kind == "gym":
        if policy.source["kind"] != "run":
            raise ValueError("policy: a Gymnasium benchmark is validated from its run directory")
        if vcfg.suite.name != "nominal" or vcfg.scenarios:
            raise ValueError(f"suite: '{vcfg.suite.name}' is a robot suite; a Gymnasium benchmark ({train_cfg.env.id}) "
                             "takes suite=nominal only")  # fmt: skip
        scenarios = run_gym(policy, vcfg)
        kind, video = "gym", {"made": False, "path": None, "reason": "Gymnasium benchmark: no video"}
        worst_video = None
    else:
        scenarios = run_suite(policy, train_cfg, vcfg)
        kind, video = policy.source["kind"], {"made": False, "path": None, "reason": "video=false"}
        worst_video = None
        if vcfg.video and out is not None:
            from sim.config import ScenarioConfig
            from sim.video import record

            nominal = vcfg.suite.scenarios.get("nominal", ScenarioConfig())
            video = record(policy, scenario_task(train_cfg, nominal, vcfg), out / "nominal.mp4", seconds=vcfg.video_s,
                           title="nominal")  # fmt: skip
            worst = worst_scenario(scenarios, vcfg)
            if worst is not None:
                cfg, title = scenario_task(train_cfg, vcfg.suite.scenarios[worst], vcfg), f"worst: {worst}"
                if vcfg.suite.scenarios[worst].levels:  # on the terrain: the first level it does not pass
                    cfg.terrain.start_level = levels.frontier(scenarios[worst]["metrics"], cfg.terrain.n_levels)
                    title += f", level {cfg.terrain.start_level} down"
                worst_video = record(policy, cfg, out / f"worst_{worst}.mp4", seconds=vcfg.video_s, title=title)
                worst_video["scenario"] = worst
    report = {
        "schema_version": 1,
        "policy": {**{k: v for k, v in policy.source.items() if k in ("path", "env", "algo")}, "kind": kind},
        "suite": vcfg.suite.name,
        "seed": vcfg.seed,
        "episodes": vcfg.episodes,
        "episode_s": vcfg.episode_s,
        "commands": {k: list(map(float, v)) for k, v in vcfg.commands.items()},
        "extra_action_delay_ms": vcfg.extra_action_delay_ms,
        "scenarios": clean(scenarios),
        "gates_passed": all(s["passed"] for s in scenarios.values()),
        "video": video,
        **({"worst_video": worst_video} if worst_video is not None else {}),
        "created": now(),
        "duration_s": time.perf_counter() - t0,
        "versions": versions(),
    }
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        report_io.write(report, out)
    return report


def main(cfg: DictConfig, out: Path) -> int:
    """validate.py's body: 0 when every gate passes, 1 when one fails."""
    vcfg = OmegaConf.to_object(cfg)
    assert isinstance(vcfg, ValidateConfig)
    report = evaluate(vcfg, out)
    width = max(len(n) for n in report["scenarios"])
    print(f"{'scenario'.ljust(width)}  verdict  fall_rate  vx_rmse  vy_rmse  failed gates")
    for name, verdict, failed in report_io.summary_rows(report):
        m = report["scenarios"][name]["metrics"]
        cells = [report_io._fmt(m.get(k)) for k in ("fall_rate", "vx_rmse", "vy_rmse")]
        print(f"{name.ljust(width)}  {verdict:7}  {cells[0]:>9}  {cells[1]:>7}  {cells[2]:>7}  {failed}")
    clipped = {}
    for n, sc in report["scenarios"].items():
        sweep = vcfg.suite.scenarios[n].commands or vcfg.commands
        for name, flown in sc.get("flown_commands", {}).items():
            if flown != (asked := list(map(float, sweep[name]))):
                clipped[name] = (asked, flown)
    if clipped:
        print("commands clipped to the policy's training ranges (clip_commands=false flies them as written): "
              + ", ".join(f"{n} {asked} -> {flown}" for n, (asked, flown) in clipped.items()))  # fmt: skip
    print(
        f"report: {out / 'report.json'}  ({report['duration_s']:.0f} s)  gates: {'PASS' if report['gates_passed'] else 'FAIL'}"
    )
    return 0 if report["gates_passed"] else 1
