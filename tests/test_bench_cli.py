"""Every bench script answers bad input with one line and exit 2 (argparse's usage error, or `error: ...` for a
policy or bundle that is not one), not a traceback."""

from __future__ import annotations

import runpy
import sys

import pytest

from tests.conftest import REPO

CASES = [
    ("env_throughput.py", ["0"], "argument num_envs: 0: must be > 0"),
    ("env_throughput.py", ["256", "ten"], "argument seconds: 'ten' is not a number"),
    ("profile_train.py", ["3e5x"], "argument steps: '3e5x' is not an integer"),
    ("train_throughput.py", ["hopper"], "argument experiment: invalid choice: 'hopper'"),
    ("quadruped_walk.py", [], "the following arguments are required: policy"),
    ("quadruped_walk.py", ["{tmp}"], "error: policy: '{tmp}' is neither a run directory"),
    ("biped_walk.py", ["{tmp}", "abc"], "argument episodes: 'abc' is not an integer"),
    ("onboard_latency.py", ["{tmp}"], "error: bundle: '{tmp}' has no manifest.json"),
    ("terrain_walk.py", ["{tmp}", "--episodes", "-4"], "argument --episodes: -4: must be > 0"),
    ("time_to_walk.py", ["--seeds", "0,one"], "argument --seeds: '0,one' is not a comma-separated list of integers"),
    ("train_peers.py", ["0"], "argument steps: 0: must be > 0"),
]


@pytest.mark.parametrize(("script", "argv", "message"), CASES, ids=[f"{c[0]}:{' '.join(c[1])}" for c in CASES])
def test_bench_bad_input_is_one_line(script, argv, message, tmp_path, monkeypatch, capsys):
    argv = [a.format(tmp=tmp_path) for a in argv]
    monkeypatch.setattr(sys, "argv", [script, *argv])
    monkeypatch.setattr(sys, "path", list(sys.path))  # the scripts put their folders first
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(REPO / "bench" / script), run_name="__main__")
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2
    assert message.format(tmp=tmp_path) in err[-1]
    assert [line for line in err if "error" in line] == err[-1:]  # argparse's usage lines, then the one error line
    assert not any("Traceback" in line for line in err)
