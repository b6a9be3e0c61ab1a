"""Hyperparameter search: `python train.py +sweep=quadruped_ppo`. Optuna's TPE samples the sweep's params, each
trial trains for `budget` steps, a walking check every `report_every` steps scores it and feeds Optuna's median
pruner; the results table and the best trial as an experiment config (`+experiment=`) are written at the end.

Hydra's own Optuna sweeper serves only Optuna 2 and cannot prune, hence this small integration. Workers that
share the journal file share the study: run several with Hydra's joblib or submitit launcher."""

from __future__ import annotations

import copy
import csv
import logging
import math
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from stable_baselines3.common.callbacks import BaseCallback

log = logging.getLogger(__name__)
OBJECTIVES = ("tracking", "time_to_walk")
TYPES = ("float", "int", "categorical")


def check(sweep: Any) -> None:
    """Refuse a sweep that cannot run, before any trial: one line naming the field."""
    if sweep.objective not in OBJECTIVES:
        raise ValueError(f"sweep.objective: unknown '{sweep.objective}'; accepted: {', '.join(OBJECTIVES)}")
    if sweep.n_trials < 1 or sweep.budget < 1 or sweep.report_every < 1 or sweep.check_episodes < 1:
        raise ValueError("sweep.n_trials, sweep.budget, sweep.report_every and sweep.check_episodes: must be >= 1")
    if not sweep.params:
        raise ValueError("sweep.params: empty; give {dotted.key: {type: float|int|categorical, ...}}")
    for key, spec in sweep.params.items():
        kind = spec.get("type")
        if kind not in TYPES:
            raise ValueError(f"sweep.params.{key}.type: '{kind}'; accepted: {', '.join(TYPES)}")
        if kind == "categorical" and not spec.get("choices"):
            raise ValueError(f"sweep.params.{key}.choices: give the values to choose from")
        if kind != "categorical" and not spec.get("low", math.inf) <= spec.get("high", -math.inf):
            raise ValueError(f"sweep.params.{key}: give low <= high")


def suggest(trial: Any, key: str, spec: dict) -> Any:
    """One parameter of a trial, as the spec says."""
    if spec["type"] == "float":
        return trial.suggest_float(key, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log", False)))
    if spec["type"] == "int":
        return trial.suggest_int(key, int(spec["low"]), int(spec["high"]), log=bool(spec.get("log", False)))
    return trial.suggest_categorical(key, list(spec["choices"]))


def apply(cfg: DictConfig, params: dict[str, Any]) -> DictConfig:
    """A trial's config: the sweep's config with the sampled values set (a net_arch "256,128,64" becomes the
    same layers for actor and critic)."""
    out = copy.deepcopy(cfg)
    for key, value in params.items():
        if key.endswith("net_arch") and isinstance(value, str):
            layers = [int(v) for v in value.split(",")]
            value = {"pi": layers, "vf": layers}
        OmegaConf.update(out, key, value, force_add=True)
    return out


def score(check: Any) -> float:
    """Lower is better: vx + vy RMSE plus twice the share of episodes that fell."""
    return float(check.vx_rmse + check.vy_rmse + 2.0 * (1.0 - check.fall_free_share))


class ReportCallback(BaseCallback):
    """Every `every` steps: the walking check on the policy being trained, reported to the trial; stops the
    training when the pruner says so (the objective then marks the trial pruned)."""

    def __init__(self, trial: Any, cfg: DictConfig, every: int, episodes: int, episode_s: float) -> None:
        super().__init__()
        self.trial, self.cfg, self.every, self.episodes, self.episode_s = trial, cfg, every, episodes, episode_s
        self.next = every
        self.pruned = False
        self.reports: list[tuple[int, float, bool]] = []
        """(step, score, walks) of each check."""

    def check_now(self) -> Any:
        from stable_baselines3.common.vec_env import VecNormalize

        from agents.policy import SB3Policy
        from envs import task_config
        from envs.tracking import track_velocity

        env = self.model.get_env()
        policy = SB3Policy.live(self.model, env if isinstance(env, VecNormalize) else None, self.cfg)
        return track_velocity(policy, task_config(self.cfg), episodes=self.episodes, episode_s=self.episode_s,
                              warmup_s=min(1.0, self.episode_s / 2))  # fmt: skip

    def _on_step(self) -> bool:
        if self.num_timesteps < self.next:
            return True
        self.next += self.every
        result = self.check_now()
        value = score(result)
        self.reports.append((int(self.num_timesteps), value, result.walks))
        self.trial.report(value, int(self.num_timesteps))
        log.info(f"trial {self.trial.number} at {self.num_timesteps}: {result.line()}")
        if self.trial.should_prune():
            self.pruned = True
            return False
        return True


def objective_value(objective: str, reports: list[tuple[int, float, bool]], budget: int) -> float:
    """The trial's value: the last check's score (tracking) or the steps until a check first walked
    (time_to_walk; a trial that never walked counts as twice the budget plus its last score)."""
    if not reports:
        return math.inf
    if objective == "time_to_walk":
        walked = [step for step, _, walks in reports if walks]
        return float(walked[0]) if walked else 2.0 * budget + reports[-1][1]
    return reports[-1][1]


def tune(cfg: DictConfig, out: Path) -> dict[str, Any]:
    """Run this worker's trials of the study; write the results table and the best config; return them."""
    try:
        import optuna
    except ImportError:
        raise ValueError("sweep: needs optuna (pip install 'optuna>=4', or locoforge[tune])") from None
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    sweep = cfg.sweep
    check(sweep)
    storage_path = Path(sweep.storage or f"outputs/sweeps/{sweep.study}.log")
    storage_path.parent.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name=sweep.study, storage=JournalStorage(JournalFileBackend(str(storage_path))), direction="minimize",
        load_if_exists=True, sampler=optuna.samplers.TPESampler(seed=sweep.seed + cfg.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=sweep.startup_trials, n_warmup_steps=sweep.report_every),
    )  # fmt: skip
    study.optimize(make_objective(cfg, out), n_trials=sweep.n_trials, catch=(ValueError,))
    return write_results(study, sweep, storage_path.parent)


def make_objective(cfg: DictConfig, out: Path) -> Any:
    """Optuna's objective for the sweep of `cfg`: sample, train into out/trial_<n>, report, prune."""
    import optuna

    from agents.trainer import train

    sweep = cfg.sweep
    base = copy.deepcopy(cfg)
    OmegaConf.update(base, "sweep", None, force_add=True)
    base.total_timesteps, base.eval_every, base.walk_check_episodes, base.progress = sweep.budget, 0, 0, False

    def objective(trial: Any) -> float:
        params = {key: suggest(trial, key, dict(spec)) for key, spec in sweep.params.items()}
        trial_cfg = apply(base, params)
        reporter = ReportCallback(trial, trial_cfg, sweep.report_every, sweep.check_episodes, sweep.check_episode_s)
        run_dir = out / f"trial_{trial.number:03d}"
        run = train(trial_cfg, run_dir, callbacks=[reporter])
        trial.set_user_attr("run_dir", str(run_dir))
        trial.set_user_attr("steps_done", run["steps_done"])
        if reporter.pruned:
            raise optuna.TrialPruned()
        return objective_value(sweep.objective, reporter.reports, sweep.budget)

    return objective


def write_results(study: Any, sweep: Any, where: Path) -> dict[str, Any]:
    """`<study>_results.csv` (every trial) and `experiment/<study>_best.yaml` (the best as an experiment)."""
    import optuna

    rows = [{"trial": t.number, "state": t.state.name, "value": t.value, **t.params,
             "run_dir": t.user_attrs.get("run_dir", "")} for t in study.trials]  # fmt: skip
    table = where / f"{sweep.study}_results.csv"
    with open(table, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=sorted({k for r in rows for k in r}, key=lambda k: (k != "trial", k)))
        writer.writeheader()
        writer.writerows(rows)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    result: dict[str, Any] = {"table": str(table), "trials": len(rows), "complete": len(complete), "best": None}
    if complete:
        best = study.best_trial
        cfg = apply(OmegaConf.create({}), best.params)
        body = OmegaConf.to_yaml(cfg)
        path = where / "experiment" / f"{sweep.study}_best.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# @package _global_\n# best of study {sweep.study}: trial {best.number}, {sweep.objective} "
                        f"{best.value:.4g}\n# python train.py --config-dir {where} +experiment={sweep.study}_best\n{body}")  # fmt: skip
        result.update(best={"trial": best.number, "value": best.value, "params": best.params}, experiment=str(path))
    return result
