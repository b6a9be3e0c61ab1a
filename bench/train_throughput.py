"""train.py steps/s ÷ plain SB3 set up as RL-Zoo does it (same env, algo, hyperparameters), in one run.

    python bench/train_throughput.py [experiment] [steps] [repeats]     (default: hopper_ppo 20000 3)

Both sides train without evaluation (how long evaluation takes depends on how long each policy survives
its eval episodes, not on the trainer) and without a progress bar, each in a fresh process; runs alternate
and the medians are compared. train.py keeps its TensorBoard logging and its callbacks. Target ≥ 0.95.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common.cli import positive  # noqa: E402

EXPERIMENTS = sorted(p.stem for p in (REPO / "configs" / "experiment").glob("*.yaml"))


def plain_sb3(experiment: str, steps: int, seed: int) -> float:
    """Steps/s of learn() with SB3 alone, configured from the same preset the way rl-zoo3 does."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    from agents import algos
    from agents.config import register

    register()
    with initialize_config_dir(str(REPO / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=[f"+experiment={experiment}"])
    hyper = OmegaConf.to_container(cfg.algo.hyperparams)
    env = make_vec_env(cfg.env.id, n_envs=cfg.num_envs, seed=seed)
    if cfg.algo.normalize:
        gamma = hyper.get("gamma", 0.99)
        env = VecNormalize(env, gamma=gamma)
    cls = algos.ALGOS[cfg.algo.name]
    model = cls(
        "MlpPolicy",
        env,
        seed=seed,
        verbose=0,
        policy_kwargs=algos.policy_kwargs(OmegaConf.to_object(cfg.algo)),
        **hyper,
    )
    t0 = time.perf_counter()
    model.learn(steps)
    return model.num_timesteps / (time.perf_counter() - t0)


def locoforge(experiment: str, steps: int, seed: int) -> float:
    """Steps/s of train.py's learn() as recorded in run.json."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "train.py", f"+experiment={experiment}", f"total_timesteps={steps}", f"seed={seed}",
                        "eval_every=0", "checkpoint_every=0", "progress=false",
                        f"hydra.run.dir={tmp}/run"], cwd=REPO, check=True, capture_output=True)  # fmt: skip
        return json.loads((Path(tmp) / "run" / "run.json").read_text())["steps_per_second"]


def plain_sb3_cold(experiment: str, steps: int, seed: int) -> float:
    """plain_sb3 in a fresh process, as train.py runs: both sides pay the same start-up costs."""
    out = subprocess.run([sys.executable, __file__, "--plain", experiment, str(steps), str(seed)], cwd=REPO, check=True,
                         capture_output=True, text=True)  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if sys.argv[1:2] == ["--plain"]:
        print(plain_sb3(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiment", nargs="?", default="hopper_ppo", choices=EXPERIMENTS,
                        metavar="experiment", help=f"one of {', '.join(EXPERIMENTS)}")  # fmt: skip
    parser.add_argument("steps", nargs="?", type=positive(int), default=20_000)
    parser.add_argument("repeats", nargs="?", type=positive(int), default=3)
    args = parser.parse_args()
    experiment, steps, repeats = args.experiment, args.steps, args.repeats
    ours, theirs = [], []
    for i in range(repeats):
        ours.append(locoforge(experiment, steps, seed=i))
        theirs.append(plain_sb3_cold(experiment, steps, seed=i))
        print(f"repeat {i}: train.py {ours[-1]:.0f} steps/s, plain SB3 {theirs[-1]:.0f} steps/s")
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(f"{experiment}, {steps} steps: train.py / plain SB3 (RL-Zoo setup) = {ratio:.3f}  (target >= 0.95)")


if __name__ == "__main__":
    main()
