"""validate.py suite=deploy: the bundle's own robot_loop.py drives the stand-in robot (sim.robot_server), each
in its own process, in real time over UDP; tracking is compared with the same bundle in the batched task."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from common.io import load_run_config
from envs import task_config
from envs.rollout import rollout
from envs.task import LocomotionTask
from envs.tracking import FIXED_COMMANDS
from sim.config import DeployConfig

DEPLOY_METRICS = ["fall_rate", "vx_rmse", "vy_rmse", "yaw_rmse", "velocity_gap", "yaw_gap", "period_p50_ms",
                  "period_p99_ms", "period_max_ms", "period_p99_ratio", "jitter_p99_ms", "deadline_misses",
                  "stale_periods", "states_lost_share", "commands_lost_share", "hold_after_stale_ms",
                  "damp_after_periods", "damped"]  # fmt: skip
REPO = Path(__file__).resolve().parent.parent


def operator_script(cfg: DeployConfig) -> list[dict[str, Any]]:
    """Standing while the loop ramps up, then each chosen fixed command for segment_s."""
    names = list(FIXED_COMMANDS) if cfg.commands is None else list(cfg.commands)
    unknown = [n for n in names if n not in FIXED_COMMANDS]
    if unknown:
        raise ValueError(f"deploy.commands: unknown {unknown}; accepted: {', '.join(FIXED_COMMANDS)}")
    parts = [{"name": "settle", "command": [0.0, 0.0, 0.0], "seconds": cfg.settle_s}]
    return parts + [{"name": n, "command": list(FIXED_COMMANDS[n]), "seconds": cfg.segment_s} for n in names]


def check(cfg: DeployConfig, where: str) -> None:
    """Refuse unknown fault or loop fields and impossible times before any process starts."""
    from onboard.robot_loop import LoopConfig
    from sim.robot_server import Faults

    for section, schema in (("faults", Faults), ("loop", LoopConfig)):
        accepted = {f.name for f in fields(schema)}
        unknown = sorted(set(getattr(cfg, section)) - accepted)
        if unknown:
            raise ValueError(
                f"{where}.deploy.{section}: unknown field(s) {unknown}; accepted: {', '.join(sorted(accepted))}"
            )
    if cfg.settle_s < 0 or cfg.segment_s <= 0 or not 0 < cfg.measure_s <= cfg.segment_s:
        raise ValueError(f"{where}.deploy: settle_s >= 0, segment_s > 0 and 0 < measure_s <= segment_s are required")
    operator_script(cfg)


def segment_means(segment: np.ndarray, t_index: np.ndarray, values: np.ndarray, script: list[dict], dt: float,
                  measure_s: float) -> dict[int, np.ndarray]:  # fmt: skip
    """Mean (vx, vy, yaw rate) of each segment over its last measure_s, from per-policy-step samples."""
    ends = np.cumsum([p["seconds"] for p in script])
    out = {}
    for k in range(1, len(script)):  # segment 0 is the settle
        window = (segment == k) & ((t_index + 1) * dt > ends[k] - measure_s - 1e-9)
        if window.any():
            out[k] = values[window].mean(axis=0)
    return out


def reference(bundle: Path, script: list[dict], measure_s: float, episodes: int, seed: int) -> dict[int, np.ndarray]:
    """The same bundle in the batched task under nominal conditions with the same operator script: each
    segment's mean velocity over the episodes that did not fall."""
    from onboard.runtime import load_bundle
    from sim.robot_server import script_rows

    policy = load_bundle(bundle)
    cfg = task_config(load_run_config(bundle), randomization="none")
    cfg.env.commands["velocity"].params["script"] = script_rows(script)
    cfg.env.sim.episode_length_s = float(sum(p["seconds"] for p in script))
    task = LocomotionTask(cfg, num_envs=episodes, seed=seed)
    term = task.commands.terms["velocity"]
    rows, fell = [], np.zeros(episodes, dtype=bool)
    for step in rollout(policy, task, task.max_episode_steps):
        s = step.state
        rows.append(np.concatenate([s.base_lin_vel[:, :2], s.base_ang_vel[:, 2:]], axis=1))
        fell |= step.result.terminated
    values = np.stack(rows)[:, ~fell]  # (T, kept, 3)
    t_index = np.arange(len(rows))
    segment = term.segment_at(t_index * task.dt)
    per_step = values.mean(axis=1) if values.shape[1] else np.full((len(rows), 3), np.nan)
    return segment_means(segment, t_index, per_step, script, task.dt, measure_s)


def _env() -> dict[str, str]:
    """The child processes' environment: this checkout importable from any working directory."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def _start_server(
    bundle: Path, cfg: DeployConfig, script: list[dict], out: Path, seed: int
) -> tuple[subprocess.Popen, int]:
    args = [sys.executable, "-m", "sim.robot_server", "--bundle", str(bundle), "--port", "0", "--seed", str(seed),
            "--faults", json.dumps(cfg.faults), "--script", json.dumps(script), "--out", str(out)]  # fmt: skip
    if cfg.duration_s is not None:
        args += ["--duration", str(cfg.duration_s)]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    line = proc.stdout.readline()
    if "udp://" not in line:
        proc.kill()
        raise RuntimeError(f"the stand-in robot did not start: {line.strip()} {proc.stderr.read()[-500:]}")
    return proc, int(line.rsplit(":", 1)[1])


def fly(bundle: Path, cfg: DeployConfig, seed: int = 0, workdir: Path | None = None) -> dict[str, Any]:
    """One deploy run: the stand-in and the bundle's robot_loop.py as two processes; returns both logs."""
    script = operator_script(cfg)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        tmp = Path(tmp)
        (tmp / "loop_config.json").write_text(json.dumps(cfg.loop))
        server, port = _start_server(bundle, cfg, script, tmp / "server.json", seed)
        duration = cfg.duration_s if cfg.duration_s is not None else sum(p["seconds"] for p in script)
        # the bundle's own loop; a bundle exported before bundles carried one flies this checkout's
        own = bundle / "robot_loop.py"
        loop_cmd = [str(own)] if own.is_file() else ["-m", "onboard.robot_loop", "--bundle", str(bundle)]
        try:
            loop = subprocess.run(
                [sys.executable, *loop_cmd, "--udp", f"127.0.0.1:{port}", "--config", str(tmp / "loop_config.json"),
                 "--duration", str(duration + 2.0), "--log", str(tmp / "loop.json")],
                capture_output=True, text=True, timeout=duration + 60, cwd=tmp, env=_env(),
            )  # fmt: skip
            server.wait(timeout=30)
        finally:
            if server.poll() is None:
                server.kill()
        if loop.returncode != 0 or server.returncode != 0:
            raise RuntimeError(f"deploy run failed: loop rc {loop.returncode} {loop.stdout[-300:]} {loop.stderr[-800:]} "
                               f"server rc {server.returncode} {server.stderr.read()[-800:]}")  # fmt: skip
        return {"server": json.loads((tmp / "server.json").read_text()),
                "loop": json.loads((tmp / "loop.json").read_text()), "script": script}  # fmt: skip


def _first(modes: list[list], mode: str, after: float) -> float | None:
    return next((m[0] for m in modes if m[1] == mode and m[0] >= after), None)


def measure(run: dict[str, Any], ref: dict[int, np.ndarray], cfg: DeployConfig) -> dict[str, Any]:
    """Deploy metrics: falls, tracking and its gap to the in-process reference, loop timing, link losses,
    and how fast the loop held and damped once the state went stale."""
    server, loop, script = run["server"], run["loop"], run["script"]
    dt = server["physics_dt"] * server["decimation"]
    s = server["samples"]
    segment, command = np.asarray(s["segment"]), np.asarray(s["command"])
    values = np.concatenate([np.asarray(s["lin"])[:, :2], np.asarray(s["yaw"])[:, None]], axis=1)
    t_index = np.arange(len(segment))
    means = segment_means(segment, t_index, values, script, dt, cfg.measure_s)
    window = np.zeros(len(segment), dtype=bool)
    ends = np.cumsum([p["seconds"] for p in script])
    for k in means:
        window |= (segment == k) & ((t_index + 1) * dt > ends[k] - cfg.measure_s - 1e-9)
    err = (command - values)[window] if window.any() else np.full((1, 3), np.nan)
    gaps = np.array([np.abs(means[k] - ref[k]) for k in means if k in ref]) if means else np.full((1, 3), np.nan)
    period = loop["control_period_ms"]
    link = loop.get("link") or {}
    modes = server["commands"]["modes"]
    hold_after = damp_after = float("nan")  # only a stream that stops has them
    last_sent = server["states"]["last_sent_mono"]
    if cfg.faults.get("stop_state_at_s") is not None and last_sent is not None:
        # the loop's own clock says how long after the reading went stale it held; the robot's receipts say
        # after how many periods of holding the damping arrived
        hold_after = loop["holds"][-1][1] if loop["holds"] else float("inf")
        hold, damp = _first(modes, "hold", last_sent), _first(modes, "damp", last_sent)
        if hold is not None and damp is not None:
            damp_after = (damp - hold) * 1e3 / period + 1.0
    sent = max(server["states"]["sent"], 1)
    metrics = {
        "fall_rate": float(server["fell"]),
        "vx_rmse": float(np.sqrt(np.mean(err[:, 0] ** 2))),
        "vy_rmse": float(np.sqrt(np.mean(err[:, 1] ** 2))),
        "yaw_rmse": float(np.sqrt(np.mean(err[:, 2] ** 2))),
        "velocity_gap": float(np.max(gaps[:, :2])) if len(gaps) else float("nan"),
        "yaw_gap": float(np.max(gaps[:, 2])) if len(gaps) else float("nan"),
        "period_p50_ms": loop["period_ms"]["p50"],
        "period_p99_ms": loop["period_ms"]["p99"],
        "period_max_ms": loop["period_ms"]["max"],
        "period_p99_ratio": loop["period_ms"]["p99"] / period,
        "jitter_p99_ms": loop["jitter_ms"]["p99"],
        "deadline_misses": float(loop["counts"]["deadline_misses"]),
        "stale_periods": float(loop["counts"]["stale"]),
        "states_lost_share": (sent - link.get("states_received", 0)) / sent,
        "commands_lost_share": server["commands"]["lost"] / max(link.get("commands_sent", 1), 1),
        "hold_after_stale_ms": hold_after,
        "damp_after_periods": damp_after,
        "damped": float(any(str(e[1]).startswith("damp:") for e in loop["events"])),
    }
    commands = {}
    for k in means:  # each command: measured, the in-process reference, the largest planar gap
        mine, theirs = means[k], ref.get(k, np.full(3, np.nan))
        commands[script[k]["name"]] = {
            **{f"{c}_command": float(v) for c, v in zip(("vx", "vy", "yaw"), script[k]["command"])},
            **{c: float(v) for c, v in zip(("vx", "vy", "yaw"), mine)},
            **{f"{c}_in_process": float(v) for c, v in zip(("vx", "vy", "yaw"), theirs)},
            "velocity_gap": float(np.max(np.abs(mine - theirs)[:2])),
        }
    return {"metrics": metrics, "commands": commands, "loop": {k: loop[k] for k in ("stop", "counts", "events", "link")},
            "server": {"fell_at_s": server["fell_at_s"], "realtime": server["realtime"], "commands": {
                k: v for k, v in server["commands"].items() if k != "modes"}, "states": server["states"]}}  # fmt: skip


def run_deploy(
    bundle: Path, cfg: DeployConfig, seed: int, references: dict[str, Any], episodes: int = 8
) -> dict[str, Any]:
    """One deploy scenario's report section (metrics, per-command tracking, loop and link counts)."""
    t0 = time.perf_counter()
    script = operator_script(cfg)
    key = json.dumps([script, cfg.measure_s])
    if key not in references:  # scenarios with the same script share one in-process reference
        references[key] = reference(bundle, script, cfg.measure_s, episodes, seed)
    result = measure(fly(bundle, cfg, seed), references[key], cfg)
    result["seconds"] = time.perf_counter() - t0
    return result
