"""Batched quadruped env vs raw mujoco.batch, and PPO on it vs plain SB3 PPO on Ant-v5, in one run.

    python bench/env_throughput.py [num_envs] [seconds]      (default: 256 envs, 10 s per measurement)

1. env steps/s × decimation ÷ raw `mujoco.batch` physics steps/s: same compiled model, decimation and
   threads, the same distribution of actions. Target ≥ 0.85.
2. PPO end-to-end steps/s on the quadruped (train.py's setup) ÷ plain SB3 PPO on Ant-v5 with the same
   hyperparameters and its best VecEnv (DummyVecEnv or SubprocVecEnv, several sizes). Target ≥ 3.
"""

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def timed(fn, seconds: float) -> float:
    """Calls of fn per second over about `seconds`, after one warm-up call."""
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


def env_vs_raw(num_envs: int, seconds: float) -> float:
    import mujoco
    from mujoco.batch import Batch

    import envs

    venv = envs.make_vec("LocoForge/QuadrupedFlat-v0", num_envs=num_envs, seed=0)
    task = venv.task
    rng = np.random.default_rng(0)
    venv.reset()

    def env_step() -> None:
        venv.step(np.clip(rng.normal(0, 0.3, (num_envs, 12)), -1, 1))

    raw = Batch(task.model, num_envs, task.batch.nthread, persistent=True)
    raw.qpos[:] = task.qpos
    raw.ctrl[:] = task.ctrl
    raw.forward()
    sc = task.scene

    def raw_step() -> None:
        raw.ctrl[:] = sc.default_joint_pos + sc.robot.action_scale * np.clip(rng.normal(0, 0.3, (num_envs, 12)), -1, 1)
        raw.step(nstep=task.decimation, stage=mujoco.mjtStage.mjSTAGE_NONE)

    # alternate the two, three times each, and compare medians: no side gets the warm or the cold machine
    env_rates, raw_rates = [], []
    for _ in range(3):
        env_rates.append(timed(env_step, seconds / 3) * num_envs)
        raw_rates.append(timed(raw_step, seconds / 3) * num_envs * task.decimation)
    env_rate, physics_rate = float(np.median(env_rates)), float(np.median(raw_rates))
    ratio = env_rate * task.decimation / physics_rate
    print(
        f"threads {task.batch.nthread}, decimation {task.decimation}, {num_envs} envs: env {env_rate:,.0f} policy steps/s "
        f"({env_rate * task.decimation:,.0f} physics steps/s), raw mujoco.batch {physics_rate:,.0f} physics steps/s"
    )
    print(f"env / raw physics = {ratio:.3f}  (target >= 0.85)")
    return ratio


def ppo_rate(make_env, steps: int) -> float:
    from gymnasium import spaces
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecNormalize

    from agents import algos
    from agents.config import register
    from agents.policies import AsymmetricActorCriticPolicy

    register()
    with initialize_config_dir(str(Path(__file__).resolve().parent.parent / "configs"), version_base="1.3"):
        cfg = compose("train")
    env = VecNormalize(make_env(), gamma=cfg.algo.hyperparams.gamma)
    hyper = OmegaConf.to_container(cfg.algo.hyperparams)
    # keep the same samples per update whatever the number of envs
    hyper["n_steps"] = max(1, hyper["n_steps"] * cfg.num_envs // env.num_envs)
    policy = AsymmetricActorCriticPolicy if isinstance(env.observation_space, spaces.Dict) else "MlpPolicy"
    model = PPO(
        policy, env, seed=0, verbose=0, policy_kwargs=algos.policy_kwargs(OmegaConf.to_object(cfg.algo)), **hyper
    )
    model.learn(hyper["n_steps"] * env.num_envs)  # warm-up
    t0 = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    rate = (model.num_timesteps - hyper["n_steps"] * env.num_envs) / (time.perf_counter() - t0)
    env.close()
    return rate


def ppo_vs_ant(num_envs: int, steps: int) -> float:
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    import envs

    quad = ppo_rate(lambda: envs.make_vec("LocoForge/QuadrupedFlat-v0", num_envs=num_envs, seed=0), steps)
    print(f"PPO quadruped (batched, {num_envs} envs): {quad:,.0f} steps/s")
    best, best_name = 0.0, ""
    for cls, n in ((DummyVecEnv, 1), (DummyVecEnv, 8), (SubprocVecEnv, 2), (SubprocVecEnv, os.cpu_count() or 2)):
        rate = ppo_rate(lambda cls=cls, n=n: make_vec_env("Ant-v5", n_envs=n, seed=0, vec_env_cls=cls), steps // 4)
        print(f"PPO Ant-v5 ({cls.__name__}, {n} envs): {rate:,.0f} steps/s")
        if rate > best:
            best, best_name = rate, f"{cls.__name__}x{n}"
    ratio = quad / best
    print(f"PPO quadruped / PPO Ant-v5 best ({best_name}) = {ratio:.2f}  (target >= 3)")
    return ratio


if __name__ == "__main__":
    num_envs = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    env_vs_raw(num_envs, seconds)
    ppo_vs_ant(num_envs, steps=int(200_000 * seconds / 10))
