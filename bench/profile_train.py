"""Where each second of a default training goes: physics, the task's NumPy terms, the normalizer, policy
inference during rollouts, the rollout buffer (and GAE), the PPO update, and the rest (callbacks, SB3 glue).

    python bench/profile_train.py [steps_per_config] [num_envs ...]     (default: 300000 steps at 256 and 512)
    python bench/profile_train.py 200000 256 --override env=quadruped_rough     (any train.py override, repeatable)

Each part is timed by wrapping the one function that does it, in one run of train.py's own setup (config
composed as train.py composes it, evaluation and checkpoints off); shares are of the learn() wall time.
"""

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.cli import positive  # noqa: E402

SPENT: dict[str, float] = defaultdict(float)
WRAPPED: list[tuple[object, str, object]] = []


def timed(cls: type, name: str, part: str) -> None:
    """Wrap the method `name` where cls's MRO defines it, adding its wall time to SPENT[part] (once per class)."""
    owner = next(c for c in cls.__mro__ if name in c.__dict__)
    if any(o is owner and n == name for o, n, _ in WRAPPED):
        return
    inner = owner.__dict__[name]
    WRAPPED.append((owner, name, inner))

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            SPENT[part] += time.perf_counter() - t0

    setattr(owner, name, wrapper)


def profile(num_envs: int, steps: int, overrides: tuple[str, ...] = ()) -> dict[str, float]:
    import torch as th
    from omegaconf import OmegaConf
    from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer
    from stable_baselines3.common.vec_env import VecNormalize

    from agents import algos
    from agents.trainer import _normalize, make_env
    from envs.simulation import Simulation
    from envs.task import LocomotionTask
    from tests.conftest import compose_train

    cfg = compose_train(*overrides, f"num_envs={num_envs}", "eval_every=0", "checkpoint_every=0", "progress=false")
    th.set_num_threads(th.get_num_threads() or 1)
    env = _normalize(cfg, make_env(cfg, cfg.num_envs, cfg.seed), training=True)
    model = algos.make_model(OmegaConf.to_object(cfg.algo), env, cfg.seed, "cpu", None)
    SPENT.clear()
    timed(Simulation, "step", "physics")
    timed(LocomotionTask, "step", "env_total")
    timed(VecNormalize, "step_wait", "normalizer_total")
    timed(type(model.policy), "forward", "policy_inference")
    for buffer in (RolloutBuffer, DictRolloutBuffer):
        timed(buffer, "add", "rollout_buffer")
        timed(buffer, "compute_returns_and_advantage", "rollout_buffer")
    timed(type(model), "train", "ppo_update")
    t0 = time.perf_counter()
    model.learn(steps)
    wall = time.perf_counter() - t0
    for owner, name, inner in reversed(WRAPPED):  # the next configuration wraps the originals again
        setattr(owner, name, inner)
    WRAPPED.clear()
    parts = {
        "physics (mujoco.batch rollout)": SPENT["physics"],
        "task NumPy (terms, resets, obs)": SPENT["env_total"] - SPENT["physics"],
        "VecNormalize + VecMonitor": SPENT["normalizer_total"] - SPENT["env_total"],
        "policy inference in rollouts": SPENT["policy_inference"],
        "rollout buffer + GAE": SPENT["rollout_buffer"],
        "PPO update": SPENT["ppo_update"],
    }
    parts["rest (SB3 rollout loop, tensors, callbacks)"] = wall - sum(parts.values())
    print(f"\n{num_envs} envs, {model.num_timesteps:,} steps in {wall:.1f} s = {model.num_timesteps / wall:,.0f} steps/s "
          f"(env alone: {model.num_timesteps / SPENT['env_total']:,.0f} steps/s)")  # fmt: skip
    for name, seconds in parts.items():
        print(f"  {name:44} {seconds:7.2f} s  {seconds / wall:6.1%}")
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("steps", nargs="?", type=positive(int), default=300_000, help="per configuration")
    parser.add_argument("num_envs", nargs="*", type=positive(int), default=[256, 512])
    parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                        help="a train.py override (e.g. env=quadruped_rough); repeatable")
    args = parser.parse_args()
    for num_envs in args.num_envs:
        profile(num_envs, args.steps, tuple(args.override))


if __name__ == "__main__":
    main()
