"""The house's rules, read from the import graph: data flows config -> env -> agent -> run dir -> report -> bundle."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

ROOMS = ("common", "configs", "envs", "agents", "sim", "onboard")


def imports(path: Path) -> set[str]:
    """Top-level names of every module a file imports, anywhere in it (lazy imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def files(room: str) -> list[Path]:
    return sorted((REPO / room).rglob("*.py"))


@pytest.mark.parametrize("room,forbidden", [
    ("common", {"envs", "agents", "sim", "onboard"}),
    ("envs", {"agents", "sim", "onboard"}),
    ("agents", {"sim", "onboard"}),
])  # fmt: skip
def test_a_room_never_imports_the_rooms_above_it(room, forbidden):
    bad = {str(p.relative_to(REPO)): sorted(imports(p) & forbidden) for p in files(room) if imports(p) & forbidden}
    assert not bad


def test_validation_and_export_reach_training_through_one_policy_loader():
    users = sorted(
        str(p.relative_to(REPO)) for room in ("sim", "onboard") for p in files(room) if "agents" in imports(p)
    )
    assert users == ["sim/policy.py"]


def test_the_bundle_runtime_needs_numpy_and_the_standard_library_only():
    allowed = {"runtime.py": set(), "robot_io.py": {"runtime"}, "robot_loop.py": {"runtime", "robot_io"},
               "bundle_files/bench_onboard.py": {"onnxruntime", "runtime"}}  # fmt: skip
    for name, extra in allowed.items():  # `runtime`, `robot_io`: the bundle's own files beside the file
        outside = imports(REPO / "onboard" / name) - set(sys.stdlib_module_names) - {"numpy", "__future__"}
        assert outside <= extra, (name, outside)


def test_root_scripts_only_call_into_their_package():
    for script, package in (
        ("train.py", "agents"),
        ("validate.py", "sim"),
        ("export.py", "onboard"),
        ("play.py", "sim"),
    ):
        assert imports(REPO / script) == {package}, script
        assert len((REPO / script).read_text().splitlines()) <= 10


def test_no_module_is_a_tower():
    long = {str(p.relative_to(REPO)): n for room in ROOMS for p in files(room)
            if (n := len(p.read_text().splitlines())) > 350}  # fmt: skip
    assert not long


def test_every_artifact_implements_exactly_the_activations_training_offers():
    from agents.algos import ACTIVATIONS as TRAINING
    from common.activations import TORCH_CLASSES
    from onboard import codegen, extract, onnx_graph, runtime

    names = set(TORCH_CLASSES)
    assert set(TRAINING) == names and set(extract.ACTIVATION_NAMES.values()) == names
    for table in (runtime.ACTIVATIONS, onnx_graph.ACTIVATIONS, codegen._C_ACT):
        assert set(table) == names | {"identity"}


@pytest.mark.parametrize("key", ["hydra.run.dir", "out", "hydra.sweep.dir"])
def test_an_output_directory_named_by_a_file_is_refused_before_hydra_runs(tmp_path, capsys, key):
    from common.cli import refuse_file_outputs

    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    with pytest.raises(SystemExit) as exit_:
        refuse_file_outputs(["seed=1", f"{key}={a_file}"])
    assert exit_.value.code == 2 and a_file.read_text() == "keep me"
    assert capsys.readouterr().err == f"error: {key}: '{a_file}' is a file; give a directory\n"
    refuse_file_outputs([f"{key}={tmp_path}", f"{key}={tmp_path / 'new'}"])  # directories and new paths pass
