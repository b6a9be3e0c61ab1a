"""validate.py on a small trained policy: reports, gates, determinism, scenarios, video, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from sim.config import ScenarioConfig, ValidateConfig, register
from sim.policy import load_policy
from sim.runner import run_scenario, scenario_task
from sim.validate import evaluate
from tests.conftest import REPO, run_script

FAST = ["episodes=5", "episode_s=1.0", "warmup_s=0.2"]


@pytest.fixture(scope="module")
def quad_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("val") / "quad"
    run_script("train.py", "total_timesteps=1024", "num_envs=32", "algo.hyperparams.batch_size=256", "eval_every=0",
               "checkpoint_every=0", "progress=false", f"hydra.run.dir={run_dir}", check=True)  # fmt: skip
    return run_dir


def vconfig(*overrides: str) -> ValidateConfig:
    register()
    with initialize_config_dir(str(REPO / "configs"), version_base="1.3"):
        cfg = compose("validate", overrides=list(overrides))
    return OmegaConf.to_object(cfg)


def test_report_json_validates_and_is_deterministic(quad_run, tmp_path):
    cfg = vconfig(f"policy={quad_run}", "suite=robustness", "scenarios=[payload,latency_20ms]", *FAST, "video=false")
    first = evaluate(cfg, tmp_path / "a")
    second = evaluate(cfg, tmp_path / "b")
    schema = json.loads((REPO / "sim" / "report.schema.json").read_text())
    written = json.loads((tmp_path / "a" / "report.json").read_text())
    jsonschema.validate(written, schema)
    assert list(written["scenarios"]) == ["payload", "latency_20ms"]

    def numbers(report):
        return {k: {m: v for m, v in sc.items() if m != "seconds"} for k, sc in report["scenarios"].items()}

    assert numbers(first) == numbers(second)
    assert set(written["scenarios"]["payload"]["commands"]) == {"forward", "lateral", "turning", "standing", "mixed"}
    for name in ("report.md", "report.html", "plots/fall_rate.png"):
        assert (tmp_path / "a" / name).is_file()


def test_gate_that_must_fail_exits_1_and_passing_gates_exit_0(quad_run, tmp_path):
    failing = run_script("validate.py", f"policy={quad_run}", *FAST, "video=false", "gates=['episode_length<=0.0']",
                         f"hydra.run.dir={tmp_path / 'f'}")  # fmt: skip
    assert failing.returncode == 1 and "FAIL" in failing.stdout and "episode_length<=0" in failing.stdout
    report = json.loads((tmp_path / "f" / "report.json").read_text())
    assert report["gates_passed"] is False
    passing = run_script("validate.py", f"policy={quad_run}", *FAST, "video=false", "suite.scenarios.nominal.gates=[]",
                         "gates=['fall_rate<=1.0']", f"hydra.run.dir={tmp_path / 'p'}")  # fmt: skip
    assert passing.returncode == 0, passing.stdout + passing.stderr


def test_every_scenario_changes_the_simulation(quad_run):
    cfg = vconfig(f"policy={quad_run}", "suite=full", *FAST)
    train_cfg = load_policy(quad_run).cfg
    from envs.task import LocomotionTask
    from sim.runner import model_fingerprint

    nominal = model_fingerprint(LocomotionTask(scenario_task(train_cfg, ScenarioConfig(), cfg), num_envs=2, seed=0))
    for name, scenario in cfg.suite.scenarios.items():
        if name == "nominal":
            continue
        task = LocomotionTask(scenario_task(train_cfg, scenario, cfg), num_envs=2, seed=0)
        changed = (
            model_fingerprint(task) != nominal
            or task.cfg.obs_noise_scale > 0
            or "push" in task.events.timers
        )
        assert changed, f"scenario {name} runs the nominal simulation"
    assert len(cfg.suite.scenarios) == 16


class ZeroPolicy:
    obs_dim = 45
    source = {"kind": "run", "path": "zero"}

    def __call__(self, obs):
        return np.zeros((len(obs), 12))


def test_a_policy_of_zeros_does_not_walk(quad_run):
    cfg = vconfig(f"policy={quad_run}", "episodes=10", "episode_s=3.0")
    train_cfg = load_policy(quad_run).cfg
    result = run_scenario(
        ZeroPolicy(), scenario_task(train_cfg, ScenarioConfig(), cfg), 10, 0, 1.0, list(cfg.commands)
    )
    forward = result["commands"]["forward"]
    assert forward["fall_rate"] > 0.5 or forward["vx_rmse"] > 0.6, forward
    assert result["commands"]["standing"]["vx_rmse"] < 0.2


def test_video_is_made(quad_run, tmp_path):
    result = run_script("validate.py", f"policy={quad_run}", *FAST, "video_s=2.0", f"hydra.run.dir={tmp_path}")
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["video"]["made"], report["video"]["reason"]
    import imageio.v3 as iio

    frames = iio.imread(tmp_path / report["video"]["path"])
    assert frames.shape[0] == 100 and frames.shape[-1] == 3 and frames.std() > 1.0
    assert result.returncode in (0, 1)


def test_gym_benchmark_policy(tmp_path):
    run_dir = tmp_path / "hopper"
    run_script("train.py", "env=hopper", "algo=ppo_sb3", "+algo.hyperparams.n_steps=256", "total_timesteps=256", "num_envs=1",
               "eval_every=0", "checkpoint_every=0", "progress=false", f"hydra.run.dir={run_dir}", check=True)  # fmt: skip
    result = run_script(
        "validate.py",
        f"policy={run_dir}",
        "episodes=3",
        "gates=['return_mean>=-1000']",
        f"hydra.run.dir={tmp_path / 'v'}",
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "v" / "report.json").read_text())["scenarios"]["nominal"]["metrics"]
    assert set(metrics) == {"return_mean", "return_std", "episode_length"} and metrics["episode_length"] > 0


@pytest.mark.parametrize("args,expected", [
    (["policy=/nonexistent/run"], "error: policy: '/nonexistent/run' is neither a run directory"),
    (["suite=moon"], "Could not find 'suite/moon'"),
    (["scenarios=[nominal,mars]"], "error: scenarios: unknown scenario(s) ['mars'] in suite 'nominal'"),
    (["gates=['fall_rate<=abc']"], "error: gates: 'abc' in 'fall_rate<=abc' is not a number"),
    (["gates=['speed<=1']"], "error: gates: unknown metric 'speed'"),
])  # fmt: skip
def test_bad_input_one_line_and_nothing_written(quad_run, tmp_path, args, expected):
    policy = [] if any(a.startswith("policy=") for a in args) else [f"policy={quad_run}"]
    out = tmp_path / "out"
    result = run_script("validate.py", *policy, *args, *FAST, f"hydra.run.dir={out}")
    assert result.returncode == 2 and expected in result.stderr, result.stderr
    assert not out.exists()


def test_observation_size_mismatch(quad_run):
    cfg = vconfig(f"policy={quad_run}", *FAST)
    train_cfg = load_policy(quad_run).cfg

    class Wide(ZeroPolicy):
        obs_dim = 48

    with pytest.raises(ValueError, match="policy: it takes 48 observations but the env gives 45"):
        run_scenario(Wide(), scenario_task(train_cfg, ScenarioConfig(), cfg), 2, 0, 0.2, list(cfg.commands))
