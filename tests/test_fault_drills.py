"""Fault drills on the real command line (slow): a kill -9 at a random moment, two writers, a file-size limit.
Each must leave the previous good state, or a state the next run cleans up and that no loader accepts."""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, run_script, train_in_process

pytestmark = pytest.mark.slow
TINY = ("total_timesteps=1024", "num_envs=32", "algo.hyperparams.batch_size=256", "eval_every=0", "checkpoint_every=0")


def start(script: str, *args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, script, *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, env=env, **popen)  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return train_in_process(tmp_path_factory.mktemp("drills") / "run", *TINY)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kill_during_export_leaves_nothing_a_loader_accepts(run_dir, tmp_path, seed):
    from onboard.exporter import TMP_PREFIX
    from onboard.runtime import BundleError, load_bundle

    out = tmp_path / "bundle"
    proc = start(
        "export.py", f"policy={run_dir}", f"out={out}", "closed_loop_episodes=2", f"hydra.run.dir={tmp_path / 'h'}"
    )
    time.sleep(random.Random(seed).uniform(4.0, 20.0))
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for folder in tmp_path.glob(f"{TMP_PREFIX}*"):
        with pytest.raises(BundleError):
            load_bundle(folder)
    again = run_script("export.py", f"policy={run_dir}", f"out={tmp_path / 'again'}", "closed_loop_episodes=2",
                       f"hydra.run.dir={tmp_path / 'h2'}")  # fmt: skip
    assert again.returncode in (0, 1) and (tmp_path / "again" / "manifest.json").is_file(), again.stderr
    assert not [p for p in tmp_path.glob(f"{TMP_PREFIX}bundle.*")], "the next export removed the dead one's folder"
    if out.exists():  # the kill came after the rename: a whole bundle
        load_bundle(out)


def test_two_trainers_on_one_run_dir(tmp_path):
    run = tmp_path / "shared"
    args = ("env=hopper", "num_envs=1", "algo=ppo_sb3", "total_timesteps=20000", "eval_every=0", "checkpoint_every=0",
            "progress=false", f"hydra.run.dir={run}")  # fmt: skip
    first = start("train.py", *args)
    deadline = time.time() + 60
    while time.time() < deadline and not (run / "run.json").is_file():
        time.sleep(0.1)
    second = run_script("train.py", *args)
    assert second.returncode == 2 and (f"is in use by process {first.pid}" in second.stderr
                                       or "already holds a run" in second.stderr), second.stderr  # fmt: skip
    assert first.wait(timeout=300) == 0
    assert json.loads((run / "run.json").read_text())["status"] == "finished"


def test_file_size_limit_during_export_is_one_line(run_dir, tmp_path):
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    out = tmp_path / "bundle"
    proc = start("export.py", f"policy={run_dir}", f"out={out}", f"hydra.run.dir={tmp_path / 'h'}", preexec_fn=limit)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 2 and stderr.strip().startswith(
        f"error: out: cannot write the bundle beside '{out}': File too large"
    )
    assert len(stderr.strip().splitlines()) == 1 and not out.exists() and not list(tmp_path.glob(".export-*"))


@pytest.mark.parametrize("seed", [0, 1])
def test_kill_during_validation_leaves_no_report_or_a_whole_one(run_dir, tmp_path, seed):
    out = tmp_path / "report"
    proc = start(
        "validate.py", f"policy={run_dir}", "suite=full", "episodes=6", "episode_s=2.0", f"hydra.run.dir={out}"
    )
    time.sleep(random.Random(seed).uniform(3.0, 15.0))
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    if (out / "report.json").is_file():  # written last: when it is there, the report is whole
        report = json.loads((out / "report.json").read_text())
        assert len(report["scenarios"]) == 16 and (out / "report.html").is_file()
    again = run_script("validate.py", f"policy={run_dir}", "episodes=2", "episode_s=0.5", "video=false",
                       "suite.scenarios.nominal.gates=[]", f"hydra.run.dir={out}")  # fmt: skip
    assert again.returncode == 0 and json.loads((out / "report.json").read_text())["suite"] == "nominal", again.stderr
