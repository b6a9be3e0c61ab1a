"""`train(cfg, run_dir)`: build the env and the SB3 algorithm, train with checkpoints and evaluation,
and leave in the run directory everything later steps need."""

from __future__ import annotations

import logging
import pickle
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from omegaconf import DictConfig, OmegaConf
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecMonitor, VecNormalize

from agents import algos, checkpoint
from agents.callbacks import EnvStatsCallback, EvalCallback, PeriodicCallback, ProgressCallback, truncate_eval_csv
from agents.config import DEVICES, load_saved
from agents.policy import run_and_checkpoint
from agents.rundir import params_hash
from agents.warm_start import warm_start
from common.io import atomic_write, git_commit, is_run_dir, now, sha256_text, versions, write_json
from common.lock import DirectoryLock

KINDS = ("gym", "locoforge")
log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A configuration that cannot run; its message is the one line shown to the user."""


def validate(cfg: DictConfig) -> None:
    """Semantic checks the schema's types cannot express; each failure is one line."""
    for key in ("total_timesteps", "num_envs", "eval_episodes"):
        if cfg[key] <= 0:
            raise ConfigError(f"{key}: must be > 0, got {cfg[key]}")
    for key in (
        "checkpoint_every",
        "eval_every",
        "keep_checkpoints",
        "eval_envs",
        "torch_threads",
        "walk_check_episodes",
    ):
        if cfg[key] < 0:
            raise ConfigError(f"{key}: must be >= 0, got {cfg[key]}")
    if cfg.device not in DEVICES:
        raise ConfigError(f"device: unknown '{cfg.device}'; accepted: {', '.join(DEVICES)}")
    if cfg.device == "cuda" and not th.cuda.is_available():
        raise ConfigError("device: 'cuda' requested but torch sees no CUDA device; use device=cpu or device=auto")
    if cfg.env.kind not in KINDS:
        raise ConfigError(f"env.kind: unknown '{cfg.env.kind}'; accepted: {', '.join(KINDS)}")
    if cfg.env.kind == "gym" and cfg.env.id not in gym.registry:
        mujoco_ids = sorted(k for k in gym.registry if k.endswith("-v5"))
        raise ConfigError(f"env.id: '{cfg.env.id}' is not a registered Gymnasium id; e.g. {', '.join(mujoco_ids[:8])}")
    for key, hint in cfg.requires.items():
        if OmegaConf.select(cfg, key) in (None, ""):
            raise ConfigError(f"{key}: this configuration needs it: {hint}")
    if cfg.vec_env not in ("dummy", "subproc"):
        raise ConfigError(f"vec_env: unknown '{cfg.vec_env}'; accepted: dummy, subproc")
    if cfg.init_from:
        source = Path(cfg.init_from)
        if cfg.env.kind != "locoforge":
            raise ConfigError("init_from: warm start serves LocoForge tasks (env.kind locoforge) only")
        if run_and_checkpoint(source) is None:
            raise ConfigError(f"init_from: '{source}' is neither a run directory (run.json + config.yaml) nor one "
                              "of its checkpoints (checkpoints/step_*)")  # fmt: skip
    try:
        algos.validate(OmegaConf.to_object(cfg.algo))
    except ValueError as err:
        raise ConfigError(str(err)) from None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    th.manual_seed(seed)


def drop_privileged_for_off_policy(cfg: DictConfig) -> None:
    """SB3's off-policy policies read every key of a Dict observation: such runs train without critic terms.

    Applied before the config is saved, so that config.yaml describes the task the policy really saw.
    """
    if cfg.env.kind == "locoforge" and cfg.algo.name in algos.OFF_POLICY and cfg.env.critic_observations:
        cfg.env.critic_observations = {}


def make_env(cfg: DictConfig, num_envs: int, seed: int) -> VecEnv:
    """The vectorized env of a config, wrapped in VecMonitor (episode returns and lengths)."""
    if cfg.env.kind == "gym":
        vec_cls = SubprocVecEnv if cfg.vec_env == "subproc" else DummyVecEnv
        kwargs = OmegaConf.to_container(cfg.env.kwargs, resolve=True)
        venv = make_vec_env(cfg.env.id, n_envs=num_envs, seed=seed, vec_env_cls=vec_cls, env_kwargs=kwargs)
        return venv  # make_vec_env wraps each env in Monitor already
    from envs import task_config
    from envs.task import LocomotionTask
    from envs.vec_env import BatchedVecEnv

    venv = BatchedVecEnv(LocomotionTask(task_config(cfg), num_envs=num_envs, seed=seed))
    venv.seed(seed)
    return VecMonitor(venv)


def _normalize(cfg: DictConfig, venv: VecEnv, training: bool) -> VecEnv:
    if not cfg.algo.normalize:
        return venv
    kwargs = dict(OmegaConf.to_container(cfg.algo.normalize_kwargs, resolve=True))
    if "gamma" not in kwargs and "gamma" in cfg.algo.hyperparams:
        kwargs["gamma"] = cfg.algo.hyperparams.gamma
    if not training:
        kwargs["norm_reward"] = False
    return VecNormalize(venv, training=training, **kwargs)


def walk_check_applies(cfg: DictConfig) -> bool:
    """The final walking check runs for LocoForge tasks with a velocity command, unless walk_check_episodes=0."""
    return cfg.walk_check_episodes > 0 and cfg.env.kind == "locoforge" and "velocity" in cfg.env.commands


def walk_check(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Velocity tracking and fall-free share of the saved policy over 10-s episodes (envs.tracking), as in
    bench/quadruped_walk.py: the figures train.py prints at its end."""
    from agents.policy import SB3Policy
    from envs import task_config
    from envs.tracking import track_velocity

    result = track_velocity(SB3Policy(run_dir), task_config(cfg), episodes=cfg.walk_check_episodes)
    return {**asdict(result), "walks": result.walks}


def check_resume(cfg: DictConfig, resume: Path, overrides: list[str], choices: dict[str, str]) -> DictConfig:
    """The saved config of a run to resume; fail if an override given now changes it."""
    if not is_run_dir(resume):
        raise ConfigError(f"resume: '{resume}' is not a run directory (needs run.json and config.yaml from train.py)")
    saved = load_saved(resume / "config.yaml")
    run = OmegaConf.load(resume / "run.json")
    saved_choices = dict(run.get("choices", {}))
    from hydra.core.override_parser.overrides_parser import OverridesParser

    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.key_or_group
        if key in ("resume", "progress", "device", "torch_threads") or key.startswith("hydra"):
            continue
        value = override.value()
        if key in saved_choices:
            same = str(saved_choices[key]) == str(value)
        else:
            current = OmegaConf.select(saved, key, default="<missing>")
            if isinstance(current, DictConfig) or OmegaConf.is_list(current):
                current = OmegaConf.to_container(current)
            same = current == value
        if not same:
            raise ConfigError(f"resume: override '{override.input_line}' conflicts with the run in {resume}; "
                              f"resume accepts only overrides that match its config (or none)")  # fmt: skip
    for key in ("progress", "device", "torch_threads"):
        saved[key] = cfg[key]
    saved.resume = str(resume)
    return saved


def train(
    cfg: DictConfig,
    run_dir: Path,
    overrides: list[str] | None = None,
    choices: dict[str, str] | None = None,
    callbacks: list[BaseCallback] | None = None,
) -> dict[str, Any]:
    """Train as configured; write the run directory; return run.json's content. `callbacks` join the trainer's
    own (a sweep's walking checks)."""
    run_dir = Path(run_dir)
    overrides, choices = overrides or [], choices or {}
    if cfg.resume:
        cfg = check_resume(cfg, Path(cfg.resume), overrides, choices)
        run_dir = Path(cfg.resume)
        previous = OmegaConf.to_container(OmegaConf.load(run_dir / "run.json"))
        choices = previous.get("choices", choices)
        overrides = previous.get("overrides", overrides)
    elif is_run_dir(run_dir):
        raise ConfigError(
            f"hydra.run.dir: '{run_dir}' already holds a run; pass resume={run_dir} to continue it, or another dir"
        )
    validate(cfg)
    drop_privileged_for_off_policy(cfg)
    ckpt = checkpoint.latest(run_dir) if cfg.resume else None
    if cfg.resume and ckpt is None:
        raise ConfigError(f"resume: '{run_dir}' has no complete checkpoint to continue from")

    seed_everything(cfg.seed)
    th.set_num_threads(cfg.torch_threads or (th.get_num_threads() or 1))
    device = "cpu" if cfg.device == "auto" and not th.cuda.is_available() else cfg.device
    # everything that can refuse the config is built before anything is written: env, model, evaluation env
    env = _normalize(cfg, make_env(cfg, cfg.num_envs, cfg.seed), training=True)
    warm = None
    if ckpt is not None:
        model, env = _load_checkpoint(cfg, ckpt, env, device, run_dir)
    else:
        try:
            model = algos.make_model(OmegaConf.to_object(cfg.algo), env, cfg.seed, device, str(run_dir / "tb"))
        except (ValueError, TypeError, AssertionError) as err:  # torch's "Invalid learning rate: -1", SB3's asserts
            raise ConfigError(f"algo.hyperparams: {(str(err) or type(err).__name__).splitlines()[0]}") from None
        if cfg.init_from:
            try:
                warm = warm_start(model, env, cfg.init_from)
            except ValueError as err:
                raise ConfigError(str(err) if str(err).startswith("init_from") else f"init_from: {err}") from None
    evaluation = None
    if cfg.eval_every > 0:
        n_eval = cfg.eval_envs or min(cfg.eval_episodes, cfg.num_envs)
        eval_env = _normalize(cfg, make_env(cfg, n_eval, cfg.seed + 10_000), training=False)
        evaluation = EvalCallback(eval_env, cfg.eval_every, cfg.eval_episodes, run_dir)

    # one writer per run directory; everything below only writes into it
    lock = DirectoryLock(run_dir, "resume" if cfg.resume else "hydra.run.dir").acquire()
    try:
        return _run(cfg, run_dir, model, env, evaluation, ckpt, overrides, choices, device, callbacks or [], warm)
    finally:
        lock.release()


def _load_checkpoint(cfg: DictConfig, ckpt: Path, env: VecEnv, device: str, run_dir: Path) -> tuple[Any, VecEnv]:
    """The model and normalizer of a checkpoint, every random stream (the task's too) continued from it."""
    if cfg.algo.normalize:
        env = VecNormalize.load(str(ckpt / "vecnormalize.pkl"), env.venv)
    model = algos.ALGOS[cfg.algo.name].load(
        ckpt / "model.zip", env=env, device=device, tensorboard_log=str(run_dir / "tb")
    )
    if getattr(model, "symmetry_coef", 0.0):
        model.mirror = algos.task_mirror(env)
    if cfg.save_replay_buffer and (ckpt / "replay_buffer.pkl").is_file():
        model.load_replay_buffer(ckpt / "replay_buffer.pkl")
    # SB3 resets a loaded model's env when learning starts: reset here instead (the robots on their saved terrain
    # levels), then continue the random streams
    try:
        checkpoint.load_curriculum(ckpt, env)
    except ValueError as err:
        raise ConfigError(f"resume: {err}") from None
    model._last_obs = env.reset()
    model._last_episode_starts = np.ones(env.num_envs, dtype=bool)
    with open(ckpt / "rng.pkl", "rb") as f:
        checkpoint.set_rng_state(pickle.load(f), env)
    return model, env


def _run(cfg: DictConfig, run_dir: Path, model: Any, env: VecEnv, evaluation: EvalCallback | None, ckpt: Path | None,
         overrides: list[str], choices: dict[str, str], device: str, extra: list[BaseCallback],
         warm: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Write the run directory and train (the caller holds the run directory's lock)."""
    if not cfg.resume and is_run_dir(run_dir):  # another process finished a run here since the first check
        raise ConfigError(f"hydra.run.dir: '{run_dir}' already holds a run; pass resume={run_dir} to continue it")
    config_yaml = OmegaConf.to_yaml(cfg, resolve=True)
    if not cfg.resume:
        atomic_write(run_dir / "config.yaml", config_yaml)
    checkpoint.cleanup_partial(run_dir)
    run: dict[str, Any] = {
        "config_hash": sha256_text(config_yaml),
        "seed": cfg.seed,
        "env": cfg.env.id,
        "algo": cfg.algo.name,
        "total_timesteps": cfg.total_timesteps,
        "overrides": overrides,
        "choices": choices,
        "git": git_commit(),
        "versions": versions(),
        "device": device,
        "start_time": now(),
        "status": "running",
    }
    if warm is not None:
        run["init_from"] = warm
        fresh = warm["fresh_statistics"] or "none"
        log.info(f"init_from {warm['source']}: new inputs {warm['new_inputs']}, fresh statistics {fresh}")
    if cfg.resume:
        prior = OmegaConf.to_container(OmegaConf.load(run_dir / "run.json"))
        run = {**prior, **{k: run[k] for k in ("git", "versions", "device", "status")}, "resumed_at": now()}
    if cfg.env.kind == "locoforge":  # what the build kept from the robot file, replaced, and warns about
        scene = env.get_attr("scene")[0]
        mass_scale, torque_scale, scale_line = (env.get_attr(k, [0])[0] for k in ("mass_scale", "torque_scale", "scale_line"))
        run["robot"] = {**scene.summary, "model_hash": scene.model_hash,
                        "scales": {"payload": mass_scale, "torque_penalty": torque_scale}}  # fmt: skip
        log.info(scene.summary_line())
        log.info(f"scale-free terms {scale_line()}")
    write_json(run_dir / "run.json", run)
    if ckpt is not None:
        truncate_eval_csv(run_dir, model.num_timesteps)
    vecnorm = env if isinstance(env, VecNormalize) else None
    start_steps = int(model.num_timesteps)

    callbacks = [EnvStatsCallback(), *extra]
    if cfg.checkpoint_every > 0:
        callbacks.append(PeriodicCallback(
            cfg.checkpoint_every, lambda: checkpoint.save(run_dir, model, vecnorm, cfg.save_replay_buffer, cfg.keep_checkpoints)))  # fmt: skip
    if evaluation is not None:
        callbacks.append(evaluation)
    if cfg.progress:
        callbacks.append(ProgressCallback(cfg.total_timesteps))

    remaining = cfg.total_timesteps - start_steps
    t0 = time.perf_counter()
    if remaining > 0:
        model.learn(remaining, callback=CallbackList(callbacks), reset_num_timesteps=ckpt is None, tb_log_name="tb")
    elapsed = time.perf_counter() - t0
    if evaluation is not None:
        evaluation.init_callback(model)
        evaluation.finish()

    tmp = run_dir / ".model.tmp.zip"
    model.save(tmp)
    tmp.replace(run_dir / "model.zip")
    if vecnorm is not None:
        vecnorm.save(str(run_dir / ".vecnormalize.tmp.pkl"))
        (run_dir / ".vecnormalize.tmp.pkl").replace(run_dir / "vecnormalize.pkl")
    if walk_check_applies(cfg):
        run["walk_check"] = walk_check(cfg, run_dir)
    done = int(model.num_timesteps)
    physics_resets = sum(cb.resets for cb in callbacks if isinstance(cb, EnvStatsCallback))
    run.update({
        "end_time": now(),
        "status": "finished",
        "steps_done": done,
        "steps_per_second": (done - start_steps) / max(elapsed, 1e-9),
        "params_hash": params_hash(model.policy),
        "physics_resets": physics_resets,
    })  # fmt: skip
    write_json(run_dir / "run.json", run)
    env.close()
    return run
