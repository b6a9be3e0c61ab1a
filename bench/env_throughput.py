"""The batched quadruped and biped envs against raw physics and against the fastest pip-installable peer.

    python bench/env_throughput.py [num_envs] [seconds]      (default: 256 envs, 10 s per measurement)

1. env steps/s × decimation ÷ raw `mujoco.batch` physics steps/s: same compiled model, decimation and
   threads, the same distribution of actions. Targets ≥ 0.9 (quadruped), ≥ 0.85 (biped, issue 12), ≥ 0.8
   (quadruped on mixed terrain with the critic's height scan, issue 13; its cost per step is printed too).
2. env policy steps/s ÷ EnvPool's `Go1JoystickFlatTerrain-v1` (MuJoCo Playground's task in C++): same
   number of envs and threads, 50 Hz policies. Target ≥ 2.0. Measurements alternate; medians compared.
Training-side comparisons (plain SB3, rsl_rl) are in bench/train_peers.py.
"""

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.cli import positive  # noqa: E402


def timed(fn, seconds: float) -> float:
    """Calls of fn per second over about `seconds`, after one warm-up call."""
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


def env_vs_raw(num_envs: int, seconds: float, env_id: str = "LocoForge/QuadrupedFlat-v0", target: float = 0.9,
               warmup_steps: int = 300) -> float:
    """Both sides timed in steady state: the env first runs `warmup_steps` policy steps of random actions (every
    robot falls about at once after a reset, a burst of contacts and resets training meets once, not every step),
    and each raw batch starts from the env's states then and runs as many steps before its timing."""
    import mujoco
    from mujoco.batch import MODEL_FIELDS, Batch

    import envs

    venv = envs.make_vec(env_id, num_envs=num_envs, seed=0)
    task = venv.task
    rng = np.random.default_rng(0)
    venv.reset()
    nj = task.scene.num_joints
    for _ in range(warmup_steps):
        venv.step(np.clip(rng.normal(0, 0.3, (num_envs, nj)), -1, 1))

    ended = [0, 0]  # episodes ended (each costs a reset: randomization, set_const, new pose), env steps
    # the env's own mujoco.batch calls, timed: the physics of exactly the states the env steps (raw physics
    # below steps robots that fell once and never reset, a different workload)
    spent = {"physics": 0.0, "env": 0.0}
    rollout = task.batch.rollout

    def timed_rollout(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return rollout(*args, **kwargs)
        finally:
            spent["physics"] += time.perf_counter() - t0

    task.batch.rollout = timed_rollout

    def env_step() -> None:
        t0 = time.perf_counter()
        dones = venv.step(np.clip(rng.normal(0, 0.3, (num_envs, nj)), -1, 1))[2]
        spent["env"] += time.perf_counter() - t0
        ended[0] += int(dones.sum())
        ended[1] += num_envs

    sc = task.scene

    def raw_batch(randomized: bool) -> Batch:
        """A plain batch of the task's model; with randomized, each simulation gets the env's own randomized model
        fields (friction, mass, CoM, gains: every field the env expanded) and their derived constants."""
        raw = Batch(task.model, num_envs, task.batch.nthread, persistent=True)
        if randomized:
            for name in sorted(MODEL_FIELDS):
                values = task.batch.expanded(name)
                if values is not None:
                    raw.expand(name)[:] = values
            raw.set_const()
        raw.qpos[:] = task.qpos
        raw.ctrl[:] = task.ctrl
        raw.forward()
        return raw

    def raw_step(raw: Batch) -> Callable[[], None]:
        def step() -> None:
            raw.ctrl[:] = sc.default_joint_pos + sc.robot.action_scale * np.clip(rng.normal(0, 0.3, (num_envs, nj)), -1, 1)
            raw.step(nstep=task.decimation, stage=mujoco.mjtStage.mjSTAGE_NONE)

        return step

    nominal, randomized = raw_step(raw_batch(False)), raw_step(raw_batch(True))
    for _ in range(warmup_steps):
        nominal()
        randomized()
    # alternate the three, three times each, and compare medians: no side gets the warm or the cold machine
    env_rates, raw_rates, randomized_rates = [], [], []
    for _ in range(3):
        env_rates.append(timed(env_step, seconds / 3) * num_envs)
        raw_rates.append(timed(nominal, seconds / 3) * num_envs * task.decimation)
        randomized_rates.append(timed(randomized, seconds / 3) * num_envs * task.decimation)
    env_rate, physics_rate = float(np.median(env_rates)), float(np.median(raw_rates))
    ratio = env_rate * task.decimation / physics_rate
    print(
        f"{env_id}: threads {task.batch.nthread}, decimation {task.decimation}, {num_envs} envs: env {env_rate:,.0f} "
        f"policy steps/s ({env_rate * task.decimation:,.0f} physics steps/s), raw mujoco.batch {physics_rate:,.0f} physics steps/s"
    )
    print(f"env / raw physics = {ratio:.3f}  (target >= {target}); random actions end {100 * ended[0] / ended[1]:.2f} % "
          f"of env steps in a fall and a reset, which raw physics never pays")  # fmt: skip
    randomized_rate = float(np.median(randomized_rates))
    print(f"raw physics on the env's randomized models (per-environment fields and set_const, as the env steps them): "
          f"{randomized_rate:,.0f} physics steps/s, {randomized_rate / physics_rate:.3f} x the nominal model's; "
          f"env / it = {env_rate * task.decimation / randomized_rate:.3f}")  # fmt: skip
    print(f"env / its own physics (the same states through the same mujoco.batch) = "
          f"{spent['physics'] / spent['env']:.3f}: the rest is the task's NumPy, resets and randomization")  # fmt: skip
    return ratio


def height_scan_cost(num_envs: int, seconds: float) -> float:
    """Milliseconds per policy step of the critic's height scan on the rough env (all envs at once)."""
    import envs
    from envs.mdp.observations import height_scan

    venv = envs.make_vec("LocoForge/QuadrupedRough-v0", num_envs=num_envs, seed=0)
    venv.reset()
    task = venv.task
    params = task.cfg.critic_observations["height_scan"].params
    state = task._state(*task.sim.rows(), terminated=np.zeros(num_envs, dtype=bool))
    per_call = 1.0 / timed(lambda: height_scan(state, **params), seconds)
    points = height_scan(state, **params).shape[1]
    print(f"height scan: {num_envs} envs x {points} points, {per_call * 1e3:.2f} ms per policy step")
    return per_call * 1e3


def env_vs_envpool(num_envs: int, seconds: float) -> float | None:
    """Policy steps/s of the quadruped env ÷ EnvPool's C++ port of MuJoCo Playground's Go1 joystick task (the
    fastest CPU locomotion env a user can pip-install): same envs, same threads, random actions, 50 Hz policy.
    Playground's Go1 steps its physics at 4 ms (5 substeps), ours at 5 ms (4 substeps): each side as shipped."""
    try:
        import envpool
    except ImportError:
        print("env / EnvPool Go1: skipped (pip install envpool)")
        return None
    import envs

    nthread = os.cpu_count() or 1
    venv = envs.make_vec("LocoForge/QuadrupedFlat-v0", num_envs=num_envs, seed=0, nthread=nthread)
    pool = envpool.make("Go1JoystickFlatTerrain-v1", env_type="gymnasium", num_envs=num_envs, batch_size=num_envs,
                        num_threads=nthread, seed=0)  # fmt: skip
    venv.reset()
    pool.reset()
    rng = np.random.default_rng(0)

    def actions() -> np.ndarray:
        return np.clip(rng.normal(0, 0.3, (num_envs, 12)), -1, 1)

    ours, theirs = [], []
    for _ in range(3):
        ours.append(timed(lambda: venv.step(actions()), seconds / 3) * num_envs)
        theirs.append(timed(lambda: pool.step(actions()), seconds / 3) * num_envs)
    ratio = float(np.median(ours) / np.median(theirs))
    print(f"{num_envs} envs, {nthread} threads: LocoForge quadruped {np.median(ours):,.0f} policy steps/s, "
          f"EnvPool Go1JoystickFlatTerrain-v1 {np.median(theirs):,.0f}")  # fmt: skip
    print(f"env / EnvPool Playground Go1 = {ratio:.2f}  (target >= 2.0)")
    pool.close()
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("num_envs", nargs="?", type=positive(int), default=256)
    parser.add_argument("seconds", nargs="?", type=positive(float), default=10.0, help="per measurement")
    args = parser.parse_args()
    num_envs, seconds = args.num_envs, args.seconds
    env_vs_raw(num_envs, seconds)
    env_vs_raw(num_envs, seconds, "LocoForge/BipedFlat-v0", target=0.85)
    env_vs_raw(num_envs, seconds, "LocoForge/QuadrupedRough-v0", target=0.8)
    height_scan_cost(num_envs, seconds / 3)
    env_vs_envpool(num_envs, seconds)


if __name__ == "__main__":
    main()
