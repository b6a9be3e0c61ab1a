"""Validation on a small trained policy: reports, gates, determinism, scenarios, video, Gymnasium benchmarks,
bad input (in-process), and the validate.py smoke test (exit codes 0, 1 and 2)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from omegaconf import OmegaConf

from sim.config import ScenarioConfig, ValidateConfig, register
from sim.policy import load_policy
from sim.runner import run_scenario, scenario_task
from sim.validate import evaluate
from tests.conftest import REPO, run_script, train_in_process

FAST = ["episodes=5", "episode_s=1.0", "warmup_s=0.2"]


@pytest.fixture(scope="module")
def quad_run(tmp_path_factory) -> Path:
    return train_in_process(tmp_path_factory.mktemp("val") / "quad", "total_timesteps=1024", "num_envs=32",
                            "algo.hyperparams.batch_size=256", "eval_every=0", "checkpoint_every=0")  # fmt: skip


def vconfig(*overrides: str) -> ValidateConfig:
    from common.configs import compose

    register()
    return OmegaConf.to_object(compose("validate", list(overrides)))


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
    # the quadruped trained on vy within +-0.75: the sweep flies as written
    assert written["scenarios"]["payload"]["flown_commands"]["lateral"] == [0.0, 0.5, 0.0]
    assert (
        written["scenarios"]["payload"]["model"]["mean_base_mass"]
        > first["scenarios"]["latency_20ms"]["model"]["mean_base_mass"] + 2.9
    )
    for name in ("report.md", "report.html", "plots/fall_rate.png"):
        assert (tmp_path / "a" / name).is_file()


def test_validate_py_smoke(quad_run, tmp_path):
    """The command line: a gate that must fail exits 1, passing gates exit 0, bad input exits 2 writing nothing."""
    failing = run_script("validate.py", f"policy={quad_run}", *FAST, "video=false", "gates=['episode_length<=0.0']",
                         f"hydra.run.dir={tmp_path / 'f'}")  # fmt: skip
    assert failing.returncode == 1 and "FAIL" in failing.stdout and "episode_length<=0" in failing.stdout
    assert json.loads((tmp_path / "f" / "report.json").read_text())["gates_passed"] is False
    passing = run_script("validate.py", f"policy={quad_run}", *FAST, "video=false", "suite.scenarios.nominal.gates=[]",
                         "gates=['fall_rate<=1.0']", f"hydra.run.dir={tmp_path / 'p'}")  # fmt: skip
    assert passing.returncode == 0, passing.stdout + passing.stderr
    for args, expected in (
        (["suite=moon"], "Could not find 'suite/moon'"),
        (["gates=['fall_rate<=abc']"], "error: gates:"),
    ):
        bad = run_script("validate.py", f"policy={quad_run}", *args, *FAST, f"hydra.run.dir={tmp_path / 'bad'}")
        assert bad.returncode == 2 and expected in bad.stderr, bad.stderr
        assert not (tmp_path / "bad").exists()


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
        changed = model_fingerprint(task) != nominal or task.cfg.obs_noise_scale > 0 or "push" in task.events.timers
        assert changed, f"scenario {name} runs the nominal simulation"
    assert len(cfg.suite.scenarios) == 17


def test_the_sweep_asks_only_for_commands_the_policy_trained_on(quad_run):
    # a policy trained for vy within +-0.3 m/s (the biped's range) is asked 0.3 where the sweep says 0.5
    train_cfg = load_policy(quad_run).cfg.copy()
    train_cfg.env.commands.velocity.params.vy = [-0.3, 0.3]
    train_cfg.env.commands.velocity.params.vx = [-0.5, 0.6]
    from envs.task import LocomotionTask

    flown = scenario_task(train_cfg, ScenarioConfig(), vconfig("policy=x")).env.commands["velocity"].params["fixed"]
    assert flown == [[0.6, 0.0, 0.0], [0.0, 0.3, 0.0], [0.0, 0.0, 0.8], [0.0, 0.0, 0.0], [0.5, -0.3, 0.5]]
    task = LocomotionTask(scenario_task(train_cfg, ScenarioConfig(), vconfig("policy=x")), num_envs=5, seed=0)
    task.reset()
    assert np.allclose(task.command, flown)  # what the episodes run under
    as_written = scenario_task(train_cfg, ScenarioConfig(), vconfig("policy=x", "clip_commands=false"))
    assert as_written.env.commands["velocity"].params["fixed"][:2] == [[0.8, 0.0, 0.0], [0.0, 0.5, 0.0]]


class ZeroPolicy:
    obs_dim = 45
    source = {"kind": "run", "path": "zero"}

    def __call__(self, obs):
        return np.zeros((len(obs), 12))


def test_a_policy_of_zeros_does_not_walk(quad_run):
    cfg = vconfig(f"policy={quad_run}", "episodes=10", "episode_s=3.0")
    train_cfg = load_policy(quad_run).cfg
    result = run_scenario(ZeroPolicy(), scenario_task(train_cfg, ScenarioConfig(), cfg), 10, 0, 1.0, list(cfg.commands))
    forward = result["commands"]["forward"]
    assert forward["fall_rate"] > 0.5 or forward["vx_rmse"] > 0.6, forward
    assert result["commands"]["standing"]["vx_rmse"] < 0.2


def test_videos_of_nominal_and_the_worst_scenario_carry_command_and_velocity(quad_run, tmp_path):
    report = evaluate(vconfig(f"policy={quad_run}", *FAST, "video_s=2.0", "suite=robustness",
                              "scenarios=[high_friction,weak_motors]"), tmp_path)  # fmt: skip
    assert report["video"]["made"], report["video"]["reason"]
    import imageio.v3 as iio

    frames = iio.imread(tmp_path / report["video"]["path"])
    assert frames.shape[0] == 100 and frames.shape[-1] == 3 and frames.std() > 1.0
    band, scene = frames[:, :40].astype(float), frames[:, 60:].astype(float)
    assert band.mean() < 60 < scene.mean()  # the dark text band of the overlay over a lit scene
    assert band.max() > 200  # with light text on it
    m = {n: report["scenarios"][n]["metrics"] for n in ("high_friction", "weak_motors")}
    worst = max(m, key=lambda n: (m[n]["fall_rate"], m[n]["vx_rmse"]))
    assert report["worst_video"]["made"] and report["worst_video"]["scenario"] == worst
    assert (tmp_path / f"worst_{worst}.mp4").is_file() and f"worst_{worst}.mp4" in (
        tmp_path / "report.html"
    ).read_text()


def test_gym_benchmark_policy(tmp_path):
    run_dir = train_in_process(tmp_path / "hopper", "env=hopper", "algo=ppo_sb3", "+algo.hyperparams.n_steps=256",
                               "total_timesteps=256", "num_envs=1", "eval_every=0", "checkpoint_every=0")  # fmt: skip
    report = evaluate(vconfig(f"policy={run_dir}", "episodes=3", "gates=['episode_length>=1']"), tmp_path / "v")
    metrics = report["scenarios"]["nominal"]["metrics"]
    assert set(metrics) == {"return_mean", "return_std", "episode_length"} and metrics["episode_length"] >= 1
    assert report["gates_passed"] and report["scenarios"]["nominal"]["seconds"] > 0
    assert not evaluate(vconfig(f"policy={run_dir}", "episodes=3", "gates=['episode_length<=0']"))["gates_passed"]
    with pytest.raises(ValueError, match="suite: 'robustness' is a robot suite; a Gymnasium benchmark"):
        evaluate(vconfig(f"policy={run_dir}", "suite=robustness", "episodes=3"))


@pytest.mark.parametrize("args,expected", [
    (["policy=/nonexistent/run"], "policy: '/nonexistent/run' is neither a run directory"),
    (["scenarios=[nominal,mars]"], "scenarios: unknown scenario(s) ['mars'] in suite 'nominal'"),
    (["gates=['fall_rate<=abc']"], "gates: 'abc' in 'fall_rate<=abc' is not a number"),
    (["gates=['speed<=1']"], "gates: unknown metric 'speed'"),
    (["episodes=0"], "episodes >= 1, episode_s > 0"),
    (["video_s=0"], "video_s: must be > 0 with video=true, got 0.0"),
    (["nthread=-1"], "nthread: must be >= 0 (0: all cores), got -1"),
    ([f"policy={REPO / 'README.md'}"], "is neither a run directory (run.json + config.yaml), a run's checkpoint nor a bundle (manifest.json)"),
    (["+commands.fwd=[1.0,0.0]"], "commands.fwd: give [vx, vy, yaw_rate], got [1.0, 0.0]"),
    (["suite.gates=[fall_rate]"], "gates: 'fall_rate' is not a gate; write '[scenario.]metric OP value'"),
    (["gates=['nominal.fall_rate<=nan']"], "gates: 'nominal.fall_rate<=nan' compares with NaN; give a number"),
])  # fmt: skip
def test_bad_input_one_line_and_nothing_written(quad_run, tmp_path, args, expected):
    from tests.agents.test_bad_input import snapshot

    policy = [] if any(a.startswith("policy=") for a in args) else [f"policy={quad_run}"]
    out = tmp_path / "out"
    before = snapshot(quad_run)
    with pytest.raises(ValueError) as err:
        evaluate(vconfig(*policy, *FAST, *args), out)
    assert expected in str(err.value) and "\n" not in str(err.value)
    assert not out.exists() and snapshot(quad_run) == before


def test_observation_size_mismatch(quad_run):
    cfg = vconfig(f"policy={quad_run}", *FAST)
    train_cfg = load_policy(quad_run).cfg

    class Wide(ZeroPolicy):
        obs_dim = 48

    with pytest.raises(ValueError, match="policy: it takes 48 observations but the env gives 45"):
        run_scenario(Wide(), scenario_task(train_cfg, ScenarioConfig(), cfg), 2, 0, 0.2, list(cfg.commands))
