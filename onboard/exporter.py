"""`export(cfg, out)`: a run becomes a bundle. Observations from whole rollout episodes feed int8 calibration and,
from other episodes, parity; the bundle is written (onboard.writer), then accepted (onboard.acceptance).

The bundle is assembled in a temporary directory beside `out` and renamed into place only when complete.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.io import DISK_FULL, is_run_dir, load_run_config, write_json
from common.lock import pid_alive
from envs import task_config
from envs.task import LocomotionTask
from onboard import acceptance, writer
from onboard.extract import from_model
from onboard.runtime import INCOMPLETE

CALIBRATION_SAMPLES = 2048
TMP_PREFIX = ".export-"


@dataclass
class DeviceProfile:
    """A target computer: its control loop, the share of it inference may take, and the host slowdown."""

    name: str = "host"
    description: str = ""
    control_rate_hz: float = 50.0
    budget_share: float = 0.25
    """Share of the control period inference may take (the rest is sensing, estimation, comms)."""
    slowdown: float = 1.0
    """Estimated device latency = host latency x slowdown (an estimate until bench_onboard.py runs there)."""
    slowdown_source: str = ""

    @property
    def budget_us(self) -> float:
        return 1e6 / self.control_rate_hz * self.budget_share


@dataclass
class ExportConfig:
    """`python export.py policy=<run_dir> device=<profile> [out=<dir>] [full=true]`."""

    policy: str | None = None
    device: DeviceProfile = field(default_factory=DeviceProfile)
    out: str | None = None
    """Bundle directory (must not exist); default: bundle/ inside the Hydra run dir."""
    full: bool = False
    """Closed-loop check on the robustness suite too (nominal always)."""
    parity_samples: int = 10_000
    latency_calls: int = 10_000
    closed_loop_episodes: int = 20
    seed: int = 0


def register() -> None:
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="export_schema", node=ExportConfig)


def collect_observations(
    policy: Any, parity_samples: int, seed: int, num_envs: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Raw policy observations from whole episodes of the policy in its training env (randomization on):
    (calibration, parity), drawn from disjoint environments so that parity never sees calibration data."""
    from envs.rollout import rollout

    calib_envs = num_envs // 4
    cfg = task_config(policy.cfg)
    task = LocomotionTask(cfg, num_envs=num_envs, seed=seed)
    # at least one whole episode, and enough rows for both sets
    steps = max(
        task.max_episode_steps, -(-parity_samples // (num_envs - calib_envs)), -(-CALIBRATION_SAMPLES // calib_envs)
    )
    frames = np.stack([step.obs for step in rollout(policy, task, steps)])  # (steps, num_envs, obs_dim)
    rng = np.random.default_rng(seed)
    calib = frames[:, :calib_envs].reshape(-1, frames.shape[-1])
    rest = frames[:, calib_envs:].reshape(-1, frames.shape[-1])
    calib = calib[rng.choice(len(calib), size=CALIBRATION_SAMPLES, replace=False)]
    rest = rest[rng.choice(len(rest), size=parity_samples, replace=False)]
    return calib.astype(np.float32), rest.astype(np.float32)


def check(cfg: ExportConfig, out: Path) -> Path:
    """Refuse bad input before anything is written; return the run directory."""
    if cfg.policy is None:
        raise ValueError("policy: missing; give policy=<run_dir> from train.py")
    run_dir = Path(cfg.policy)
    if not is_run_dir(run_dir):
        raise ValueError(f"policy: '{run_dir}' is not a run directory (needs run.json and config.yaml from train.py)")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(
            f"out: '{out}' exists and is not an empty directory; export never overwrites, choose another out="
        )
    if cfg.parity_samples < 10_000 or cfg.latency_calls < 10_000:
        raise ValueError("parity_samples and latency_calls: at least 10000 each")
    if cfg.closed_loop_episodes < 1:
        raise ValueError(f"closed_loop_episodes: must be >= 1, got {cfg.closed_loop_episodes}")
    if cfg.device.control_rate_hz <= 0 or not 0 < cfg.device.budget_share <= 1 or cfg.device.slowdown <= 0:
        raise ValueError("device: control_rate_hz > 0, 0 < budget_share <= 1 and slowdown > 0 are required")
    if load_run_config(run_dir).env.kind != "locoforge":
        raise ValueError(
            "policy: only LocoForge robot tasks export to a robot bundle (this run trained a Gymnasium benchmark)"
        )
    return run_dir


def export(cfg: ExportConfig, out: Path) -> dict[str, Any]:
    """Write the bundle to `out`; return the manifest. Raises ValueError on bad input before writing."""
    from sim.policy import SB3Policy

    run_dir = check(cfg, out)
    policy = SB3Policy(run_dir)
    calibration, observations = collect_observations(policy, cfg.parity_samples, cfg.seed)
    mlp = from_model(policy.model, Path(policy.source["model"]).parent / "vecnormalize.pkl")
    reference = policy(observations)
    run = json.loads((run_dir / "run.json").read_text())
    manifest = writer.manifest_body(policy.cfg, mlp, run, asdict(cfg.device))
    remove_stale_temporaries(out)
    tmp = out.parent / f"{TMP_PREFIX}{out.name}.{os.getpid()}"
    try:
        tmp.mkdir(parents=True)
        (tmp / INCOMPLETE).write_text(
            "export.py is assembling this bundle; the runtime refuses it until it is renamed\n"
        )
        q = writer.write_artifacts(tmp, mlp, calibration, (run_dir / "config.yaml").read_text(), manifest)
        writer.seal(tmp, manifest)  # the runtime checks hashes: parity and latency read the bundle
        write_json(tmp / "parity.json", acceptance.parity(tmp, mlp, observations, reference, q))
        lat = acceptance.measure_latency(tmp, observations, cfg.latency_calls, cfg.device)
        write_json(tmp / "latency.json", lat)
        print(acceptance.verdict_table(lat))
        suites = ["nominal", "robustness"] if cfg.full else ["nominal"]
        loop = acceptance.closed_loop(tmp, lat, suites, cfg.closed_loop_episodes, cfg.seed)
        manifest["closed_loop"] = loop
        manifest["rejected"] = [n for n, r in loop.items() if not r["accepted"]]
        manifest["latency_verdicts"] = {n: a["verdict"] for n, a in lat["artifacts"].items()}
        writer.seal(tmp, manifest)
        (tmp / INCOMPLETE).unlink()
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if err.errno in DISK_FULL:
            raise ValueError(f"out: cannot write the bundle beside '{out}': {os.strerror(err.errno)} "
                             f"({err.filename}); free space or choose another out=") from None  # fmt: skip
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def remove_stale_temporaries(out: Path) -> None:
    """Remove bundles-in-assembly beside `out` (for any out= name) whose export process is gone (killed, say)."""
    for stale in out.parent.glob(f"{TMP_PREFIX}*.*"):
        pid = stale.name.rsplit(".", 1)[-1]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


__all__ = ["DeviceProfile", "ExportConfig", "collect_observations", "export", "register"]
