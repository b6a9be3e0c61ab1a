"""Every bad input to training: one clear line, and no existing run file touched (in-process; the command
line's exit code and `error:` prefix are checked by test_train.py's smoke test)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.agents.test_train import FAST, SMALL_PPO
from tests.conftest import compose_train, start_training, train_in_process


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    return train_in_process(tmp_path_factory.mktemp("runs") / "done", *FAST, *SMALL_PPO, "total_timesteps=512",
                            "checkpoint_every=256", "eval_every=0")  # fmt: skip


@pytest.mark.parametrize("args,expected", [
    (["env=no_such_env"], "Could not find 'env/no_such_env'"),
    (["algo=a3c"], "Could not find 'algo/a3c'"),
    (["no_such_key=1"], "Could not override 'no_such_key'"),
    (["num_envs=abc"], "Value 'abc' of type 'str' could not be converted to Integer"),
    (["randomization.friction=[1.0,0.2]"], "Could not override 'randomization.friction'"),
    (["total_timesteps=0"], "error: total_timesteps: must be > 0, got 0"),
    (["num_envs=-2"], "error: num_envs: must be > 0, got -2"),
    (["device=tpu"], "error: device: unknown 'tpu'; accepted: cpu, cuda, auto"),
    (["env.id=Nope-v0", "env=hopper"], "error: env.id: 'Nope-v0' is not a registered Gymnasium id"),
    (["+algo.hyperparams.learning_rat=0.1", "env=hopper"], "error: algo.hyperparams: 'learning_rat' is not a ppo hyperparameter"),
    (["robot.joints=[FR_hip_joint,nope]"], "error: robot.joints: 'nope' is not a joint of quadruped.xml"),
    (["robot.mjcf=missing.xml"], "error: robot.mjcf: 'missing.xml' not found"),
    (["env.events.physics.params.friction=[1.0,0.2]"], "error: env.events.physics.params.friction: [1.0, 0.2] is not a range"),
    (["+env.rewards={fly_high:{weight:1.0}}"], "error: env.rewards: unknown term 'fly_high'"),
    (["env.events.pushh.interval_s=[1,2]"], "Could not override 'env.events.pushh.interval_s'"),
    (["+env.events={pushh:{mode:reset}}"], "error: env.events: unknown term 'pushh'; accepted: action_delay, obs_delay, physics, push, reset_pose"),
    (["+env.commands.velocity.params.vz=[0,1]"], "error: env.commands.velocity.params: got an unexpected keyword argument 'vz'"),
    (["+env.curriculum.terrain_levels.params.promote=0.5"], "error: env.curriculum.terrain_levels.params: got an unexpected keyword argument 'promote'"),
    (["env.events.push.mode=sometimes"], "error: env.events.push.mode: unknown 'sometimes'; accepted: reset, interval"),
    (["env.events.action_delay.params.range_ms=[0,30]"], "error: env.events.action_delay.params.range_ms: 30 ms exceeds one policy step (20 ms)"),
    (["~env.events.reset_pose"], "error: env.events: 'reset_pose' is required"),
    (["algo.hyperparams.learning_rate=-1"], "error: algo.hyperparams: Invalid learning rate: -1"),
    (["num_envs=1000000000"], "error: num_envs: 1000000000 simulations do not fit in memory"),
    (["robot.mjcf=" + str(Path(__file__).resolve())], "error: robot.mjcf: '" + str(Path(__file__).resolve()) + "' is not a MuJoCo model file"),
    (["robot.nominal_height=0"], "error: robot.action_scale, robot.spawn_height and robot.nominal_height: must be > 0"),
    (["robot.action_scale=0"], "error: robot.action_scale, robot.spawn_height and robot.nominal_height: must be > 0"),
    (["robot.feet=[FR_foot,paw]"], "error: robot.feet: 'paw' is neither a geom, a site nor a body of quadruped.xml; its sites: imu; geoms: FL_calf, FL_foot, FL_thigh, FR_calf, FR_foot, FR_thigh, RL_calf, RL_foot, RL_thigh, RR_calf, RR_foot, RR_thigh, head, trunk"),
    (["robot.base_body=torso"], "error: robot.base_body: 'torso' is not a body of quadruped.xml"),
    (["terrain=rough", "terrain.slopes.slope=[0.4]"], "error: terrain.slopes.slope: give [easiest, hardest], both >= 0, got [0.4]"),
    (["terrain.friction=0"], "error: terrain.friction: must be > 0, got 0.0"),
    (["terrain=stairs", "terrain.stairs.step_width=0"], "error: terrain.stairs.step_width: must be > 0, got 0.0"),
    (["terrain=mixed", "terrain.n_cols=3"], "error: terrain.n_cols: mixed terrain with 4 tile types needs at least as many columns, got 3"),
    (["terrain=mixed", "terrain.rough.share=-1"], "error: terrain.<type>.share: mixed terrain needs shares >= 0, at least one > 0"),
    (["terrain.kind=lava"], "error: terrain.kind: unknown kind 'lava'; accepted: plane, rough, slopes, stairs, obstacles, mixed"),
    (["terrain=rough", "terrain.start_level=10"], "error: terrain.start_level: must be in [0, 9], got 10"),
    (["env.sim.physics_dt=0"], "error: env.sim: physics_dt and episode_length_s must be > 0 and decimation >= 1"),
    (["env.sim.nthread=-1"], "error: env.sim: nthread >= 0 (0: all cores), max_base_speed > 0 and impratio > 0 are required"),
    (["env.sim.contact_solref=[0.02]"], "error: env.sim.contact_solref: give [timeconst > 0, dampratio], got [0.02]"),
    (["env.sim.integrator=verlet"], "error: env.sim.integrator: unknown 'verlet'; accepted: euler, rk4, implicit, implicitfast"),
    (["env.sim.solver=lbfgs"], "error: env.sim.solver: unknown 'lbfgs'; accepted: pgs, cg, newton"),
    (["env.sim.cone=round"], "error: env.sim.cone: unknown 'round'; accepted: pyramidal, elliptic"),
    (["env.observations.joint_vel.noise=-1"], "error: env.observations.joint_vel: noise >= 0 and clip > 0 (or null) are required"),
    (["env.action_clip=0"], "error: env.action_clip: must be > 0, got 0.0"),
    (["env.obs_noise_scale=-1"], "error: env.obs_noise_scale: must be >= 0, got -1.0"),
    (["env.commands.velocity.params.vx=[1,-1]"], "error: env.commands.velocity.params.vx: [1, -1] is not a range"),
    (["env.commands.velocity.params.standing_share=2"], "error: env.commands.velocity.params.standing_share: must be in [0, 1], got 2"),
    (["env.events.push.interval_s=[-1,2]"], "error: env.events.push.interval_s: [-1.0, 2.0] is not a range"),
    (["env.events.push.params.velocity=-1"], "error: env.events.push.params.velocity: must be >= 0, got -1"),
    (["env.events.reset_pose.params.joint_noise=-0.1"], "error: env.events.reset_pose.params.joint_noise: must be >= 0, got -0.1"),
    (["+env.events.action_delay.params.from_latency_report=/nope.json"], "error: env.events.action_delay.params.from_latency_report: '/nope.json' not found"),
    (["env.curriculum.terrain_levels.params.promote_share=0"], "error: env.curriculum.terrain_levels.params: promote_share > 0 and demote_ratio >= 0 required"),
    (["eval_every=-1"], "error: eval_every: must be >= 0, got -1"),
    (["vec_env=threads", "env=hopper"], "error: vec_env: unknown 'threads'; accepted: dummy, subproc"),
    (["algo.hyperparams.n_steps=0"], "error: algo.hyperparams: `n_steps * n_envs` must be greater than 1"),
    (["algo.policy_kwargs.activation_fn=gelu"], "error: algo.policy_kwargs.activation_fn: unknown 'gelu'; accepted: tanh, relu, elu, leaky_relu, silu"),
])  # fmt: skip
def test_bad_config_gives_one_clear_line(finished_run, tmp_path, args, expected):
    run_dir = tmp_path / "run"
    before = snapshot(finished_run)
    answer = start_training(
        run_dir, *args, "total_timesteps=64" if not any("total_timesteps" in a for a in args) else "eval_every=0"
    )
    assert expected in answer
    if answer.startswith("error:"):
        assert "\n" not in answer
    assert not run_dir.exists(), "a failed start writes nothing"
    assert snapshot(finished_run) == before, "the good run beside it is untouched"


def test_resume_of_a_dir_that_is_not_a_run(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    assert (
        start_training(tmp_path, f"resume={tmp_path}")
        == f"error: resume: '{tmp_path}' is not a run directory (needs run.json and config.yaml from train.py)"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    missing = tmp_path / "nowhere"
    assert start_training(missing, f"resume={missing}").startswith("error: resume:") and not missing.exists()


def test_resume_with_a_conflicting_override_touches_nothing(finished_run):
    before = snapshot(finished_run)
    answer = start_training(finished_run, f"resume={finished_run}", "seed=5")
    assert answer.startswith("error: resume: override 'seed=5' conflicts with the run")
    assert "override 'env=walker2d' conflicts" in start_training(finished_run, f"resume={finished_run}", "env=walker2d")
    assert snapshot(finished_run) == before


def test_starting_over_an_existing_run_is_refused(finished_run):
    before = snapshot(finished_run)
    answer = start_training(finished_run, *FAST, *SMALL_PPO, "total_timesteps=512")
    assert "already holds a run; pass resume=" in answer
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
    answer = start_training(run_dir, f"resume={run_dir}")
    assert answer == f"error: checkpoint {newest}: model.zip is corrupt (sha256 differs from meta.json)"
    assert snapshot(run_dir) == before


def test_resume_continues_every_random_stream(finished_run, tmp_path):
    import shutil

    def resumed(name: str) -> str:
        run_dir = tmp_path / name
        shutil.copytree(finished_run, run_dir)
        # the last checkpoint is at 512 = the total: resume to a larger total is a conflict, so cut the run short
        ckpt = sorted((run_dir / "checkpoints").glob("step_*"))
        shutil.rmtree(ckpt[-1])
        assert start_training(run_dir, f"resume={run_dir}") == "started"
        return (run_dir / "run.json").read_text().split('"params_hash": ')[1][:70]

    assert resumed("a") == resumed("b"), "a resume from the same checkpoint continues identically"


def test_cuda_without_gpu_is_a_clear_error():
    import torch

    from agents.trainer import ConfigError, validate

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: device=cuda is valid here")
    with pytest.raises(ConfigError, match="device: 'cuda' requested but torch sees no CUDA device"):
        validate(compose_train(*FAST, "device=cuda"))


def test_a_second_writer_is_refused_naming_the_holder(finished_run, tmp_path):
    import os

    from common.lock import DirectoryLock

    fresh = tmp_path / "busy"
    held = DirectoryLock(fresh, "test").acquire()  # another trainer holds this directory
    try:
        answer = start_training(fresh, *FAST, *SMALL_PPO, "total_timesteps=256", "eval_every=0", "checkpoint_every=0")
        assert (
            answer
            == f"error: hydra.run.dir: '{fresh}' is in use by process {os.getpid()}; wait for it to end or choose another directory"
        )
        assert [p.name for p in fresh.iterdir()] == [".lock"], "the refused writer wrote nothing"
        before = snapshot(finished_run)
        other = DirectoryLock(finished_run, "test").acquire()
        try:
            assert "resume: " in start_training(
                finished_run, f"resume={finished_run}"
            ) and "is in use by process" in start_training(finished_run, f"resume={finished_run}")
        finally:
            other.release()
        assert snapshot(finished_run) == before
    finally:
        held.release()
    assert (
        start_training(fresh, *FAST, *SMALL_PPO, "total_timesteps=256", "eval_every=0", "checkpoint_every=0")
        == "started"
    )
