"""Training speed against the peers, on the same task and the same cores, in one run.

    python bench/train_peers.py [steps] [--walk]          (default: 300000 steps per side)

1. train.py's trainer (batched env, agents/ppo.py) ÷ plain SB3 PPO on the same task through its Gymnasium id
   `LocoForge/QuadrupedFlat-v0`, the best of DummyVecEnv and SubprocVecEnv, same hyperparameters and samples per
   update (MultiInputPolicy: a plain user's policy reads the whole Dict observation). Target ≥ 5×.
2. rsl_rl's PPO (`pip install rsl-rl-lib`, the legged-robot community's learner) on our batched env through
   the thin adapter below: same network, rollout length and minibatches, rsl_rl's own adaptive learning rate.
   Its steps/s against ours says whether the learner or the env is our limit. With --walk it trains until
   the walking check passes (checked every 1M steps, bench/quadruped_walk.py's check) or 3x our budget.
Benchmarks only: training stays on SB3.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch as th

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common.cli import positive, script  # noqa: E402
from tests.conftest import compose_train  # noqa: E402

TASK = "LocoForge/QuadrupedFlat-v0"


def ours(steps: int) -> float:
    """Steps/s of train.py's own setup (no evaluation, checkpoints or walking check: learner and env only)."""
    from omegaconf import OmegaConf

    from agents import algos
    from agents.trainer import _normalize, make_env

    cfg = compose_train("eval_every=0", "checkpoint_every=0", "progress=false")
    env = _normalize(cfg, make_env(cfg, cfg.num_envs, cfg.seed), training=True)
    model = algos.make_model(OmegaConf.to_object(cfg.algo), env, cfg.seed, "cpu", None)
    model.learn(cfg.num_envs * cfg.algo.hyperparams.n_steps)  # warm-up: one rollout and update
    t0, start = time.perf_counter(), model.num_timesteps
    model.learn(steps, reset_num_timesteps=False)
    return (model.num_timesteps - start) / (time.perf_counter() - t0)


def plain_sb3(steps: int) -> tuple[float, str]:
    """Best steps/s of SB3's PPO over gym.make(TASK) in DummyVecEnv / SubprocVecEnv of several sizes."""
    from omegaconf import OmegaConf
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

    import envs  # noqa: F401  (registers the Gymnasium ids)
    from agents import algos

    cfg = compose_train()
    best, name = 0.0, ""
    for cls, n in ((DummyVecEnv, 8), (DummyVecEnv, 32), (SubprocVecEnv, os.cpu_count() or 2)):
        hyper = OmegaConf.to_container(cfg.algo.hyperparams)
        hyper["n_steps"] = hyper["n_steps"] * cfg.num_envs // n  # the same samples per update
        kwargs = {"start_method": "fork"} if cls is SubprocVecEnv else None  # workers inherit the registered ids
        env = VecNormalize(
            make_vec_env(TASK, n_envs=n, seed=0, vec_env_cls=cls, vec_env_kwargs=kwargs), gamma=hyper["gamma"]
        )
        model = PPO("MultiInputPolicy", env, seed=0, policy_kwargs=algos.policy_kwargs(OmegaConf.to_object(cfg.algo)),
                    **hyper)  # fmt: skip
        model.learn(hyper["n_steps"] * n)
        t0, start = time.perf_counter(), model.num_timesteps
        model.learn(steps // 3, reset_num_timesteps=False)
        rate = (model.num_timesteps - start) / (time.perf_counter() - t0)
        env.close()
        print(f"  plain SB3 PPO, {cls.__name__} x{n}: {rate:,.0f} steps/s", flush=True)
        if rate > best:
            best, name = rate, f"{cls.__name__} x{n}"
    return best, name


class RslRlAdapter:
    """Our batched task as rsl_rl's VecEnv: TensorDict observations (policy, critic), time-outs in extras."""

    def __init__(self, task) -> None:
        self.task = task
        self.num_envs, self.num_actions = task.num_envs, task.scene.num_joints
        self.max_episode_length = task.max_episode_steps
        self.episode_length_buf = th.zeros(self.num_envs, dtype=th.long)
        self.device, self.cfg = "cpu", {}
        self._obs = self._tensors(task.reset())

    def _tensors(self, obs):
        from tensordict import TensorDict

        return TensorDict({k: th.as_tensor(v, dtype=th.float32) for k, v in obs.items()}, batch_size=[self.num_envs])

    def get_observations(self):
        return self._obs

    def step(self, actions: th.Tensor):
        result = self.task.step(actions.numpy())
        self._obs = self._tensors(result.obs)
        self.episode_length_buf = th.as_tensor(self.task.episode_step)
        dones = th.as_tensor(result.terminated | result.truncated, dtype=th.long)
        extras = {"time_outs": th.as_tensor(result.truncated & ~result.terminated)}
        return self._obs, th.as_tensor(result.reward, dtype=th.float32), dones, extras


def rsl_rl(steps: int, walk: bool, budget: int) -> float | None:
    """rsl_rl's OnPolicyRunner on our env: steps/s, and with `walk` the steps until the walking check passes."""
    try:
        from rsl_rl.runners import OnPolicyRunner
    except ImportError:
        print("rsl_rl: skipped (pip install rsl-rl-lib)")
        return None
    from omegaconf import OmegaConf

    from envs import task_config
    from envs.task import LocomotionTask
    from envs.tracking import track_velocity

    cfg = compose_train()
    hyper, kwargs = cfg.algo.hyperparams, OmegaConf.to_container(cfg.algo.policy_kwargs)
    env = RslRlAdapter(LocomotionTask(task_config(cfg), num_envs=cfg.num_envs, seed=0))
    model = {"class_name": "MLPModel", "activation": "elu", "obs_normalization": True}
    train_cfg = {
        "num_steps_per_env": hyper.n_steps, "save_interval": 10**9, "obs_groups": {"actor": ["policy"], "critic": ["critic"]},
        "algorithm": {"class_name": "PPO", "num_learning_epochs": hyper.n_epochs,
                      "num_mini_batches": cfg.num_envs * hyper.n_steps // hyper.batch_size, "clip_param": hyper.clip_range,
                      "gamma": hyper.gamma, "lam": hyper.gae_lambda, "entropy_coef": hyper.ent_coef,
                      "learning_rate": 1e-3, "schedule": "adaptive", "desired_kl": 0.01, "max_grad_norm": hyper.max_grad_norm},
        "actor": {**model, "hidden_dims": kwargs["net_arch"]["pi"],
                  "distribution_cfg": {"class_name": "GaussianDistribution", "init_std": float(np.exp(kwargs["log_std_init"]))}},
        "critic": {**model, "hidden_dims": kwargs["net_arch"]["vf"]},
    }  # fmt: skip
    runner = OnPolicyRunner(env, train_cfg, log_dir=None, device="cpu")
    per_iter = cfg.num_envs * hyper.n_steps
    runner.learn(1)  # warm-up
    t0 = time.perf_counter()
    runner.learn(max(1, steps // per_iter))
    rate = max(1, steps // per_iter) * per_iter / (time.perf_counter() - t0)
    print(f"  rsl_rl PPO on the batched env: {rate:,.0f} steps/s", flush=True)
    if walk:
        actor = runner.alg.get_policy()

        class Policy:
            obs_dim = env.task.obs_manager.dim

            def __call__(self, obs: np.ndarray) -> np.ndarray:
                from tensordict import TensorDict

                with th.inference_mode():
                    td = TensorDict({"policy": th.as_tensor(obs, dtype=th.float32)}, batch_size=[len(obs)])
                    return actor(td).numpy()

        t_start, done = time.perf_counter(), 0
        while done < budget:
            runner.learn(1_000_000 // per_iter)
            done += (1_000_000 // per_iter) * per_iter
            result = track_velocity(Policy(), task_config(cfg))
            print(
                f"  rsl_rl {done:,} steps, {time.perf_counter() - t_start:.0f} s training: {result.line()}", flush=True
            )
            if result.walks:
                break
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("steps", type=positive(int), nargs="?", default=300_000)
    parser.add_argument("--walk", action="store_true", help="rsl_rl: train until it walks (or 3x train.py's budget)")
    args = parser.parse_args()
    mine = ours(args.steps)
    print(f"train.py's trainer: {mine:,.0f} steps/s", flush=True)
    plain, name = plain_sb3(args.steps)
    print(f"train.py / plain SB3 PPO ({name}) = {mine / plain:.1f}x  (target >= 5)")
    rate = rsl_rl(args.steps, args.walk, 3 * compose_train().total_timesteps)
    if rate is not None:
        print(f"train.py / rsl_rl PPO on the same env = {mine / rate:.2f}x")


if __name__ == "__main__":
    script(main)
