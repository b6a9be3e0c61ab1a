"""Every bad input to train.py: one clear line, non-zero exit, and no existing run file touched."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.agents.test_train import FAST, SMALL_PPO
from tests.conftest import run_script


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "done"
    run_script("train.py", *FAST, *SMALL_PPO, "total_timesteps=512", "checkpoint_every=256", "eval_every=0",
               f"hydra.run.dir={run_dir}", check=True)  # fmt: skip
    return run_dir


@pytest.mark.parametrize("args,expected", [
    (["env=no_such_env"], "Could not find 'env/no_such_env'"),
    (["algo=a3c"], "Could not find 'algo/a3c'"),
    (["no_such_key=1"], "Could not override 'no_such_key'"),
    (["num_envs=abc"], "Value 'abc' of type 'str' could not be converted to Integer"),
    (["total_timesteps=0"], "error: total_timesteps: must be > 0, got 0"),
    (["total_timesteps=-5"], "error: total_timesteps: must be > 0, got -5"),
    (["device=tpu"], "error: device: unknown 'tpu'; accepted: cpu, cuda, auto"),
    (["env.id=Nope-v0", "env=hopper"], "error: env.id: 'Nope-v0' is not a registered Gymnasium id"),
    (["+algo.hyperparams.learning_rat=0.1", "env=hopper"], "error: algo.hyperparams: 'learning_rat' is not a ppo hyperparameter"),
    (["robot.joints=[FR_hip_joint,nope]"], "error: robot.joints: 'nope' is not a joint of quadruped.xml"),
    (["robot.mjcf=missing.xml"], "error: robot.mjcf: 'missing.xml' not found"),
    (["env.events.physics.params.friction=[1.0,0.2]"], "error: env.events.physics.params.friction: [1.0, 0.2] is not a range"),
    (["env.events.pushh.interval_s=[1,2]"], "Could not override 'env.events.pushh.interval_s'"),
    (["+env.events={pushh:{mode:reset}}"], "error: env.events: unknown term 'pushh'; accepted: action_delay, obs_delay, physics, push, reset_pose"),
    (["+env.commands.velocity.params.vz=[0,1]"], "error: env.commands.velocity.params: got an unexpected keyword argument 'vz'"),
    (["+env.curriculum.terrain_levels.params.promote=0.5"], "error: env.curriculum.terrain_levels.params: got an unexpected keyword argument 'promote'"),
    (["env.events.push.mode=sometimes"], "error: env.events.push.mode: unknown 'sometimes'; accepted: reset, interval"),
    (["+env.rewards={fly_high:{weight:1.0}}"], "error: env.rewards: unknown term 'fly_high'"),
])  # fmt: skip
def test_bad_config_gives_one_clear_line(tmp_path, args, expected):
    run_dir = tmp_path / "run"
    result = run_script("train.py", *args, "total_timesteps=64" if not any("total_timesteps" in a for a in args) else "progress=false",
                        f"hydra.run.dir={run_dir}")  # fmt: skip
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr
    if expected.startswith("error:"):
        assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 1
    assert not run_dir.exists() or not any(run_dir.iterdir()), "a failed start writes nothing"


def test_resume_of_a_dir_that_is_not_a_run(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    result = run_script("train.py", f"resume={tmp_path}")
    assert result.returncode == 2 and f"error: resume: '{tmp_path}' is not a run directory" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    missing = tmp_path / "nowhere"
    result = run_script("train.py", f"resume={missing}")
    assert result.returncode == 2 and not missing.exists()


def test_resume_with_a_conflicting_override_touches_nothing(finished_run):
    before = snapshot(finished_run)
    result = run_script("train.py", f"resume={finished_run}", "seed=5")
    assert result.returncode == 2
    assert "error: resume: override 'seed=5' conflicts with the run" in result.stderr
    result = run_script("train.py", f"resume={finished_run}", "env=walker2d")
    assert result.returncode == 2 and "override 'env=walker2d' conflicts" in result.stderr
    assert snapshot(finished_run) == before


def test_starting_over_an_existing_run_is_refused(finished_run):
    before = snapshot(finished_run)
    result = run_script("train.py", *FAST, *SMALL_PPO, "total_timesteps=512", f"hydra.run.dir={finished_run}")
    assert result.returncode == 2 and "already holds a run; pass resume=" in result.stderr
    assert snapshot(finished_run) == before


def test_corrupt_checkpoint_is_refused_and_left_as_is(finished_run, tmp_path):
    import shutil

    run_dir = tmp_path / "corrupt"
    shutil.copytree(finished_run, run_dir)
    newest = sorted((run_dir / "checkpoints").glob("step_*"))[-1]
    data = bytearray((newest / "model.zip").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (newest / "model.zip").write_bytes(bytes(data))
    before = snapshot(run_dir)
    result = run_script("train.py", f"resume={run_dir}")
    assert result.returncode == 2
    assert f"error: checkpoint {newest}: model.zip is corrupt (sha256 differs from meta.json)" in result.stderr
    assert snapshot(run_dir) == before


def test_cuda_without_gpu_is_a_clear_error(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: device=cuda is valid here")
    result = run_script("train.py", *FAST, "device=cuda", f"hydra.run.dir={tmp_path / 'r'}")
    assert result.returncode == 2 and "error: device: 'cuda' requested but torch sees no CUDA device" in result.stderr
