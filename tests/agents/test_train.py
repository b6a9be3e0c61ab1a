"""Training end to end: each algorithm writes a full run dir; reproducibility; the train.py smoke test; resume
after a kill and Hydra's launchers (slow: they need the real command line)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.conftest import REPO, run_script, train_in_process

SMALL_PPO = ["algo=ppo_sb3", "+algo.hyperparams.n_steps=256", "+algo.hyperparams.batch_size=64", "+algo.hyperparams.n_epochs=2",
             "algo.normalize=true", "+algo.policy_kwargs.net_arch=[32,32]"]  # fmt: skip
SMALL_OFF = ["+algo.hyperparams.learning_starts=200", "+algo.hyperparams.buffer_size=5000", "+algo.hyperparams.batch_size=64",
             "+algo.policy_kwargs.net_arch=[32,32]"]  # fmt: skip
ALGOS = {
    "ppo": SMALL_PPO,
    "sac": ["algo=sac", *SMALL_OFF],
    "td3": ["algo=td3", *SMALL_OFF],
    "tqc": ["algo=tqc", *SMALL_OFF, "+algo.hyperparams.top_quantiles_to_drop_per_net=1"],
}
FAST = ["env=hopper", "num_envs=1", "eval_episodes=2", "progress=false"]


def read_run(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())


@pytest.mark.parametrize("algo", list(ALGOS))
def test_each_algo_writes_the_full_run_dir(tmp_path, algo):
    run_dir = train_in_process(tmp_path / algo, *FAST, *ALGOS[algo], "total_timesteps=1024", "checkpoint_every=512",
                               "eval_every=512")  # fmt: skip
    run = read_run(run_dir)
    assert run["status"] == "finished" and run["steps_done"] == 1024 and run["algo"] == algo
    assert len(run["params_hash"]) == 64 and len(run["config_hash"]) == 64 and run["steps_per_second"] > 0
    assert {"python", "torch", "mujoco", "gymnasium", "stable-baselines3"} <= set(run["versions"])
    assert "commit" in run["git"] and run["start_time"] and run["end_time"] and run["choices"]["env"] == "hopper"
    assert (run_dir / "config.yaml").read_text().count(f"name: {algo}") == 1
    with zipfile.ZipFile(run_dir / "model.zip") as z:
        assert "policy.pth" in z.namelist()
    ckpts = sorted((run_dir / "checkpoints").iterdir())
    assert [c.name for c in ckpts] == ["step_000000000512", "step_000000001024"]
    meta = json.loads((ckpts[-1] / "meta.json").read_text())
    assert {"model.zip", "rng.pkl"} <= set(meta["files"])
    rows = (run_dir / "eval.csv").read_text().splitlines()
    assert rows[0] == "step,mean_return,std_return,mean_length" and [r.split(",")[0] for r in rows[1:]] == [
        "512",
        "1024",
    ]
    assert (run_dir / "vecnormalize.pkl").is_file() == (algo == "ppo")
    assert any(p.name.startswith("events.out.tfevents") for p in (run_dir / "tb").rglob("*"))


def test_same_seed_same_hashes_and_eval(tmp_path):
    def run(name: str, seed: int) -> tuple[str, str]:
        run_dir = train_in_process(tmp_path / name, *FAST, *SMALL_PPO, f"seed={seed}", "total_timesteps=1024",
                                   "eval_every=512", "checkpoint_every=0")  # fmt: skip
        return read_run(run_dir)["params_hash"], (run_dir / "eval.csv").read_text()

    a, b, c = run("a", 7), run("b", 7), run("c", 8)
    assert a == b
    assert c[0] != a[0]


def test_train_py_smoke(tmp_path):
    """The command line end to end: the default quadruped job, then a bad value answered in one line."""
    run_dir = tmp_path / "quad"
    result = run_script("train.py", "total_timesteps=2048", "num_envs=32", "algo.hyperparams.batch_size=256", "eval_every=1024",
                        "eval_episodes=4", "eval_envs=4", "env.sim.episode_length_s=2.0", "checkpoint_every=1024",
                        "walk_check_episodes=4", "progress=false", f"hydra.run.dir={run_dir}",
                        "+env.curriculum.push_schedule.params.at_steps=1024", "+env.curriculum.push_schedule.params.velocity=1.0",
                        check=True)  # fmt: skip
    run = read_run(run_dir)
    resolved = OmegaConf.load(run_dir / "config.yaml").env.curriculum  # a new term by its dotted key (common.cli.as_merge)
    assert resolved.push_schedule.params == {"at_steps": 1024, "velocity": 1.0} and "terrain_levels" in resolved
    assert run["env"] == "LocoForge/QuadrupedFlat-v0" and run["steps_done"] >= 2048 and run["physics_resets"] == 0
    assert run["choices"]["randomization"] == "standard" and f"steps: {run['steps_done']}" in result.stdout
    assert (run_dir / "vecnormalize.pkl").is_file()
    check = run["walk_check"]  # 2k steps do not walk: the check says so with its figures
    assert check["episodes"] == 4 and check["walks"] is False and 0 < check["vx_rmse"] < 2 and 0 <= check["fall_free_share"] <= 1
    assert f"walking check: vx RMSE {check['vx_rmse']:.3f}" in result.stdout and "-> NOT YET" in result.stdout
    from stable_baselines3 import PPO

    from agents.policies import AsymmetricActorCriticPolicy

    model = PPO.load(run_dir / "model.zip")
    assert isinstance(model.policy, AsymmetricActorCriticPolicy)
    assert (
        model.policy.pi_features_extractor.features_dim == 45 and model.policy.vf_features_extractor.features_dim == 53
    )
    bad = run_script("train.py", "total_timesteps=-5", f"hydra.run.dir={tmp_path / 'bad'}")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: total_timesteps: must be > 0, got -5"
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_resume_after_kill_reaches_the_requested_total(tmp_path):
    run_dir = tmp_path / "killed"
    args = [
        *FAST,
        *SMALL_PPO,
        "total_timesteps=12800",
        "checkpoint_every=1280",
        "eval_every=2560",
        f"hydra.run.dir={run_dir}",
    ]
    proc = subprocess.Popen([sys.executable, "train.py", *args], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    deadline = time.time() + 240
    while time.time() < deadline:
        done = (
            [p for p in (run_dir / "checkpoints").glob("step_*") if (p / "meta.json").is_file()]
            if run_dir.exists()
            else []
        )
        if len(done) >= 2:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert read_run(run_dir)["status"] == "running" and not (run_dir / "model.zip").exists()
    killed_at = max(int(p.name.split("_")[1]) for p in (run_dir / "checkpoints").glob("step_*"))
    assert killed_at < 12800

    result = run_script("train.py", f"resume={run_dir}", "progress=false", check=True)
    run = read_run(run_dir)
    assert run["status"] == "finished" and run["steps_done"] == 12800 and "resumed_at" in run
    assert not list((run_dir / "checkpoints").glob(".tmp_*")), "half-written checkpoints are cleaned up"
    steps = [int(r.split(",")[0]) for r in (run_dir / "eval.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps)) and steps[-1] == 12800
    from stable_baselines3 import PPO

    assert PPO.load(run_dir / "model.zip").num_timesteps == 12800
    assert "steps: 12800" in result.stdout


@pytest.mark.slow
def test_local_multirun(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_script("train.py", "-m", "seed=0,1", "env=hopper,walker2d", *SMALL_PPO[:1], "+algo.hyperparams.n_steps=128",
                        "+algo.hyperparams.batch_size=64", "total_timesteps=128", "num_envs=1", "eval_every=0", "checkpoint_every=0",
                        "progress=false", f"hydra.sweep.dir={sweep}", check=True)  # fmt: skip
    runs = sorted(
        json.loads(p.read_text())["env"] + f":{json.loads(p.read_text())['seed']}" for p in sweep.glob("*/run.json")
    )
    assert runs == ["Hopper-v5:0", "Hopper-v5:1", "Walker2d-v5:0", "Walker2d-v5:1"], result.stdout


@pytest.mark.slow
def test_local_parallel_multirun_with_joblib(tmp_path):
    sweep = tmp_path / "joblib"
    run_script("train.py", "-m", "hydra/launcher=local", "seed=3,4", "env=hopper", *SMALL_PPO[:1], "+algo.hyperparams.n_steps=128",
               "+algo.hyperparams.batch_size=64", "total_timesteps=128", "num_envs=1", "eval_every=0", "checkpoint_every=0",
               "progress=false", f"hydra.sweep.dir={sweep}", check=True)  # fmt: skip
    assert sorted(json.loads(p.read_text())["seed"] for p in sweep.glob("*/run.json")) == [3, 4]


def test_slurm_launcher_config_composes():
    from common.configs import compose
    from tests.conftest import compose_train

    compose_train()  # registers the schemas
    launcher = compose(
        "train", ["hydra/launcher=slurm", "hydra.launcher.partition=gpu"], return_hydra_config=True
    ).hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher") and launcher.timeout_min == 240 and launcher.partition == "gpu"


def test_a_resumed_run_puts_robots_back_on_their_terrain_levels_at_their_push_speed(tmp_path):
    import pickle

    import numpy as np

    from agents.checkpoint import env_curriculum
    from agents.trainer import _load_checkpoint, _normalize, make_env
    from tests.conftest import TINY_QUAD, compose_train

    # 10-step episodes: robots finish many, so the curriculum moves them between levels and grows the kicks
    args = (*TINY_QUAD, "terrain=rough", "terrain.start_level=5", "env.sim.episode_length_s=0.2", "checkpoint_every=768",
            "+env.curriculum={push_velocity:{params:{end:2.0,window:8}}}")  # fmt: skip
    run = train_in_process(tmp_path / "run", *args)
    ckpt = sorted((run / "checkpoints").glob("step_*"))[-1]
    with open(ckpt / "curriculum.pkl", "rb") as f:
        saved = pickle.load(f)
    levels, speed = saved["terrain_levels"]["levels"], saved["push_velocity"]["velocity"]
    assert levels.shape == (32,) and len(set(levels.tolist())) > 1, levels
    cfg = compose_train(*args)
    env = _normalize(cfg, make_env(cfg, cfg.num_envs, cfg.seed), training=True)
    task, push = env.unwrapped.task, env_curriculum(env).terms["push_velocity"].push
    assert (task.levels == 5).all() and speed > push.velocity  # a fresh task starts at the start level, gently
    _, env = _load_checkpoint(cfg, ckpt, env, "cpu", run)
    np.testing.assert_array_equal(task.levels, levels)
    assert push.velocity == speed
    # the reset after loading spawned each robot on the tile of its level
    offset = np.abs(task.qpos[:, :2] - task.terrain.tile_origin(levels, task.cols))
    assert offset.max() <= task.terrain.tile / 2, offset.max()
