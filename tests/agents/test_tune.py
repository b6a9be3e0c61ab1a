"""The hyperparameter search (+sweep=): trials, walking checks as reports, pruning, the results table and the
best trial as an experiment config that composes back."""

from __future__ import annotations

import csv

import optuna
import pytest

from agents.tune import apply, check, make_objective, tune
from tests.conftest import compose_train

TINY_SWEEP = ("+sweep=quadruped_ppo", "sweep.study=tiny", "sweep.n_trials=3", "sweep.budget=1536", "sweep.report_every=768",
              "sweep.check_episodes=4", "sweep.check_episode_s=1.0", "sweep.startup_trials=1", "num_envs=32",
              "env.sim.episode_length_s=2.0", "sweep.params={algo.hyperparams.learning_rate: {type: float, low: 1.0e-4, "
              "high: 1.0e-3, log: true}, algo.policy_kwargs.net_arch: {type: categorical, choices: ['64,64', '32']}, "
              "algo.hyperparams.batch_size: {type: categorical, choices: [256, 512]}}")  # fmt: skip


def test_a_sweep_writes_every_trial_and_the_best_as_an_experiment(tmp_path):
    cfg = compose_train(*TINY_SWEEP, f"sweep.storage={tmp_path / 'sweeps' / 'tiny.log'}")
    result = tune(cfg, tmp_path / "out")
    assert result["trials"] == 3 and result["complete"] >= 1
    with open(result["table"]) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["trial"]) for r in rows] == [0, 1, 2]
    assert {r["state"] for r in rows} <= {"COMPLETE", "PRUNED"} and all(r["run_dir"] for r in rows)
    best = result["best"]
    assert best["value"] == min(float(r["value"]) for r in rows if r["state"] == "COMPLETE")
    again = compose_train(f"hydra.searchpath=[file://{tmp_path / 'sweeps'}]", "+experiment=tiny_best")
    assert again.algo.hyperparams.learning_rate == pytest.approx(best["params"]["algo.hyperparams.learning_rate"])
    layers = [int(v) for v in best["params"]["algo.policy_kwargs.net_arch"].split(",")]
    assert list(again.algo.policy_kwargs.net_arch.pi) == layers == list(again.algo.policy_kwargs.net_arch.vf)
    # a second worker on the same journal continues the same study
    assert tune(compose_train(*TINY_SWEEP, "sweep.n_trials=1", f"sweep.storage={tmp_path / 'sweeps' / 'tiny.log'}"),
                tmp_path / "out2")["trials"] == 4  # fmt: skip


def test_the_pruner_stops_a_trial_at_its_walking_check(tmp_path):
    cfg = compose_train(*TINY_SWEEP)
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=-1.0))  # every score is >= 0: prune
    study.optimize(make_objective(cfg, tmp_path), n_trials=1)
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert list(trial.intermediate_values) == [768] and trial.user_attrs["steps_done"] < 1536


@pytest.mark.parametrize("change,expected", [
    ({"objective": "fastest"}, "sweep.objective: unknown 'fastest'; accepted: tracking, time_to_walk"),
    ({"params": {"a.b": {"type": "log"}}}, "sweep.params.a.b.type: 'log'; accepted: float, int, categorical"),
    ({"params": {"a.b": {"type": "float", "low": 2, "high": 1}}}, "sweep.params.a.b: give low <= high"),
    ({"budget": 0}, "sweep.n_trials, sweep.budget, sweep.report_every and sweep.check_episodes: must be >= 1"),
])  # fmt: skip
def test_a_sweep_that_cannot_run_is_one_line(change, expected):
    from omegaconf import OmegaConf

    sweep = OmegaConf.to_container(compose_train("+sweep=quadruped_ppo").sweep)
    sweep.update(change)
    with pytest.raises(ValueError) as err:
        check(OmegaConf.create(sweep))
    assert str(err.value) == expected


def test_sampled_values_land_in_the_config():
    cfg = apply(compose_train(), {"algo.hyperparams.n_epochs": 3, "algo.policy_kwargs.net_arch": "512,256"})
    assert cfg.algo.hyperparams.n_epochs == 3 and list(cfg.algo.policy_kwargs.net_arch.pi) == [512, 256]


@pytest.mark.slow
def test_a_study_of_eight_trials_and_its_best_yaml_reproduces_the_best_trial(tmp_path):
    from agents.trainer import train
    from agents.tune import ReportCallback

    storage = tmp_path / "sweeps" / "tiny.log"
    result = tune(compose_train(*TINY_SWEEP, "sweep.n_trials=8", "sweep.startup_trials=3", f"sweep.storage={storage}"),
                  tmp_path / "out")  # fmt: skip
    assert result["trials"] == 8 and result["complete"] >= 3
    best = compose_train(f"hydra.searchpath=[file://{tmp_path / 'sweeps'}]", "+experiment=tiny_best", "num_envs=32",
                         "env.sim.episode_length_s=2.0", "total_timesteps=1536", "eval_every=0", "walk_check_episodes=0",
                         "progress=false")  # fmt: skip

    class Record:  # an Optuna trial that only records
        number, values = 0, []

        def report(self, value, step):
            self.values.append(value)

        def should_prune(self):
            return False

    reporter = ReportCallback(Record(), best, 768, 4, 1.0)
    train(best, tmp_path / "again", callbacks=[reporter])
    assert reporter.reports[-1][1] == pytest.approx(result["best"]["value"], rel=1e-9)
