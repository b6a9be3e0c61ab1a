"""Fly a policy through a suite's scenarios: all episodes of a scenario in one batch, on all cores."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from envs import presets, task_config
from envs.config import EventTermConfig, SimConfig, TaskConfig, TerrainConfig
from envs.mdp.commands import VelocityCommand
from envs.rollout import check_obs_size, rollout
from envs.task import LocomotionTask
from sim import deploy, levels
from sim import metrics as M
from sim.config import ScenarioConfig, ValidateConfig
from sim.deploy import DEPLOY_METRICS
from sim.gates import Gate, parse
from sim.policy import Policy

LOCO_METRICS = ["fall_rate", "episode_length", "vx_rmse", "vy_rmse", "yaw_rmse", "speed_ratio", "return",
                "cost_of_transport", "torque_saturation", "joint_limit_hits", "action_rate", "foot_slip", "highest_level_up",
                "highest_level_down", "highest_difficulty_up", "highest_difficulty_down"]  # fmt: skip
GYM_METRICS = ["return_mean", "return_std", "episode_length"]


def scenario_task(train_cfg: DictConfig, scenario: ScenarioConfig, vcfg: ValidateConfig) -> TaskConfig:
    """The task config of one scenario: the policy's training setup, nominal physics (the `none` randomization
    preset, no curriculum), the command sweep, then the scenario's changes."""
    cfg = task_config(train_cfg)
    env = cfg.env
    changes = {**scenario.sim, "episode_length_s": vcfg.episode_s, "nthread": vcfg.nthread}
    env.sim = presets.typed(changes, SimConfig, "scenario.sim", base=env.sim)
    if "velocity" not in env.commands:
        raise ValueError(f"policy: its task has no velocity command to sweep; commands: {list(env.commands)}")
    sweep = scenario.commands or vcfg.commands
    velocity = env.commands["velocity"].params
    flown = trained_commands(velocity, sweep.values()) if vcfg.clip_commands else sweep.values()
    velocity["fixed"] = [list(map(float, c)) for c in flown]
    env.events, noise = presets.randomization("none")
    for name, change in scenario.events.items():
        base = env.events.get(name, EventTermConfig())
        env.events[name] = presets.typed(change, EventTermConfig, f"scenario.events.{name}", base=base)
    env.obs_noise_scale = noise if scenario.obs_noise_scale is None else scenario.obs_noise_scale
    if vcfg.extra_action_delay_ms > 0:  # e.g. a device's inference latency on top of the scenario's own delay
        delay = env.events.setdefault("action_delay", EventTermConfig())
        low, high = delay.params.get("range_ms") or [0.0, 0.0]
        cap = 1000.0 * env.sim.physics_dt * env.sim.decimation  # the task models delays of up to one policy step
        delay.params["range_ms"] = [
            min(low + vcfg.extra_action_delay_ms, cap),
            min(high + vcfg.extra_action_delay_ms, cap),
        ]
    env.curriculum = {}
    terrain = presets.typed(dict(scenario.terrain), TerrainConfig, "scenario.terrain", base=cfg.terrain)
    return TaskConfig(env=env, robot=cfg.robot, terrain=terrain)


def trained_commands(params: Mapping[str, Any], sweep: Iterable[Sequence[float]]) -> list[list[float]]:
    """Each command (vx, vy, yaw rate) clipped to the velocity command's training ranges (`params`): validation
    asks a policy for what it was trained to do."""
    low, high = VelocityCommand.ranges(params)
    return np.clip(np.asarray(list(sweep), dtype=np.float64).reshape(-1, 3), low, high).tolist()


def run_scenario(policy: Policy, cfg: TaskConfig, episodes: int, seed: int, warmup_s: float,
                 command_names: list[str], by_level: bool = False) -> dict[str, Any]:  # fmt: skip
    """One episode per environment; metrics for the scenario and for each command of the sweep (and, with
    by_level, for each terrain level and direction)."""
    task = LocomotionTask(cfg, num_envs=episodes, seed=seed)
    check_obs_size(policy, task)
    if by_level:
        levels.spread(task, len(command_names))
    first_obs = task.reset()
    sc, n = task.scene, episodes
    start_xy = task.qpos[:, sc.root_qpos : sc.root_qpos + 2].copy()
    traj: dict[str, list] = {
        k: []
        for k in ("command", "lin", "ang", "action", "torque", "qvel", "qpos", "reward", "feet", "contact", "alive")
    }
    alive, fell = np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
    end_xy = start_xy.copy()
    # each episode's own randomized values, read before any episode ends and re-randomizes its simulation
    mass, limit = robot_mass(task), np.array(task.torque_limits())
    for step in rollout(policy, task, task.max_episode_steps, first_obs):
        s, result = step.state, step.result
        for key, value in (("command", step.command), ("lin", s.base_lin_vel), ("ang", s.base_ang_vel), ("action", s.action),
                           ("torque", s.torque), ("qvel", s.joint_vel), ("qpos", s.joint_pos), ("reward", result.reward),
                           ("feet", sc.foot_positions(task.batch)[:, :, :2]), ("contact", s.feet_contact),
                           ("alive", alive.copy())):  # fmt: skip
            traj[key].append(np.array(value, copy=True))
        end_xy[alive] = s.base_pos[alive, :2]
        fell |= alive & result.terminated
        alive &= ~(result.terminated | result.truncated)
        if not alive.any():
            break
    t = {k: np.stack(v) for k, v in traj.items()}
    warm = t["alive"] & (np.arange(len(t["alive"]))[:, None] >= int(round(warmup_s / task.dt)))
    distance = np.linalg.norm(end_xy - start_xy, axis=1)
    limit = np.broadcast_to(limit, t["torque"].shape[1:])

    def measure(cols: np.ndarray) -> dict[str, float]:
        a, w = t["alive"][:, cols], warm[:, cols]
        return {
            "fall_rate": M.fall_rate(fell[cols]),
            "episode_length": M.mean_episode_length(a, task.dt),
            "vx_rmse": M.tracking_rmse(t["command"][:, cols, 0], t["lin"][:, cols, 0], w),
            "vy_rmse": M.tracking_rmse(t["command"][:, cols, 1], t["lin"][:, cols, 1], w),
            "yaw_rmse": M.tracking_rmse(t["command"][:, cols, 2], t["ang"][:, cols, 2], w),
            "speed_ratio": M.speed_ratio(t["command"][:, cols, :2], t["lin"][:, cols, :2], w),
            "return": M.episode_return(t["reward"][:, cols], a),
            "cost_of_transport": M.cost_of_transport(
                t["torque"][:, cols], t["qvel"][:, cols], distance[cols], mass[cols], task.dt, a
            ),
            "torque_saturation": M.torque_saturation(t["torque"][:, cols], limit[cols], a),
            "joint_limit_hits": M.joint_limit_hits(t["qpos"][:, cols], sc.joint_range, a),
            "action_rate": M.action_rate(t["action"][:, cols], a),
            "foot_slip": M.foot_slip(t["feet"][:, cols], t["contact"][:, cols], a, task.dt),
        }

    which = np.arange(n) % len(command_names)
    extra: dict[str, Any] = {}
    metrics = measure(np.arange(n))
    if by_level:
        extra["levels"], highest = levels.by_level(task, measure)
        metrics.update(highest)
    return {
        **extra,
        "metrics": metrics,
        "commands": {
            name: measure(np.flatnonzero(which == i)) for i, name in enumerate(command_names) if (which == i).any()
        },
        "flown_commands": dict(zip(command_names, map(list, cfg.env.commands["velocity"].params["fixed"]))),
        "model": model_fingerprint(task),
    }


def robot_mass(task: LocomotionTask) -> np.ndarray:
    """Each simulation's robot mass (kg) as randomized now: a payload scenario carries more."""
    subtree = task.batch.expanded("body_subtreemass")
    base = task.scene.base_body
    if subtree is None:
        return np.full(task.num_envs, float(task.model.body_subtreemass[base]))
    return np.array(subtree[:, base])


def model_fingerprint(task: Any) -> dict[str, float]:
    """A few physical values of a scenario's simulation, to show what the scenario changed."""
    b, sc = task.batch, task.scene
    friction, mass, gain = b.expanded("geom_friction"), b.expanded("body_mass"), b.expanded("actuator_gainprm")
    return {
        "timestep": float(task.model.opt.timestep),
        "decimation": int(task.decimation),
        "integrator": int(task.model.opt.integrator),
        "solver": int(task.model.opt.solver),
        "cone": int(task.model.opt.cone),
        "mean_friction": float(np.mean(friction[:, sc.foot_geoms, 0]))
        if friction is not None
        else float(np.mean(task.model.geom_friction[sc.foot_geoms, 0])),
        "mean_base_mass": float(np.mean(mass[:, sc.base_body]))
        if mass is not None
        else float(task.model.body_mass[sc.base_body]),
        "mean_kp": float(np.mean(gain[:, :, 0] if gain is not None else task.model.actuator_gainprm[:, 0])),
        "mean_action_delay_steps": float(task.action_delay.mean()),
        "terrain": task.terrain.cfg.kind,
    }


def gates_for(vcfg: ValidateConfig, scenarios: list[str], metric_names: list[str]) -> dict[str, list[Gate]]:
    """Each scenario's gates: the suite's, the command line's, and its own."""
    suite_wide = [parse(g, metric_names, scenarios) for g in [*vcfg.suite.gates, *vcfg.gates]]
    out = {}
    for name in scenarios:
        own = [parse(g, metric_names, scenarios) for g in vcfg.suite.scenarios[name].gates]
        out[name] = [g for g in suite_wide + own if g.scenario in (None, name)]
    return out


def clean(value: Any) -> Any:
    """JSON-safe numbers: NaN and inf become None."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def run_suite(policy: Policy, train_cfg: DictConfig, vcfg: ValidateConfig) -> dict[str, Any]:
    """Every selected scenario of the suite; the report's scenarios section with gate verdicts."""
    names = list(vcfg.suite.scenarios)
    if vcfg.scenarios:
        unknown = [s for s in vcfg.scenarios if s not in names]
        if unknown:
            raise ValueError(
                f"scenarios: unknown scenario(s) {unknown} in suite '{vcfg.suite.name}'; accepted: {', '.join(names)}"
            )
        names = [s for s in names if s in vcfg.scenarios]
    if not names:
        raise ValueError(f"suite '{vcfg.suite.name}' has no scenarios")
    deploys = [n for n in names if vcfg.suite.scenarios[n].deploy is not None]
    gates = gates_for(vcfg, names, LOCO_METRICS + [m for m in DEPLOY_METRICS if m not in LOCO_METRICS])
    if deploys and policy.source.get("kind") != "bundle":
        raise ValueError(f"policy: scenarios {deploys} fly a bundle through its robot_loop.py; give "
                         "policy=<bundle_dir> (from export.py)")  # fmt: skip
    for name in deploys:
        deploy.check(vcfg.suite.scenarios[name].deploy, f"suite.scenarios.{name}")
    parts = {name: scenario_task(train_cfg, vcfg.suite.scenarios[name], vcfg) for name in names if name not in deploys}
    report, references = {}, {}
    for name in names:
        t0 = time.perf_counter()
        if name in deploys:
            result = deploy.run_deploy(Path(policy.source["path"]), vcfg.suite.scenarios[name].deploy, vcfg.seed,
                                       references)  # fmt: skip
        else:
            scenario = vcfg.suite.scenarios[name]
            result = run_scenario(policy, parts[name], scenario.episodes or vcfg.episodes, vcfg.seed, vcfg.warmup_s,
                                  list(scenario.commands or vcfg.commands), by_level=scenario.levels)  # fmt: skip
        verdicts = [{"gate": str(g), "value": result["metrics"][g.metric], "passed": g.check(result["metrics"][g.metric])}
                    for g in gates[name]]  # fmt: skip
        scenario = vcfg.suite.scenarios[name]
        report[name] = {
            "description": scenario.description,
            "changes": {
                "events": OmegaConf.to_container(OmegaConf.create(dict(scenario.events))),
                "obs_noise_scale": scenario.obs_noise_scale,
                "terrain": dict(scenario.terrain),
                "sim": dict(scenario.sim),
                "deploy": None if scenario.deploy is None else dataclasses.asdict(scenario.deploy),
            },
            **result,
            "gates": verdicts,
            "passed": all(v["passed"] for v in verdicts),
            "seconds": time.perf_counter() - t0,
        }
    return report


def run_gym(policy: Any, vcfg: ValidateConfig) -> dict[str, Any]:
    """Gymnasium benchmark envs: return mean ± std and episode length over deterministic episodes."""
    import gymnasium as gym
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    t0 = time.perf_counter()
    cfg = policy.cfg
    kwargs = OmegaConf.to_container(cfg.env.kwargs, resolve=True)
    env = DummyVecEnv([lambda: Monitor(gym.make(cfg.env.id, **kwargs))])
    env.seed(vcfg.seed)
    if policy.vecnormalize is not None:
        norm = policy.vecnormalize
        norm.set_venv(env)
        norm.training, norm.norm_reward = False, False
        env = norm
    returns, lengths = evaluate_policy(
        policy.model, env, n_eval_episodes=vcfg.episodes, deterministic=True, return_episode_rewards=True
    )
    metrics = {
        "return_mean": float(np.mean(returns)),
        "return_std": float(np.std(returns)),
        "episode_length": float(np.mean(lengths)),
    }
    gates = [parse(g, GYM_METRICS, ["nominal"]) for g in [*vcfg.suite.gates, *vcfg.gates]]
    verdicts = [{"gate": str(g), "value": metrics[g.metric], "passed": g.check(metrics[g.metric])} for g in gates]
    return {"nominal": {"description": f"{cfg.env.id}, {vcfg.episodes} deterministic episodes", "changes": {},
                        "metrics": metrics, "commands": {}, "model": {}, "gates": verdicts,
                        "passed": all(v["passed"] for v in verdicts), "seconds": time.perf_counter() - t0}}  # fmt: skip
